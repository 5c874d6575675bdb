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


def rebuild(contest: Contest, *, force: bool = False) -> int | None:
    """Rebuild every board of a contest from SQL into temporary keys, then RENAME
    them over the live ones. Returns members written, or None if another process
    holds the rebuild lock (with `force`, after waiting for it up to one lock
    lifetime). Raises redis.RedisError if Redis is unreachable."""
    r = redis_client.client
    lock = keys.rebuild_lock(contest.id)
    token = _wait_for_lock(contest.id) if force else acquire_lock(contest.id)
    if token is None:
        return None
    boards.clear_dirty(contest.id)
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
        sets: dict[str, dict[str, int]] = {}
        names: dict[str, str] = {}
        day_keys: set[str] = set()

        def put(key: str, member: str, value: int) -> None:
            board = sets.setdefault(key, {})
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
            names[m] = names_value(row.name, row.public_ranking, row.region_code)
        db.session.rollback()
        _between_snapshot_and_swap(contest)
        if names:
            sets[keys.board_names(contest.id)] = names  # type: ignore[assignment]
        stale = {
            k
            for k in r.scan_iter(match=keys.board_pattern(contest.id), count=500)
            if k not in sets
            and k not in (lock, keys.board_meta(contest.id))
            and not k.endswith(":tmp")
        }
        pipe = r.pipeline(transaction=False)
        for key, mapping in sets.items():
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
        fallback.clear_cache()
        return len(sets.get(keys.board_all(contest.id), {}))
    except redis.RedisError:
        boards.mark_dirty(contest.id)
        raise
    finally:
        try:
            release_lock(contest.id, token)
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
