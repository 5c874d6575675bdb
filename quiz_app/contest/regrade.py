"""Regrade: after a key correction, re-score the finished attempts of a contest
that hold an older revision of the question, against the current key.

Items switch to the current revision only where the citizen saw the same
choices (same type and number of options); an item whose older revision had
a different shape keeps its revision and its mark (what was asked differs)
and is counted as skipped. Open attempts keep what they drew, as always.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BigInteger, func, literal, select, update

from ..auth.services import audit
from ..extensions import db
from ..items import services as item_stats
from ..leaderboard import recompute
from ..models import Attempt, AttemptAnswer, Contest, Question, QuestionRevision, User
from ..stats import rollup as stats_rollup
from .contests import contest_by_id
from .errors import NotFound


@dataclass(frozen=True)
class RegradeResult:
    #: finished attempts whose item moved to the current revision
    attempts_rescored: int
    #: of those, attempts whose score changed
    scores_changed: int
    #: finished attempts holding an older revision of another shape
    attempts_skipped: int


def _older_items(contest_id: int, question: Question, current: QuestionRevision):
    """Items of finished attempts of the contest that hold an older revision
    of the question: (item id, attempt id, user id, that revision's type and
    options, the item's choices and mark)."""
    older = QuestionRevision.__table__.alias("older")
    return db.session.execute(
        select(
            AttemptAnswer.id,
            Attempt.id.label("attempt_id"),
            Attempt.user_id,
            older.c.type,
            older.c.options,
            AttemptAnswer.choices,
            AttemptAnswer.is_correct,
        )
        .join(Attempt, Attempt.id == AttemptAnswer.attempt_id)
        .join(older, older.c.id == AttemptAnswer.revision_id)
        .where(
            Attempt.contest_id == contest_id,
            Attempt.finished_at.is_not(None),
            AttemptAnswer.question_id == question.id,
            AttemptAnswer.revision_id != current.id,
        )
    ).all()


@dataclass(frozen=True)
class RegradePreview:
    #: finished attempts a regrade would re-score now
    attempts_affected: int
    #: finished attempts holding an older revision of another shape (kept)
    attempts_skipped: int
    #: the current revision number the regrade would score against
    revision: int
    #: of the affected attempts, those whose score the regrade would change
    scores_changed: int = 0


def regrade_preview(contest_id: int, ext_id: str) -> RegradePreview:
    """What regrade_question would do now, without writing (the confirmation
    step). Raises NotFound for an unknown contest or question."""
    contest = contest_by_id(contest_id)
    question = db.session.scalar(select(Question).where(Question.ext_id == ext_id))
    if contest is None or question is None:
        raise NotFound("竞赛或题目不存在")
    current = db.session.scalar(
        select(QuestionRevision).where(
            QuestionRevision.question_id == question.id,
            QuestionRevision.number == question.revision,
        )
    )
    rows = _older_items(contest.id, question, current)
    shape = (current.type, len(current.options))
    movable = {r.attempt_id for r in rows if (r.type, len(r.options)) == shape}
    skipped = {r.attempt_id for r in rows} - movable
    # One item per question and attempt: a score moves iff the mark flips.
    flips = {
        r.attempt_id
        for r in rows
        if r.attempt_id in movable
        and (r.choices == current.answer) != bool(r.is_correct)
    }
    return RegradePreview(len(movable), len(skipped), current.number, len(flips))


def regrade_question(
    contest_id: int,
    ext_id: str,
    *,
    actor: User | None,
    ip: str | None,
    now: datetime,
) -> RegradeResult:
    """Re-score the contest's finished attempts that hold an older revision of
    question `ext_id` against its current key. Commits (with an audit event),
    then moves the boards and the per-citizen bests, which may go down.

    Raises NotFound for an unknown contest or question.
    """
    contest = contest_by_id(contest_id)
    question = db.session.scalar(
        select(Question)
        .where(Question.ext_id == ext_id)
        .execution_options(populate_existing=True)
    )
    if contest is None or question is None:
        raise NotFound("竞赛或题目不存在")
    current = db.session.scalar(
        select(QuestionRevision).where(
            QuestionRevision.question_id == question.id,
            QuestionRevision.number == question.revision,
        )
    )
    rows = _older_items(contest.id, question, current)
    shape = (current.type, len(current.options))
    movable = [r for r in rows if (r.type, len(r.options)) == shape]
    skipped = {r.attempt_id for r in rows} - {r.attempt_id for r in movable}
    attempt_ids = sorted({r.attempt_id for r in movable})
    users = sorted({r.user_id for r in movable})
    before = dict(
        db.session.execute(
            select(Attempt.id, Attempt.score).where(Attempt.id.in_(attempt_ids))
        ).all()
    )
    if movable:
        # The item statistics follow in this transaction: these attempts
        # leave the sums as they were and come back re-scored.
        item_stats.retract(contest, attempt_ids)
        db.session.execute(
            update(AttemptAnswer)
            .where(AttemptAnswer.id.in_([r.id for r in movable]))
            .values(
                revision_id=current.id,
                is_correct=AttemptAnswer.choices.is_not_distinct_from(current.answer),
            )
        )
        _rescore(contest, attempt_ids)
        item_stats.restore(contest, attempt_ids)
        # Which answers are correct changed. Last before the commit: the reset
        # holds the stats cursor row, which staff reads wait for.
        stats_rollup.reset(contest.id)
    after = dict(
        db.session.execute(
            select(Attempt.id, Attempt.score).where(Attempt.id.in_(attempt_ids))
        ).all()
    )
    changed = sum(1 for a in attempt_ids if before[a] != after[a])
    result = RegradeResult(len(attempt_ids), changed, len(skipped))
    audit(
        "regrade",
        outcome="ok",
        actor=actor,
        ip=ip,
        obj=(
            f"contest:{contest.id} question:{ext_id} revision:{current.number} "
            f"rescored={result.attempts_rescored} changed={result.scores_changed} "
            f"skipped={result.attempts_skipped}"
        ),
        now=now,
    )  # commits the regrade and its audit event together
    if users:
        recompute.refresh_users(contest, users)
    return result


def _rescore(contest: Contest, attempt_ids: list[int]) -> None:
    """Recount correct items, score and rank key of the attempts (flush only).

    The rank key changes by exactly (new score - old score) * D * F: the
    duration and finish parts of the key do not depend on the score.
    """
    step = literal(contest.codec.d * contest.codec.f, BigInteger)
    correct = (
        select(func.count(AttemptAnswer.id))
        .where(
            AttemptAnswer.attempt_id == Attempt.id,
            AttemptAnswer.is_correct.is_(True),
        )
        .scalar_subquery()
    )
    points = contest.points_per_question
    db.session.execute(
        update(Attempt)
        .where(Attempt.id.in_(attempt_ids))
        .values(
            correct_count=correct,
            score=correct * points,
            rank_key=Attempt.rank_key + (correct * points - Attempt.score) * step,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
