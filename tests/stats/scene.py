"""Hand-built attempts for the staff figures, and the figures recomputed from
scratch (a plain loop over every attempt, no rollup code) to compare with."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from quiz_app.extensions import db
from quiz_app.leaderboard.fallback import record_best
from quiz_app.models import Attempt, AttemptAnswer, Contest, Question, User
from quiz_app.stats import services as stats

TZ_OFFSET = timedelta(hours=8)  # Asia/Shanghai


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Tangshan wall-clock time in Sept 2023, as UTC."""
    return datetime(2023, 9, day, hour, minute, tzinfo=UTC) - TZ_OFFSET


def add_attempt(
    contest: Contest,
    user_id: int,
    start: datetime,
    seconds: int,
    score: int,
    answers: tuple[bool, ...],
    questions: list[Question],
    *,
    finish: bool = True,
    dq: bool = False,
) -> Attempt:
    """An attempt with one item per question (correct as `answers` says,
    unmarked while open), finished `seconds` after `start` unless `finish`
    is False; its citizen's best recorded (flush only)."""
    finished = start + timedelta(seconds=seconds) if finish else None
    a = Attempt(
        user_id=user_id,
        contest_id=contest.id,
        started_at=start,
        deadline_at=start + timedelta(seconds=900),
        finished_at=finished,
        finish_kind="submitted" if finish else None,
        score=score if finish else None,
        duration_ms=seconds * 1000 if finish else None,
    )
    if finish and not dq:
        a.rank_key = contest.codec.encode(score, seconds * 1000, finished)
    if dq:
        a.disqualified_at = finished
        a.disqualified_reason = "测试"
    db.session.add(a)
    db.session.flush()
    for pos, (q, ok) in enumerate(zip(questions, answers, strict=True), start=1):
        db.session.add(
            AttemptAnswer(
                attempt_id=a.id,
                position=pos,
                question_id=q.id,
                revision_id=q.current.id,
                option_order="ABCD",
                choices="A",
                is_correct=ok if finish else None,
            )
        )
    db.session.flush()
    record_best(a)
    return a


def from_scratch(contest: Contest) -> tuple[dict, dict]:
    """(days, cats) keyed like a stats Snapshot, from every attempt and
    answer of the contest as they are now."""
    tz = ZoneInfo(contest.timezone)
    days: dict = defaultdict(lambda: [0, 0, 0, 0])
    seen: set[int] = set()
    seen_day: set[tuple] = set()
    rows = db.session.execute(
        select(
            Attempt.user_id, Attempt.started_at, Attempt.finished_at, User.region_code
        )
        .join(User, User.id == Attempt.user_id)
        .where(Attempt.contest_id == contest.id)
        .order_by(Attempt.id)
    )
    for uid, started, finished, region in rows:
        day = started.astimezone(tz).date()
        cell = days[(region, day)]
        cell[0] += 1
        if uid not in seen:
            seen.add(uid)
            cell[2] += 1
        if (uid, day) not in seen_day:
            seen_day.add((uid, day))
            cell[3] += 1
        if finished is not None:
            days[(region, finished.astimezone(tz).date())][1] += 1
    cats = {
        (region, category): [n, correct or 0]
        for region, category, n, correct in db.session.execute(
            select(
                User.region_code,
                Question.category_code,
                func.count(),
                func.count().filter(AttemptAnswer.is_correct.is_(True)),
            )
            .select_from(AttemptAnswer)
            .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
            .join(User, User.id == Attempt.user_id)
            .join(Question, Question.id == AttemptAnswer.question_id)
            .where(Attempt.contest_id == contest.id, Attempt.finished_at.is_not(None))
            .group_by(User.region_code, Question.category_code)
        )
    }
    return dict(days), cats


def read(contest: Contest, now: datetime) -> stats.Snapshot:
    """A staff read's figures, computed now (no per-process cache)."""
    return stats.compute_snapshot(contest, now=now)


def assert_exact(contest: Contest, snap: stats.Snapshot) -> None:
    """The read's figures are the from-scratch ones (empty cells ignored)."""
    days, cats = from_scratch(contest)
    assert {k: v for k, v in snap.days.items() if any(v)} == days
    assert {k: v for k, v in snap.cats.items() if v[0]} == cats
