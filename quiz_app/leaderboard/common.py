"""What every part of the leaderboard shares: scopes, board values, the codec."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import redis
from redis.cluster import RedisCluster
from sqlalchemy import select

from .. import redis_keys as keys
from ..extensions import db, redis_client
from ..models import Contest, Region, User
from .ranking import KeyCodec, public_name


@dataclass(frozen=True)
class Scope:
    kind: str  # all, region, day
    region: str | None = None
    day: date | None = None


@dataclass
class Entry:
    rank: int
    name: str
    region: str
    region_name: str
    score: int
    duration_ms: int


@dataclass
class MyRank:
    rank: int
    score: int
    duration_ms: int


@dataclass
class Board:
    entries: list[Entry]
    me: MyRank | None
    delayed: bool
    total: int


class BadScope(ValueError):
    pass


def parse_scope(raw: str | None) -> Scope:
    """'all', 'region:<code>' or 'day:<YYYY-MM-DD>'; raises BadScope."""
    raw = (raw or "all").strip()
    if raw == "all":
        return Scope("all")
    kind, _, arg = raw.partition(":")
    if kind == "region" and arg and arg.isascii() and len(arg) <= 32:
        return Scope("region", region=arg)
    if kind == "day":
        try:
            return Scope("day", day=date.fromisoformat(arg))
        except ValueError:
            pass
    raise BadScope(raw)


def contest_redis(contest_id: int) -> redis.Redis:
    """The client for one contest's keys when a pipeline carries Lua calls.

    On one server that is the app's client. On a Redis Cluster it is the node
    that owns the contest's slot: every key of a contest shares a hash tag
    (redis_keys), and redis-py's cluster pipeline refuses EVALSHA, while a
    pipeline to that node runs them. A slot moved in the meantime answers
    MOVED, a RedisError like any other: the caller marks the contest for
    repair and the next rebuild puts the boards right.
    """
    r = redis_client.client
    if isinstance(r, RedisCluster):
        return r.get_redis_connection(r.get_node_from_key(keys.board_all(contest_id)))
    return r


def board_key(contest: Contest, scope: Scope) -> str:
    if scope.kind == "region":
        return keys.board_region(contest.id, scope.region)
    if scope.kind == "day":
        return keys.board_day(contest.id, scope.day)
    return keys.board_all(contest.id)


def _codec(contest: Contest) -> KeyCodec:
    """The contest's frozen rank-key codec: editing the window never changes
    what a stored key means."""
    return contest.codec


def names_value(name: str, consent: bool, region_code: str) -> str:
    """The names-hash value of a citizen: "masked name|region code"."""
    return f"{public_name(name, consent)}|{region_code}"


_region_cache: dict[str, str] = {}


def region_names() -> dict[str, str]:
    """Region code -> Chinese name, loaded once per process."""
    if not _region_cache:
        rows = db.session.execute(select(Region.code, Region.name)).all()
        _region_cache.update({code: name for code, name in rows})
    return _region_cache


def sql_names(user_ids: list[int]) -> dict[int, tuple[str, str]]:
    """user id -> (public name, region code), from SQL."""
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(User.id, User.name, User.public_ranking, User.region_code).where(
            User.id.in_(user_ids)
        )
    )
    return {r.id: (public_name(r.name, r.public_ranking), r.region_code) for r in rows}


def clear_region_cache() -> None:
    _region_cache.clear()
