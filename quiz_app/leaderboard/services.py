"""Leaderboards: Redis sorted sets kept from SQL, with a SQL fallback.

SQL is the truth; Redis boards are rebuilt from it whenever they are missing
(restart, FLUSHALL) or a write to them failed. Reads and writes never fail a
request because Redis failed: reads fall back to SQL (cached briefly and
marked as possibly delayed), writes are logged and repaired by a rebuild.

This module is the package's public surface: the board page read, and the
functions of boards (Redis), fallback (SQL) and rebuild that callers use.
"""

from __future__ import annotations

import logging

import redis

from ..models import Contest
from . import boards, common, fallback
from . import rebuild as _rebuild
from .boards import record_finished
from .common import BadScope, Board, Entry, MyRank, Scope, board_key, parse_scope
from .fallback import (
    fill_best,
    record_best,
    sql_board,
    sql_ranking,
    store_finish_and_best,
)
from .rebuild import rebuild, rebuild_if_missing, wait_for_background_rebuilds
from .recompute import refresh_users, rename_users, restore_users

__all__ = [
    "BadScope",
    "Board",
    "Entry",
    "MyRank",
    "Scope",
    "board_key",
    "fill_best",
    "parse_scope",
    "read_board",
    "rebuild",
    "rebuild_if_missing",
    "record_best",
    "store_finish_and_best",
    "record_finished",
    "refresh_users",
    "rename_users",
    "reset_caches",
    "restore_users",
    "sql_board",
    "sql_ranking",
    "wait_for_background_rebuilds",
]

log = logging.getLogger(__name__)


def read_board(
    contest: Contest, scope: Scope, *, limit: int = 10, user_id: int | None = None
) -> Board:
    """Top `limit` of a board plus the caller's own rank; from Redis, else SQL."""
    try:
        return _redis_board(contest, scope, limit, user_id)
    except redis.RedisError as exc:
        log.warning("leaderboard read from Redis failed, serving SQL: %s", exc)
        boards.mark_dirty(contest.id)
        return sql_board(contest, scope, limit, user_id)


def _redis_board(
    contest: Contest, scope: Scope, limit: int, user_id: int | None
) -> Board:
    if boards.is_dirty(contest.id) and not _rebuild.repair(contest):
        return sql_board(contest, scope, limit, user_id)
    res = boards.read_raw(contest, scope, limit, user_id)
    if not res[0]:
        # Boards missing (Redis restarted or flushed): rebuild them; while that
        # runs elsewhere (another process, or a large board in the background),
        # serve SQL, marked as possibly delayed.
        if not _rebuild.repair(contest):
            return sql_board(contest, scope, limit, user_id)
        res = boards.read_raw(contest, scope, limit, user_id)
    return boards.board_from_raw(contest, res, user_id)


def reset_caches() -> None:
    """Forget every per-process leaderboard state: the SQL cache, dirty marks,
    repair back-off, region names (tests; after a bulk load)."""
    fallback.clear_cache()
    boards.reset_dirty()
    _rebuild.reset_backoff()
    common.clear_region_cache()
