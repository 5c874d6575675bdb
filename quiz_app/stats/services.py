"""Participation figures by region, scoped to what a staff account may see."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from ..extensions import db
from ..models import Attempt, Contest, Region, User


def visible_regions(staff: User) -> list[Region]:
    """All regions for city-wide staff and admins; one for region-scoped staff
    (a staff account without either scope sees nothing)."""
    q = select(Region).order_by(Region.sort_order)
    if staff.role == "staff" and not staff.city_wide:
        q = q.where(Region.code == staff.staff_region_code)
    return list(db.session.scalars(q))


def region_stats(contest: Contest, staff: User) -> list[dict[str, Any]]:
    """Per visible region: registered, participants, attempts, finished, average
    best score and full-score count (grouped queries, no per-region loop)."""
    regions = visible_regions(staff)
    codes = [r.code for r in regions]
    registered = dict(
        db.session.execute(
            select(User.region_code, func.count(User.id))
            .where(User.role == "citizen", User.region_code.in_(codes))
            .group_by(User.region_code)
        ).all()
    )
    per_user = (
        select(
            User.region_code.label("region"),
            Attempt.user_id.label("uid"),
            func.count(Attempt.id).label("n"),
            func.count(Attempt.finished_at).label("done"),
            # a disqualified attempt (no rank key) is nobody's best
            func.max(Attempt.score).filter(Attempt.rank_key.is_not(None)).label("best"),
        )
        .join(User, User.id == Attempt.user_id)
        .where(Attempt.contest_id == contest.id, User.region_code.in_(codes))
        .group_by(User.region_code, Attempt.user_id)
    ).subquery()
    rows = db.session.execute(
        select(
            per_user.c.region,
            func.count(per_user.c.uid),
            func.sum(per_user.c.n),
            func.sum(per_user.c.done),
            func.avg(per_user.c.best),
            func.sum(case((per_user.c.best == contest.max_score, 1), else_=0)),
        ).group_by(per_user.c.region)
    ).all()
    agg = {r[0]: r[1:] for r in rows}
    out = []
    for region in regions:
        people, attempts, done, avg, full = agg.get(region.code, (0, 0, 0, None, 0))
        out.append(
            {
                "code": region.code,
                "name": region.name,
                "registered": registered.get(region.code, 0),
                "participants": people or 0,
                "attempts": int(attempts or 0),
                "finished": int(done or 0),
                "avg_best_score": round(float(avg), 1) if avg is not None else None,
                "full_score": int(full or 0),
            }
        )
    return out
