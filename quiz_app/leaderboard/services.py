"""Leaderboards: Redis sorted sets kept from SQL, with a SQL fallback.

SQL is the truth; Redis boards are rebuilt from it whenever they are missing
(restart, FLUSHALL) or a write to them failed. Reads and writes never fail a
request because Redis failed: reads fall back to SQL (cached briefly and
marked as possibly delayed), writes are logged and repaired by a rebuild.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import date

import redis
from flask import current_app
from sqlalchemy import and_, func, or_, select

from .. import redis_keys as keys
from ..clock import day_bounds, iso, local_day, utcnow
from ..extensions import db, redis_client
from ..models import Attempt, Contest, Region, User
from .ranking import member_id, public_name, user_id_of

log = logging.getLogger(__name__)

#: contests whose boards missed a write in this process; rebuilt on next contact
_dirty: set[int] = set()
_dirty_lock = threading.Lock()
_sql_cache: dict[tuple, tuple[float, object]] = {}


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


def board_key(contest: Contest, scope: Scope) -> str:
    if scope.kind == "region":
        return keys.board_region(contest.id, scope.region)
    if scope.kind == "day":
        return keys.board_day(contest.id, scope.day)
    return keys.board_all(contest.id)


def _codec(contest: Contest):
    """The contest's frozen codec: editing the window never re-reads a key."""
    return contest.codec


def _names_value(user: User) -> str:
    return f"{public_name(user.name, user.public_ranking)}|{user.region_code}"


# ---------------------------------------------------------------- writes


def record_finished(
    attempt: Attempt, contest: Contest | None = None, user: User | None = None
) -> None:
    """Put a committed, finished attempt on every board it touches (one round trip).

    ZADD GT with the absolute key: retrying is harmless and a worse attempt
    never lowers a citizen's entry. Redis errors are logged, not raised.
    """
    if attempt.rank_key is None:
        return
    contest = contest or attempt.contest
    user = user or attempt.user
    member = member_id(user.id)
    day = local_day(attempt.finished_at, contest.timezone)
    try:
        pipe = redis_client.client.pipeline(transaction=False)
        pipe.zadd(keys.board_all(contest.id), {member: attempt.rank_key}, gt=True)
        pipe.zadd(
            keys.board_region(contest.id, user.region_code),
            {member: attempt.rank_key},
            gt=True,
        )
        day_key = keys.board_day(contest.id, day)
        pipe.zadd(day_key, {member: attempt.rank_key}, gt=True)
        pipe.expire(day_key, keys.DAY_BOARD_TTL_S)
        pipe.hset(keys.board_names(contest.id), member, _names_value(user))
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("leaderboard write failed for attempt %s: %s", attempt.id, exc)
        with _dirty_lock:
            _dirty.add(contest.id)


# ---------------------------------------------------------------- SQL order


def _best_query(contest: Contest, scope: Scope):
    """Per citizen: best key among finished attempts in the scope (subquery)."""
    q = (
        select(Attempt.user_id.label("user_id"), func.max(Attempt.rank_key).label("k"))
        .where(Attempt.contest_id == contest.id, Attempt.rank_key.is_not(None))
        .group_by(Attempt.user_id)
    )
    if scope.kind == "region":
        q = q.join(User, User.id == Attempt.user_id).where(
            User.region_code == scope.region
        )
    elif scope.kind == "day":
        start, end = day_bounds(scope.day, contest.timezone)
        q = q.where(Attempt.finished_at >= start, Attempt.finished_at < end)
    return q.subquery()


def sql_ranking(
    contest: Contest, scope: Scope, limit: int | None = None
) -> list[tuple[int, int]]:
    """(user_id, key) in board order: key descending, then user id ascending."""
    best = _best_query(contest, scope)
    q = select(best.c.user_id, best.c.k).order_by(best.c.k.desc(), best.c.user_id)
    if limit is not None:
        q = q.limit(limit)
    return [(r.user_id, int(r.k)) for r in db.session.execute(q)]


