"""Board operations on Redis: writing finished attempts, reading a board page.

Every key comes from redis_keys and carries the contest's hash tag. Writes are
absolute (ZADD GT with the key read from SQL), so a retry is harmless. A failed
write marks the contest dirty in this process; the next read repairs it.
"""

from __future__ import annotations

import logging
import threading

import redis

from .. import redis_keys as keys
from ..clock import local_day
from ..extensions import redis_client
from ..models import Attempt, Contest, User
from .common import (
    Board,
    Entry,
    MyRank,
    Scope,
    _codec,
    board_key,
    names_value,
    region_names,
    sql_names,
)
from .ranking import member_id, user_id_of

log = logging.getLogger(__name__)

#: contests whose boards missed a write in this process; rebuilt on next contact
_dirty: set[int] = set()
_dirty_lock = threading.Lock()


def mark_dirty(contest_id: int) -> None:
    with _dirty_lock:
        _dirty.add(contest_id)


def clear_dirty(contest_id: int) -> None:
    with _dirty_lock:
        _dirty.discard(contest_id)


def is_dirty(contest_id: int) -> bool:
    return contest_id in _dirty


def reset_dirty() -> None:
    with _dirty_lock:
        _dirty.clear()


# ---------------------------------------------------------------- writes

# One citizen's entries on several boards of a contest, in one atomic step.
# KEYS: journal, names hash, then the boards. ARGV: member, mode, names value,
# day TTL, then per board its key ('' = none) and '1' if it is a day board.
# Mode 'g' raises entries (ZADD GT; '' leaves a board alone): idempotent, and a
# worse attempt never lowers an entry. Mode 'x' sets entries exactly ('' removes
# the member), for recomputations that may lower or remove. While a rebuild runs
# (its journal exists) the member is journaled, so the rebuild keeps the write.
_WRITE_SCRIPT = """
local m, mode = ARGV[1], ARGV[2]
for j = 1, #KEYS - 2 do
  local key, score = KEYS[2 + j], ARGV[3 + 2 * j]
  if score ~= '' then
    if mode == 'x' then
      redis.call('ZADD', key, score, m)
    else
      redis.call('ZADD', key, 'GT', score, m)
    end
    if ARGV[4 + 2 * j] == '1' then redis.call('EXPIRE', key, ARGV[4]) end
  elseif mode == 'x' then
    redis.call('ZREM', key, m)
  end
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], m, ARGV[3])
elseif mode == 'x' then
  redis.call('HDEL', KEYS[2], m)
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  if mode == 'x' then
    redis.call('HSET', KEYS[1], m, 'x')
  else
    redis.call('HSETNX', KEYS[1], m, 'g')
  end
end
return 1
"""
_write_script = None


def write_member(
    contest_id: int,
    user_id: int,
    entries: dict[str, int | None],
    names: str | None,
    *,
    exact: bool,
    client=None,
) -> None:
    """Write one citizen's entries ({board key: rank key or None}) atomically.

    exact=False: ZADD GT, None skips the board; exact=True: set, None removes.
    `client` may be a pipeline (the call is then queued). Raises RedisError.
    """
    global _write_script
    if _write_script is None:
        _write_script = redis_client.client.register_script(_WRITE_SCRIPT)
    args: list[object] = [
        member_id(user_id),
        "x" if exact else "g",
        names or "",
        keys.DAY_BOARD_TTL_S,
    ]
    for key, value in entries.items():
        args += [
            "" if value is None else value,
            int(keys.is_day_board(contest_id, key)),
        ]
    _write_script(
        keys=[keys.rebuild_journal(contest_id), keys.board_names(contest_id)]
        + list(entries),
        args=args,
        client=client or redis_client.client,
    )


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
    day = local_day(attempt.finished_at, contest.timezone)
    entries = {
        keys.board_all(contest.id): attempt.rank_key,
        keys.board_region(contest.id, user.region_code): attempt.rank_key,
        keys.board_day(contest.id, day): attempt.rank_key,
    }
    try:
        write_member(
            contest.id,
            user.id,
            entries,
            names_value(user.name, user.public_ranking, user.region_code),
            exact=False,
        )
    except redis.RedisError as exc:
        log.warning("leaderboard write failed for attempt %s: %s", attempt.id, exc)
        mark_dirty(contest.id)


# ---------------------------------------------------------------- reads

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


def read_raw(contest: Contest, scope: Scope, limit: int, user_id: int | None):
    """The read script's raw reply; element 0 tells whether the boards exist."""
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


def board_from_raw(contest: Contest, res, user_id: int | None) -> Board:
    """A Board from the read script's reply (names missing in Redis from SQL)."""
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
        names.update(sql_names(missing))
    codec = _codec(contest)
    regions = region_names()
    entries = []
    for pos, (uid, key) in enumerate(ranked, start=1):
        name, region = names.get(uid, ("匿名参赛者", ""))
        score, duration = codec.decode(key)
        entries.append(
            Entry(pos, name, region, regions.get(region, ""), score, duration)
        )
    me = None
    if user_id is not None and rank >= 0:
        score, duration = codec.decode(int(float(my_key)))
        me = MyRank(rank + 1, score, duration)
    return Board(entries, me, False, total)
