"""Rebuilding a contest's boards from SQL, and repairing them on a read."""

from __future__ import annotations

import logging
import secrets
import threading
import time

import redis
from flask import current_app
from sqlalchemy import func, select

from .. import redis_keys as keys
from ..clock import iso, local_day, utcnow
from ..extensions import db, redis_client
from ..models import Attempt, Contest, User
from . import boards, fallback
from .common import names_value
from .ranking import member_id

log = logging.getLogger(__name__)

#: boards with more finished attempts than this are rebuilt in a background
#: thread (a 1M-citizen rebuild takes tens of seconds); smaller ones inline
INLINE_REBUILD_MAX = 20_000
_background: dict[int, threading.Thread] = {}

_repair_backoff: dict[int, float] = {}
REPAIR_RETRY_S = 5.0


def reset_backoff() -> None:
    _repair_backoff.clear()


def repair(contest: Contest) -> bool:
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


# ---------------------------------------------------------------- the lock

# Only the holder may release or extend the lock: both compare the token first,
# atomically (a plain DEL after the lock expired would free another holder's).
_RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_scripts: dict[str, object] = {}


def _script(source: str):
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = redis_client.client.register_script(source)
    return script


def acquire_lock(contest_id: int, ttl_s: int = keys.REBUILD_LOCK_TTL_S) -> str | None:
    """Take the contest's rebuild lock for `ttl_s`; its token, or None if held."""
    token = secrets.token_hex(16)
    if redis_client.client.set(keys.rebuild_lock(contest_id), token, nx=True, ex=ttl_s):
        return token
    return None


def release_lock(contest_id: int, token: str) -> bool:
    """Release the lock if `token` still holds it; False if it expired or moved."""
    script = _script(_RELEASE_SCRIPT)
    return bool(
        script(
            keys=[keys.rebuild_lock(contest_id)],
            args=[token],
            client=redis_client.client,
        )
    )


def extend_lock(
    contest_id: int, token: str, ttl_s: int = keys.REBUILD_LOCK_TTL_S
) -> bool:
    """Give the holder another `ttl_s`; False if `token` no longer holds it."""
    script = _script(_EXTEND_SCRIPT)
    return bool(
        script(
            keys=[keys.rebuild_lock(contest_id)],
            args=[token, ttl_s],
            client=redis_client.client,
        )
    )


def _wait_for_lock(contest_id: int) -> str | None:
    """The lock, waiting at most one lock lifetime for the current holder."""
    give_up = time.monotonic() + keys.REBUILD_LOCK_TTL_S + 1
    while True:
        token = acquire_lock(contest_id)
        if token is not None or time.monotonic() > give_up:
            return token
        time.sleep(0.1)


# ---------------------------------------------------------------- rebuild


def _between_snapshot_and_swap(contest: Contest) -> None:
    """Runs after the SQL snapshot, before the swap; a seam for tests that need
    something to happen inside that window (finishes, a lost lock)."""