def _sql_my_rank(
    contest: Contest, scope: Scope, user_id: int
) -> tuple[int, int] | None:
    best = _best_query(contest, scope)
    mine = db.session.scalar(select(best.c.k).where(best.c.user_id == user_id))
    if mine is None:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(best)
        .where(or_(best.c.k > mine, and_(best.c.k == mine, best.c.user_id < user_id)))
    )
    return ahead + 1, int(mine)


def _entries_from(
    contest: Contest, ranked: list[tuple[int, int]], names: dict[int, tuple[str, str]]
) -> list[Entry]:
    codec = _codec(contest)
    regions = _region_names()
    out = []
    for pos, (uid, key) in enumerate(ranked, start=1):
        name, region = names.get(uid, ("匿名参赛者", ""))
        score, duration = codec.decode(key)
        out.append(Entry(pos, name, region, regions.get(region, ""), score, duration))
    return out


_region_cache: dict[str, str] = {}


def _region_names() -> dict[str, str]:
    if not _region_cache:
        rows = db.session.execute(select(Region.code, Region.name)).all()
        _region_cache.update({code: name for code, name in rows})
    return _region_cache


def _sql_names(user_ids: list[int]) -> dict[int, tuple[str, str]]:
    if not user_ids:
        return {}
    rows = db.session.execute(
        select(User.id, User.name, User.public_ranking, User.region_code).where(
            User.id.in_(user_ids)
        )
    )
    return {r.id: (public_name(r.name, r.public_ranking), r.region_code) for r in rows}


def _sql_board(
    contest: Contest, scope: Scope, limit: int, user_id: int | None
) -> Board:
    ttl = current_app.config["LEADERBOARD_SQL_CACHE_S"]
    cache_key = (contest.id, scope, limit)
    hit = _sql_cache.get(cache_key)
    if hit and hit[0] > time.monotonic():
        entries, total = hit[1]
    else:
        ranked = sql_ranking(contest, scope, limit)
        entries = _entries_from(contest, ranked, _sql_names([u for u, _ in ranked]))
        best = _best_query(contest, scope)
        total = db.session.scalar(select(func.count()).select_from(best)) or 0
        _sql_cache[cache_key] = (time.monotonic() + ttl, (entries, total))
    me = None
    if user_id is not None:
        mine = _sql_my_rank(contest, scope, user_id)
        if mine:
            score, duration = _codec(contest).decode(mine[1])
            me = MyRank(mine[0], score, duration)
    return Board(entries, me, True, total)


# ---------------------------------------------------------------- reads


def read_board(
    contest: Contest, scope: Scope, *, limit: int = 10, user_id: int | None = None
) -> Board:
    """Top `limit` of a board plus the caller's own rank; from Redis, else SQL."""
    try:
        return _redis_board(contest, scope, limit, user_id)
    except redis.RedisError as exc:
        log.warning("leaderboard read from Redis failed, serving SQL: %s", exc)
        with _dirty_lock:
            _dirty.add(contest.id)
        return _sql_board(contest, scope, limit, user_id)


# One round trip for a board page: presence of the boards, the top entries
# with their public names, the board size and the caller's own rank and key.
# Every key shares the contest's hash tag (one Cluster slot). Plain EVAL/EVALSHA
# (Redis 6.2+, Valkey), no FUNCTION.
_READ_SCRIPT = """
local top = redis.call('ZREVRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
local members = {}
for i = 1, #top, 2 do members[#members + 1] = top[i] end
local names = {}
if #members > 0 then names = redis.call('HMGET', KEYS[3], unpack(members)) end
local rank, key = -1, ''
if ARGV[2] ~= '' then
  rank = redis.call('ZREVRANK', KEYS[2], ARGV[2]) or -1
  key = redis.call('ZSCORE', KEYS[2], ARGV[2]) or ''
end
return {redis.call('EXISTS', KEYS[1]), top, redis.call('ZCARD', KEYS[2]),
        rank, key, names}
"""
_read_script = None


