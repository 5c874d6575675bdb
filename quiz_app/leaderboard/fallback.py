"""Boards computed from SQL: served while Redis is down or being rebuilt."""

from __future__ import annotations

import time

from flask import current_app
from sqlalchemy import and_, func, or_, select

from ..clock import day_bounds
from ..extensions import db
from ..models import Attempt, Contest, User
from .common import Board, Entry, MyRank, Scope, _codec, region_names, sql_names

_sql_cache: dict[tuple, tuple[float, object]] = {}


def clear_cache() -> None:
    _sql_cache.clear()


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
    regions = region_names()
    out = []
    for pos, (uid, key) in enumerate(ranked, start=1):
        name, region = names.get(uid, ("匿名参赛者", ""))
        score, duration = codec.decode(key)
        out.append(Entry(pos, name, region, regions.get(region, ""), score, duration))
    return out


def sql_board(contest: Contest, scope: Scope, limit: int, user_id: int | None) -> Board:
    """A board page from SQL, marked delayed; the top list is cached briefly."""
    ttl = current_app.config["LEADERBOARD_SQL_CACHE_S"]
    cache_key = (contest.id, scope, limit)
    hit = _sql_cache.get(cache_key)
    if hit and hit[0] > time.monotonic():
        entries, total = hit[1]
    else:
        ranked = sql_ranking(contest, scope, limit)
        entries = _entries_from(contest, ranked, sql_names([u for u, _ in ranked]))
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
