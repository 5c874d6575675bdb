"""Organizer reads about contests: the list by state, clone defaults, the
figures of the admin home page. Writes live in contests.py and disqualify.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select

from ..clock import day_bounds, local_day
from ..extensions import db
from ..models import Attempt, Contest
from .contests import FROZEN_RULES, LIVE_FIELDS

#: names of the contest fields on pages and in messages
FIELD_LABELS = {
    "title": "标题",
    "description": "说明与规则",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "time_limit_s": "答题时限",
    "type_counts": "题型数量",
    "category_quotas": "分类配额",
    "points_per_question": "每题分值",
    "attempts_per_day": "每日答题次数",
    "multiple_scoring": "多选题计分",
    "excellent_min": "优秀分数线",
}


def started_contest_ids(contest_ids: list[int]) -> set[int]:
    """Which of the contests have an attempt (their scoring rules are frozen)."""
    if not contest_ids:
        return set()
    return set(
        db.session.scalars(
            select(distinct(Attempt.contest_id)).where(
                Attempt.contest_id.in_(contest_ids)
            )
        )
    )


def all_contests() -> list[Contest]:
    """Every contest, latest start first."""
    return list(
        db.session.scalars(
            select(Contest).order_by(Contest.starts_at.desc(), Contest.id.desc())
        )
    )


def contests_by_state(now: datetime) -> dict[str, list[Contest]]:
    """{"open": [...], "upcoming": [...], "closed": [...]}, latest start first."""
    out: dict[str, list[Contest]] = {"open": [], "upcoming": [], "closed": []}
    for c in all_contests():
        out[c.status(now)].append(c)
    return out


def contest_rules(contest: Contest) -> dict[str, Any]:
    """The contest's fields that the editor shows (service names)."""
    return {k: getattr(contest, k) for k in (*FROZEN_RULES, *LIVE_FIELDS)}


def clone_values(contest: Contest, now: datetime) -> dict[str, Any]:
    """A new contest's values taken from `contest`: same rules and window
    length, starting at the next midnight of the contest's zone."""
    values = contest_rules(contest)
    tomorrow = local_day(now, contest.timezone) + timedelta(days=1)
    start, _ = day_bounds(tomorrow, contest.timezone)
    values["title"] = f"{contest.title}（副本）"[:200]
    values["starts_at"] = start
    values["ends_at"] = start + (contest.ends_at - contest.starts_at)
    values["type_counts"] = dict(contest.type_counts)
    values["category_quotas"] = dict(contest.category_quotas or {})
    return values


@dataclass(frozen=True)
class DayFigures:
    started: int
    finished: int
    participants: int
    average_score: float | None


def day_figures(contest: Contest, now: datetime) -> DayFigures:
    """Today's attempts (contest zone): started, finished, distinct citizens who
    started one, and the average score of today's finished attempts that count
    (a disqualified one does not)."""
    start, end = day_bounds(local_day(now, contest.timezone), contest.timezone)
    started = db.session.execute(
        select(func.count(Attempt.id), func.count(distinct(Attempt.user_id))).where(
            Attempt.contest_id == contest.id,
            Attempt.started_at >= start,
            Attempt.started_at < end,
        )
    ).one()
    finished = db.session.execute(
        select(
            func.count(Attempt.id),
            func.avg(Attempt.score).filter(Attempt.rank_key.is_not(None)),
        ).where(
            Attempt.contest_id == contest.id,
            Attempt.finished_at >= start,
            Attempt.finished_at < end,
        )
    ).one()
    avg = finished[1]
    return DayFigures(
        started=started[0] or 0,
        finished=finished[0] or 0,
        participants=started[1] or 0,
        average_score=round(float(avg), 1) if avg is not None else None,
    )