def _read_redis(contest: Contest, scope: Scope, limit: int, user_id: int | None):
    global _read_script
    if _read_script is None:
        _read_script = redis_client.client.register_script(_READ_SCRIPT)
    member = member_id(user_id) if user_id is not None else ""
    return _read_script(
        keys=[
            keys.board_meta(contest.id),
            board_key(contest, scope),
            keys.board_names(contest.id),
        ],
        args=[limit, member],
        client=redis_client.client,
    )


def _redis_board(
    contest: Contest, scope: Scope, limit: int, user_id: int | None
) -> Board:
    if contest.id in _dirty and not _repair(contest):
        return _sql_board(contest, scope, limit, user_id)
    res = _read_redis(contest, scope, limit, user_id)
    if not res[0]:
        # Boards missing (Redis restarted or flushed): rebuild them; while that
        # runs elsewhere (another process, or a large board in the background),
        # serve SQL, marked as possibly delayed.
        if not _repair(contest):
            return _sql_board(contest, scope, limit, user_id)
        res = _read_redis(contest, scope, limit, user_id)
    flat, total, rank, my_key, raw_names = res[1], res[2], res[3], res[4], res[5]
    # Lua hands scores back as strings; every key is an exact double below 2**53.
    ranked = [
        (user_id_of(flat[i]), int(float(flat[i + 1]))) for i in range(0, len(flat), 2)
    ]
    names: dict[int, tuple[str, str]] = {}
    for (uid, _), val in zip(ranked, raw_names, strict=False):
        if val:
            name, _, region = val.rpartition("|")
            names[uid] = (name, region)
    missing = [u for u, _ in ranked if u not in names]
    if missing:
        names.update(_sql_names(missing))
    me = None
    if user_id is not None and rank >= 0:
        score, duration = _codec(contest).decode(int(float(my_key)))
        me = MyRank(rank + 1, score, duration)
    return Board(_entries_from(contest, ranked, names), me, False, total)


#: boards with more finished attempts than this are rebuilt in a background
#: thread (a 1M-citizen rebuild takes tens of seconds); smaller ones inline
INLINE_REBUILD_MAX = 20_000
_background: dict[int, threading.Thread] = {}


_repair_backoff: dict[int, float] = {}
REPAIR_RETRY_S = 5.0


def _repair(contest: Contest) -> bool:
    """Rebuild the contest's boards; True if they are ready to read now.

    While a rebuild runs (here in the background, or in another process that
    holds the lock) this answers False at once for a few seconds, so readers
    fall back to the cached SQL board instead of queueing behind it.
    """
    running = _background.get(contest.id)
    if (running is not None and running.is_alive()) or _repair_backoff.get(
        contest.id, 0.0
    ) > time.monotonic():
        return False
    size = db.session.scalar(
        select(func.count(Attempt.id)).where(
            Attempt.contest_id == contest.id, Attempt.rank_key.is_not(None)
        )
    )
    if size <= INLINE_REBUILD_MAX:
        if rebuild(contest) is not None:
            return True
        _repair_backoff[contest.id] = time.monotonic() + REPAIR_RETRY_S
        return False
    _repair_backoff[contest.id] = time.monotonic() + REPAIR_RETRY_S
    running = _background.get(contest.id)
    if running is None or not running.is_alive():
        app = current_app._get_current_object()
        thread = threading.Thread(
            target=_rebuild_in_app,
            args=(app, contest.id),
            daemon=True,
            name=f"leaderboard-rebuild-{contest.id}",
        )
        _background[contest.id] = thread
        thread.start()
    return False


