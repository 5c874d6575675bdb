"""Figures of a load run: Locust's stats rows, CPU seconds per process group,
and the Markdown summary written to reports/<timestamp>/summary.md.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    from stack import Stack


def rps(rows: dict, name: str) -> float:
    return float(rows.get(name, {}).get("Requests/s", 0) or 0)


class CpuMeter:
    """CPU seconds of the app, PostgreSQL, Valkey and Locust between two marks."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def sample(self) -> dict[str, float]:
        groups: dict[str, float] = defaultdict(float)
        gpids = self.stack.app_pids()
        npid = self.stack.nginx.pid if self.stack.nginx else -1
        vpids = self.stack.redis_pids()
        bpid = self.stack.pgbouncer.pid if self.stack.pgbouncer else -1
        procs = list(
            psutil.process_iter(["pid", "ppid", "name", "cpu_times", "cmdline"])
        )
        postgres_pids = {
            p.info["pid"]
            for p in procs
            if (p.info["name"] or "").startswith("postgres")
        }
        for p in procs:
            try:
                t = p.info["cpu_times"]
                cpu = t.user + t.system
                if p.info["pid"] in gpids or p.info["ppid"] in gpids:
                    groups["app"] += cpu
                elif p.info["pid"] == npid or p.info["ppid"] == npid:
                    groups["nginx"] += cpu
                elif p.info["name"].startswith("postgres") and (
                    p.info["ppid"] not in postgres_pids
                ):
                    # The postmaster: its children's CPU (reaped backends) is
                    # the only trace of a backend that exited between two
                    # samples, as pooled connections do when they overflow.
                    # It includes other databases' exited backends.
                    groups["postgres"] += t.children_user + t.children_system
                    groups["postgres"] += cpu
                elif p.info["name"].startswith("postgres"):
                    # A backend's title is "postgres: <user> <database> ...":
                    # another database's backends (a test suite, a benchmark
                    # on the same server) are not this run's; the shared
                    # background processes (WAL writer, checkpointer) are.
                    words = " ".join(p.info["cmdline"] or []).split()
                    # drop "postgres:" and a cluster name ("15/main:")
                    rest = [w for w in words[:2] if not w.endswith(":")] + words[2:]
                    backend = len(rest) >= 3 and (
                        "(" in rest[2] or rest[2] == "[local]"
                    )
                    if self.stack.db_name and backend and rest[1] != self.stack.db_name:
                        continue
                    groups["postgres"] += cpu
                elif p.info["pid"] in vpids:
                    groups["valkey"] += cpu
                elif p.info["pid"] == bpid or p.info["ppid"] == bpid:
                    groups["pgbouncer"] += cpu
            except (psutil.Error, TypeError, AttributeError):
                continue
        return groups

    def spent(
        self, before: dict[str, float], after: dict[str, float]
    ) -> dict[str, float]:
        """CPU seconds per group between two samples, plus Locust's own."""
        groups = (
            ("app",)
            + (("nginx",) if self.stack.nginx else ())
            + ("postgres",)
            + (("pgbouncer",) if self.stack.pgbouncer else ())
            + ("valkey",)
        )
        cpu = {k: after.get(k, 0) - before.get(k, 0) for k in groups}
        cpu["locust"] = self.stack.locust_cpu
        return cpu


def fmt(rows: dict, name: str) -> list[str]:
    r = rows[name]
    return [
        name,
        r["Request Count"],
        r["Failure Count"],
        f"{float(r['Requests/s']):.1f}",
        r["50%"],
        r["95%"],
        r["99%"],
    ]


def app_shape(args: argparse.Namespace) -> str:
    per = (
        f"{args.app_workers}x{args.app_threads} gthread"
        if args.worker_class == "gthread"
        else f"{args.app_workers} sync"
    )
    if args.app_instances > 1 or args.nginx:
        return f"nginx + {args.app_instances} x gunicorn {per}"
    return f"gunicorn {per}"


def scenario_summary(
    rows: dict,
    args: argparse.Namespace,
    stamp: str,
    cpu: dict[str, float],
    wall: float,
) -> list[str]:
    """The run's header line, the endpoint table and the CPU line."""
    summary: list[str] = []
    head = [
        "endpoint",
        "requests",
        "failures",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
    ]
    table = [head]
    for name, r in rows.items():
        if name in ("_exit", "Aggregated") or not isinstance(r, dict):
            continue
        table.append(fmt(rows, name))
    table.append(fmt(rows, "Aggregated"))
    summary.append(
        f"Load run {stamp}: shape={args.shape} users={args.users} "
        f"duration={args.duration}s think={args.think}s "
        f"app={app_shape(args)}, "
        f"locust workers={args.locust_workers or 'none'}, "
        f"history={args.history}"
        + (" DIAGNOSIS: synchronous_commit=off" if args.diag_async_commit else "")
    )
    summary.append("")
    summary += ["| " + " | ".join(map(str, r)) + " |" for r in table[:1]]
    summary.append("|" + "---|" * len(head))
    summary += ["| " + " | ".join(map(str, r)) + " |" for r in table[1:]]
    summary += [
        "",
        f"CPU seconds during the scenario ({wall:.0f} s wall, 2 cores): "
        + ", ".join(
            f"{k} {v:.0f} s ({v / wall * 100:.0f}% of a core)" for k, v in cpu.items()
        ),
    ]
    return summary


def probe_summary(
    probes: dict[str, float],
    args: argparse.Namespace,
    cpu: dict[str, dict[str, float]] | None = None,
) -> list[str]:
    """The saturation probes as a table, each as a ratio to /healthz, with the
    CPU ms each request (a start: the start + submit pair) cost per group."""
    ceiling = probes["/healthz"] or 1.0
    cpu = cpu or {}
    groups = next(iter(cpu.values()), {}).keys()
    summary = [
        "",
        "Saturation probes (same Locust, same run, "
        f"{args.probe_users} users, no think time; CPU ms per request, "
        "logins of the probe's users included):",
        "",
        "| endpoint | req/s | ratio to /healthz | "
        + " | ".join(f"{g} ms" for g in groups)
        + " |",
        "|---|---|---|" + "---|" * len(groups),
    ]
    for ep, v in probes.items():
        per = cpu.get(ep, {})
        cells = "".join(f" {per.get(g, 0):.2f} |" for g in groups)
        summary.append(f"| {ep} | {v:.1f} | {v / ceiling:.2f}x |{cells}")
    return summary
