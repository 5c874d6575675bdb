"""Per-citizen board entries recomputed from SQL: re-recording.

restore_users re-puts citizens' SQL bests on every board with ZADD GT (never
lowers; safe to repeat), for paths that find a finish already committed and
cannot know whether its board write happened. Each citizen is written
atomically (one Lua call).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis
from sqlalchemy import select

from .. import redis_keys as keys
from ..clock import local_day
from ..extensions import db, redis_client
from ..models import Attempt, Contest, User
from . import boards
from .common import names_value

log = logging.getLogger(__name__)


class _Citizen:
    __slots__ = ("best", "days", "names", "region")

    def __init__(self, region: str, names: str) -> None:
        self.region, self.names = region, names
        self.best: int | None = None
        self.days: dict[str, int] = {}


def _load(contest: Contest, user_ids: list[int]) -> dict[int, _Citizen]:
    """The citizens' best key overall and per day board, from their attempts
    (read in the caller's session, which keeps its objects loaded)."""
    citizens = {
        r.id: _Citizen(
            r.region_code, names_value(r.name, r.public_ranking, r.region_code)
        )
        for r in db.session.execute(
            select(User.id, User.name, User.public_ranking, User.region_code).where(
                User.id.in_(user_ids)
            )
        )
    }
    rows = db.session.execute(
        select(Attempt.user_id, Attempt.rank_key, Attempt.finished_at).where(
            Attempt.contest_id == contest.id,
            Attempt.user_id.in_(user_ids),
            Attempt.rank_key.is_not(None),
        )
    )
    for r in rows:
        c = citizens.get(r.user_id)
        if c is None:
            continue
        c.best = max(c.best or -1, r.rank_key)
        day = keys.board_day(contest.id, local_day(r.finished_at, contest.timezone))
        c.days[day] = max(c.days.get(day, -1), r.rank_key)
    return citizens


def _unique(user_ids: Iterable[int]) -> list[int]:
    return sorted(set(user_ids))


def restore_users(contest: Contest, user_ids: Iterable[int]) -> None:
    """Re-put the citizens' SQL bests on their city, region and day boards with
    ZADD GT, after the commit. Idempotent; never lowers an entry. Redis errors
    are logged (the contest is marked for repair), not raised."""
    ids = _unique(user_ids)
    if not ids:
        return
    citizens = _load(contest, ids)
    try:
        pipe = redis_client.client.pipeline(transaction=False)
        for uid, c in citizens.items():
            if c.best is None:
                continue
            entries = {
                keys.board_all(contest.id): c.best,
                keys.board_region(contest.id, c.region): c.best,
                **c.days,
            }
            boards.write_member(
                contest.id, uid, entries, c.names, exact=False, client=pipe
            )
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("leaderboard restore failed for contest %s: %s", contest.id, exc)
        boards.mark_dirty(contest.id)