def _rebuild_in_app(app, contest_id: int) -> None:
    with app.app_context():
        try:
            contest = db.session.get(Contest, contest_id)
            if contest is not None:
                rebuild(contest)
        except redis.RedisError as exc:
            log.warning("background leaderboard rebuild failed: %s", exc)
        finally:
            db.session.remove()


def wait_for_background_rebuilds(timeout: float = 60.0) -> None:
    """Join running background rebuilds (tests, CLI)."""
    for thread in list(_background.values()):
        thread.join(timeout)


# ---------------------------------------------------------------- rebuild


def rebuild(contest: Contest, *, force: bool = False) -> int | None:
    """Rebuild every board of a contest from SQL into temporary keys, then RENAME
    them over the live ones. Returns members written, or None if another process
    holds the rebuild lock. Raises redis.RedisError if Redis is unreachable."""
    r = redis_client.client
    lock = keys.rebuild_lock(contest.id)
    if not r.set(lock, "1", nx=True, ex=keys.REBUILD_LOCK_TTL_S) and not force:
        return None
    with _dirty_lock:
        _dirty.discard(contest.id)
    try:
        rows = db.session.execute(
            select(
                Attempt.user_id,
                Attempt.rank_key,
                Attempt.finished_at,
                User.region_code,
                User.name,
                User.public_ranking,
            )
            .join(User, User.id == Attempt.user_id)
            .where(Attempt.contest_id == contest.id, Attempt.rank_key.is_not(None))
        )
        boards: dict[str, dict[str, int]] = {}
        names: dict[str, str] = {}
        day_keys: set[str] = set()

        def put(key: str, member: str, value: int) -> None:
            board = boards.setdefault(key, {})
            if value > board.get(member, -1):
                board[member] = value

        for row in rows:
            m = member_id(row.user_id)
            put(keys.board_all(contest.id), m, row.rank_key)
            put(keys.board_region(contest.id, row.region_code), m, row.rank_key)
            dk = keys.board_day(
                contest.id, local_day(row.finished_at, contest.timezone)
            )
            day_keys.add(dk)
            put(dk, m, row.rank_key)
            names[m] = f"{public_name(row.name, row.public_ranking)}|{row.region_code}"
        db.session.rollback()
        if names:
            boards[keys.board_names(contest.id)] = names  # type: ignore[assignment]
        stale = {
            k
            for k in r.scan_iter(match=keys.board_pattern(contest.id), count=500)
            if k not in boards
            and k not in (lock, keys.board_meta(contest.id))
            and not k.endswith(":tmp")
        }
        pipe = r.pipeline(transaction=False)
        for key, mapping in boards.items():
            tmp = keys.temporary(key)
            pipe.delete(tmp)
            items = list(mapping.items())
            for i in range(0, len(items), 5000):
                chunk = dict(items[i : i + 5000])
                if key == keys.board_names(contest.id):
                    pipe.hset(tmp, mapping=chunk)
                else:
                    pipe.zadd(tmp, chunk)
            pipe.rename(tmp, key)
            if key in day_keys:
                pipe.expire(key, keys.DAY_BOARD_TTL_S)
        for key in stale:
            pipe.delete(key)
        pipe.hset(
            keys.board_meta(contest.id),
            mapping={"built_at": iso(utcnow(), contest.timezone)},
        )
        pipe.execute()
        _sql_cache.clear()
        return len(boards.get(keys.board_all(contest.id), {}))
    except redis.RedisError:
        with _dirty_lock:
            _dirty.add(contest.id)
        raise
    finally:
        try:
            r.delete(lock)
        except redis.RedisError:
            pass


def rebuild_if_missing(contest: Contest) -> bool:
    """Start-up check: rebuild when the boards' meta key is missing. True if rebuilt."""
    try:
        if redis_client.client.exists(keys.board_meta(contest.id)):
            return False
        rebuild(contest)
        return True
    except redis.RedisError as exc:
        log.warning("leaderboard start-up check failed: %s", exc)
        return False
