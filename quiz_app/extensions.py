"""Unbound extension instances; create_app binds them with init_app."""

from __future__ import annotations

import redis
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData

# Stable constraint names so Alembic migrations match on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# expire_on_commit=False: a request keeps using what it committed without
# reloading every row (the answer path commits once and then renders).
db = SQLAlchemy(
    metadata=MetaData(naming_convention=NAMING),
    session_options={"expire_on_commit": False},
)
migrate = Migrate(render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)


#: REDIS_URL scheme of a Redis Cluster (the same spelling as the limits
#: library's, so RATELIMIT_STORAGE_URI may default to REDIS_URL):
#: redis+cluster://host:port[,host:port...]
CLUSTER_SCHEME = "redis+cluster://"


def connect_redis(url: str, timeout: float) -> redis.Redis:
    """A client for `url`: one server (redis://, rediss://, unix://) or a
    cluster (redis+cluster://, any reachable nodes; the rest are discovered).
    Every key of one contest shares a hash tag, so a contest's boards, Lua
    scripts and pipelines stay on one cluster node (see redis_keys)."""
    options = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 30,
        "decode_responses": True,
    }
    if url.startswith(CLUSTER_SCHEME):
        from redis.cluster import ClusterNode, RedisCluster

        hosts = url[len(CLUSTER_SCHEME) :].split("/", 1)[0]
        nodes = []
        for hostport in hosts.split(","):
            host, _, port = hostport.rpartition(":")
            nodes.append(ClusterNode(host or "127.0.0.1", int(port)))
        return RedisCluster(startup_nodes=nodes, **options)
    return redis.Redis.from_url(url, **options)


class RedisClient:
    """The app's Redis connection, created in init_app, never at import time."""

    def __init__(self) -> None:
        self._client: redis.Redis | None = None

    def init_app(self, app: Flask) -> None:
        self._client = connect_redis(
            app.config["REDIS_URL"], app.config["REDIS_SOCKET_TIMEOUT"]
        )
        app.extensions["quiz_redis"] = self

    @property
    def client(self) -> redis.Redis:
        if self._client is None:
            raise RuntimeError("Redis is not initialised; call init_app first")
        return self._client


redis_client = RedisClient()
