"""Per-citizen board entries recomputed from SQL: re-recording and refreshing.

restore_users re-puts citizens' SQL bests on every board with ZADD GT (never
lowers; safe to repeat), for paths that find a finish already committed and
cannot know whether its board write happened. refresh_users recomputes them
exactly, lowering or removing entries, for changes to stored attempts
(regrade, disqualification). Each citizen is written atomically (one Lua call).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

import redis
from sqlalchemy import select

from .. import redis_keys as keys
from ..clock import local_day
from ..extensions import db
from ..models import Attempt, Contest, ContestBest, User
from . import boards, fallback
from .common import contest_redis, names_value, region_names
from .ranking import WINDOW_SLACK_MS

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


def _window_day_boards(contest: Contest) -> list[str]:
    """Every day board the contest's window can have."""
    first = local_day(contest.starts_at, contest.timezone)
    last = local_day(
        contest.ends_at + timedelta(milliseconds=WINDOW_SLACK_MS), contest.timezone
    )
    return [
        keys.board_day(contest.id, first + timedelta(days=i))
        for i in range((last - first).days + 1)
    ]


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
        pipe = contest_redis(contest.id).pipeline(transaction=False)
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


def refresh_users(contest: Contest, user_ids: Iterable[int]) -> None:
    """Recompute the citizens' bests from their stored attempts, everywhere.

    contest_best rows are rewritten (lowered, or deleted for a citizen with no
    finished attempt left) and committed; then each citizen's entries on the
    city board, every region board and every day board of the contest window
    are set exactly in one Lua call per citizen, so an entry may go down or
    disappear. Call it after committing the change to the attempts (or call
    fallback.refresh_best inside that transaction, then this: it is
    idempotent). Redis errors are logged and the contest marked for repair.
    """
    ids = _unique(user_ids)
    if not ids:
        return
    fallback.refresh_best(contest, ids)
    db.session.commit()
    fallback.clear_cache()
    citizens = _load(contest, ids)
    regions = set(region_names())
    days = _window_day_boards(contest)
    try:
        pipe = contest_redis(contest.id).pipeline(transaction=False)
        for uid in ids:
            c = citizens.get(uid) or _Citizen("", "")
            entries: dict[str, int | None] = {keys.board_all(contest.id): c.best}
            for code in sorted(regions | ({c.region} - {""})):
                entries[keys.board_region(contest.id, code)] = (
                    c.best if code == c.region else None
                )
            for day in days + sorted(set(c.days) - set(days)):
                entries[day] = c.days.get(day)
            boards.write_member(
                contest.id,
                uid,
                entries,
                c.names if c.best is not None else None,
                exact=True,
                client=pipe,
            )
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("leaderboard refresh failed for contest %s: %s", contest.id, exc)
        boards.mark_dirty(contest.id)


RENAME_CHUNK = 1000


def rename_users(user_ids: Iterable[int]) -> None:
    """Re-publish the citizens' public names (consent given or withdrawn, an
    account anonymised) on the boards of every contest they are ranked in.

    Call it after the change is committed. The names hash is set from SQL in
    one Lua call per citizen and contest (no board entry moves); a rebuild
    running meanwhile keeps the new value (the write is journaled). The SQL
    fallback reads names from the user rows: this process's cached pages are
    dropped at once, other processes' within LEADERBOARD_SQL_CACHE_S. Redis
    errors are logged and the contests marked for repair.
    """
    ids = _unique(user_ids)
    if not ids:
        return
    fallback.clear_cache()
    names: dict[int, str] = {}
    ranked = []
    for i in range(0, len(ids), RENAME_CHUNK):  # bounded IN lists (a purge)
        part = ids[i : i + RENAME_CHUNK]
        names.update(
            (r.id, names_value(r.name, r.public_ranking, r.region_code))
            for r in db.session.execute(
                select(User.id, User.name, User.public_ranking, User.region_code).where(
                    User.id.in_(part)
                )
            )
        )
        ranked += db.session.execute(
            select(ContestBest.contest_id, ContestBest.user_id).where(
                ContestBest.user_id.in_(part)
            )
        ).all()
    per_contest: dict[int, list[int]] = {}
    for r in ranked:
        if r.user_id in names:
            per_contest.setdefault(r.contest_id, []).append(r.user_id)
    for contest_id, members in sorted(per_contest.items()):
        try:  # one pipeline per contest: its keys live on one node
            pipe = contest_redis(contest_id).pipeline(transaction=False)
            for uid in members:
                boards.write_member(
                    contest_id, uid, {}, names[uid], exact=False, client=pipe
                )
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("leaderboard rename failed for contest %s: %s", contest_id, exc)
            boards.mark_dirty(contest_id)
