"""Every Redis key of the app, with its type, meaning and TTL.

No other module spells a key.

All keys of one contest share the hash tag ``{c<id>}`` so that they live in one
Redis Cluster slot (multi-key pipelines, RENAME of rebuilt boards).
"""

from __future__ import annotations

from datetime import date

#: Flask-Limiter's own counters live under this prefix (strings with TTLs).
RATE_LIMIT_PREFIX = "rl"

#: A day board lives this long after its last write, seconds (rebuildable).
DAY_BOARD_TTL_S = 40 * 24 * 3600
#: How long one process may hold the rebuild lock, seconds (the holder extends it).
REBUILD_LOCK_TTL_S = 60
#: Upper bound on the life of a rebuild's journal and staging keys, seconds
#: (they outlive a rebuild only if its process died).
REBUILD_STAGING_TTL_S = 3600


def _tag(contest_id: int) -> str:
    return f"lb:{{c{contest_id}}}"


def board_all(contest_id: int) -> str:
    """ZSET, city-wide board: member = user member id, score = composite rank key."""
    return f"{_tag(contest_id)}:all"


def board_region(contest_id: int, region_code: str) -> str:
    """ZSET, one region's board; members and scores as board_all."""
    return f"{_tag(contest_id)}:region:{region_code}"


def board_day(contest_id: int, day: date) -> str:
    """ZSET, each citizen's best attempt finished that day (contest zone).

    TTL DAY_BOARD_TTL_S after the last write.
    """
    return f"{_tag(contest_id)}:day:{day:%Y%m%d}"


def board_names(contest_id: int) -> str:
    """HASH, member id -> "masked display name|region code"; no TTL."""
    return f"{_tag(contest_id)}:names"


def board_meta(contest_id: int) -> str:
    """HASH, {"built_at": ISO time}: present once the boards were built from SQL.

    Missing (Redis restarted or flushed) means the boards must be rebuilt.
    """
    return f"{_tag(contest_id)}:meta"


def rebuild_lock(contest_id: int) -> str:
    """STRING, SET NX EX REBUILD_LOCK_TTL_S: one rebuild of a contest at a time."""
    return f"{_tag(contest_id)}:rebuild-lock"


def rebuild_journal(contest_id: int) -> str:
    """HASH, member id -> "g" | "x": citizens whose board entries were written
    while a rebuild ran ("g": raised with ZADD GT, "x": set exactly, possibly
    lowered or removed). The rebuild creates it before its SQL snapshot and
    folds the live entries of these members into its staging keys before the
    swap, then deletes it. TTL REBUILD_STAGING_TTL_S.
    """
    return f"{_tag(contest_id)}:rebuild-journal"


def temporary(key: str, token: str) -> str:
    """One rebuild's staging copy of `key` (same hash tag); RENAMEd over `key`.

    TTL REBUILD_STAGING_TTL_S until the RENAME (then the live key's own TTL).
    """
    return f"{key}:tmp:{token}"


def is_staging(key: str) -> bool:
    """True for a rebuild's staging key (see temporary)."""
    return ":tmp:" in key


def is_day_board(contest_id: int, key: str) -> bool:
    """True if `key` is one of the contest's day boards (see board_day)."""
    return key.startswith(f"{_tag(contest_id)}:day:")


def board_pattern(contest_id: int) -> str:
    """SCAN pattern for every board key of a contest (rebuild clean-up)."""
    return f"{_tag(contest_id)}:*"
