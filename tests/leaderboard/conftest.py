"""Fixtures of the leaderboard tests."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest

from quiz_app.extensions import db
from quiz_app.models import Contest
from tests.conftest import NOW


@pytest.fixture
def contest(ctx, make_contest):
    c = make_contest(starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=5))
    contest = db.session.get(Contest, c.id)
    db.session.commit()  # release SQLite's write lock for fixtures with own contexts
    return contest


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A 3-master Valkey cluster (loadtest/valkey_cluster.py) for the board tests."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtest"))
    from valkey_cluster import ValkeyCluster

    cluster = ValkeyCluster(tmp_path_factory.mktemp("cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture(autouse=True, params=["server", "cluster"])
def redis_backend(request, app):
    """Every board test runs twice: on one Valkey server and on a Redis Cluster
    (the app's client swapped for a cluster client, as REDIS_URL=redis+cluster://
    would make it). The cluster run proves that a contest's keys share a slot:
    multi-key scripts, pipelines and RENAMEs fail across slots."""
    if request.param == "server":
        yield "server"
        return
    from quiz_app.extensions import connect_redis, redis_client
    from quiz_app.leaderboard import boards, rebuild
    from quiz_app.leaderboard import services as board_svc

    cluster = request.getfixturevalue("redis_cluster")
    cluster.flush()
    saved = redis_client._client
    redis_client._client = connect_redis(
        cluster.url, app.config["REDIS_SOCKET_TIMEOUT"]
    )
    boards._write_script = boards._read_script = None
    rebuild._scripts.clear()
    board_svc.reset_caches()
    try:
        yield "cluster"
    finally:
        redis_client._client.close()
        redis_client._client = saved
        boards._write_script = boards._read_script = None
        rebuild._scripts.clear()
        board_svc.reset_caches()


def pytest_collection_modifyitems(config, items):
    """Fault tests stop or freeze the single `redis_server` itself; their cluster
    variant would stop a server the cluster client never talks to, so it is
    deselected (the fault handling is the same code on both clients)."""
    keep, drop = [], []
    for item in items:
        cluster_variant = getattr(item, "callspec", None) is not None and (
            item.callspec.params.get("redis_backend") == "cluster"
        )
        asks = inspect.signature(item.function).parameters
        if cluster_variant and "redis_server" in asks:
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