# The swap, atomic for every board of the contest. KEYS: lock, journal, meta,
# then (live, staging) pairs; ARGV: token, built_at, day TTL, then per pair its
# kind ('z' board, 'd' day board, 'h' names hash). A staging key holds the SQL
# snapshot; members journaled since then bring their live entries along (raised
# with GT, or as they are now if they were set exactly), so no write that
# landed during the rebuild is lost. A pair whose staging key ends up empty
# deletes the live key. Refused (-1) unless the token still holds the lock.
_SWAP_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local journal = redis.call('HGETALL', KEYS[2])
for j = 1, (#KEYS - 3) / 2 do
  local live, tmp, kind = KEYS[2 + 2 * j], KEYS[3 + 2 * j], ARGV[3 + j]
  for i = 1, #journal, 2 do
    local m, how = journal[i], journal[i + 1]
    if kind == 'h' then
      local v = redis.call('HGET', live, m)
      if v then
        redis.call('HSET', tmp, m, v)
      elseif how == 'x' then
        redis.call('HDEL', tmp, m)
      end
    else
      local score = redis.call('ZSCORE', live, m)
      if score and how == 'x' then
        redis.call('ZADD', tmp, score, m)
      elseif score then
        redis.call('ZADD', tmp, 'GT', score, m)
      elseif how == 'x' then
        redis.call('ZREM', tmp, m)
      end
    end
  end
  if redis.call('EXISTS', tmp) == 1 then
    redis.call('RENAME', tmp, live)
    if kind == 'd' then
      redis.call('EXPIRE', live, ARGV[3])
    else
      redis.call('PERSIST', live)
    end
  else
    redis.call('DEL', live)
  end
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[3], 'built_at', ARGV[2])
return 1
"""

#: members per ZADD/HSET while staging a snapshot, and commands per pipeline
STAGE_CHUNK = 5000
STAGE_BATCH = 10
#: socket timeout of the staging connection, seconds: staging is a batch job,
#: the requests' short timeout (REDIS_SOCKET_TIMEOUT) would abort big boards
STAGE_SOCKET_TIMEOUT_S = 30.0
_bulk: dict[int, redis.Redis] = {}


def _bulk_client(r: redis.Redis) -> redis.Redis:
    """A client to the same server (or cluster) as `r` with the staging
    socket timeout."""
    from redis.cluster import ClusterNode, RedisCluster

    if isinstance(r, RedisCluster):
        client = _bulk.get(id(r))
        if client is None:
            nodes = [ClusterNode(n.host, n.port) for n in r.get_nodes()]
            client = _bulk[id(r)] = RedisCluster(
                startup_nodes=nodes,
                socket_timeout=STAGE_SOCKET_TIMEOUT_S,
                socket_connect_timeout=1.0,
                decode_responses=True,
            )
        return client
    pool = r.connection_pool
    client = _bulk.get(id(pool))
    if client is None:
        kwargs = dict(pool.connection_kwargs)
        kwargs.update(
            socket_timeout=STAGE_SOCKET_TIMEOUT_S,
            socket_connect_timeout=kwargs.get("socket_connect_timeout") or 1.0,
        )
        client = _bulk[id(pool)] = redis.Redis(
            connection_pool=redis.ConnectionPool(
                connection_class=pool.connection_class, max_connections=4, **kwargs
            )
        )
    return client


def rebuild(contest: Contest, *, force: bool = False) -> int | None:
    """Rebuild every board of a contest from SQL, losing no concurrent write.

    A journal is opened before the SQL snapshot; the snapshot is staged in
    temporary keys; one Lua script then folds in what was written meanwhile
    and RENAMEs the staging keys over the live ones (a board the snapshot
    lacks is dropped unless it gained members meanwhile). Returns the members
    of the city board, or None if the lock is held elsewhere (with `force`,
    after waiting for it up to one lock lifetime) or was lost midway. Raises
    redis.RedisError if Redis is unreachable.
    """
    r = redis_client.client
    token = _wait_for_lock(contest.id) if force else acquire_lock(contest.id)
    if token is None:
        return None
    boards.clear_dirty(contest.id)
    journal = keys.rebuild_journal(contest.id)
    staged: list[str] = []
    try:
        # Opened before the snapshot: every finish committed after the snapshot
        # writes Redis after its commit, so it finds the journal and is noted.
        pipe = r.pipeline(transaction=False)
        pipe.hset(journal, "-", "g")
        pipe.expire(journal, keys.REBUILD_STAGING_TTL_S)
        pipe.execute()
        sets, names = _snapshot(contest)
        _between_snapshot_and_swap(contest)
        if not extend_lock(contest.id, token):
            raise _LockLost()
        names_key = keys.board_names(contest.id)
        if names:
            sets[names_key] = names  # type: ignore[assignment]
        live = [
            k
            for k in r.scan_iter(match=keys.board_pattern(contest.id), count=500)
            if k not in sets
            and k not in (keys.rebuild_lock(contest.id), keys.board_meta(contest.id))
            and k != journal
            and not keys.is_staging(k)
        ]
        pairs: list[tuple[str, str, str]] = []
        bulk = _bulk_client(r)
        for key, mapping in sets.items():
            tmp = keys.temporary(key, token)
            staged.append(tmp)
            bulk.delete(tmp)
            items = list(mapping.items())
            # Bounded pipelines: a few MB per round trip, not the whole board.
            for start in range(0, len(items), STAGE_CHUNK * STAGE_BATCH):
                pipe = bulk.pipeline(transaction=False)
                stop = min(start + STAGE_CHUNK * STAGE_BATCH, len(items))
                for i in range(start, stop, STAGE_CHUNK):
                    chunk = dict(items[i : min(i + STAGE_CHUNK, stop)])
                    if key == names_key:
                        pipe.hset(tmp, mapping=chunk)
                    else:
                        pipe.zadd(tmp, chunk)
                pipe.execute()
            bulk.expire(tmp, keys.REBUILD_STAGING_TTL_S)
        for key in list(sets) + live:
            kind = (
                "h"
                if key == names_key
                else "d"
                if keys.is_day_board(contest.id, key)
                else "z"
            )
            pairs.append((key, keys.temporary(key, token), kind))
        swap = _script(_SWAP_SCRIPT)
        done = swap(
            keys=[keys.rebuild_lock(contest.id), journal, keys.board_meta(contest.id)]
            + [k for live_key, tmp, _ in pairs for k in (live_key, tmp)],
            args=[token, iso(utcnow(), contest.timezone), keys.DAY_BOARD_TTL_S]
            + [kind for _, _, kind in pairs],
            client=bulk,  # dropping a replaced 1M-member board takes a while
        )
        if done != 1:
            raise _LockLost()
        staged.clear()
        fallback.clear_cache()
        return len(sets.get(keys.board_all(contest.id), {}))
    except _LockLost:
        log.warning("leaderboard rebuild of contest %s lost its lock", contest.id)
        boards.mark_dirty(contest.id)
        return None
    except redis.RedisError:
        boards.mark_dirty(contest.id)
        raise
    finally:
        try:
            if staged:
                r.delete(*staged)
            release_lock(contest.id, token)
        except redis.RedisError:
            pass


class _LockLost(Exception):
    """The rebuild lock expired or moved to another process midway."""


def _snapshot(contest: Contest) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """Every board of the contest from SQL: {key: {member: rank key}}, names."""
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
    sets: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}

    def put(key: str, member: str, value: int) -> None:
        board = sets.setdefault(key, {})
        if value > board.get(member, -1):
            board[member] = value

    for row in rows:
        m = member_id(row.user_id)
        put(keys.board_all(contest.id), m, row.rank_key)
        put(keys.board_region(contest.id, row.region_code), m, row.rank_key)
        day = local_day(row.finished_at, contest.timezone)
        put(keys.board_day(contest.id, day), m, row.rank_key)
        names[m] = names_value(row.name, row.public_ranking, row.region_code)
    db.session.rollback()
    return sets, names


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
