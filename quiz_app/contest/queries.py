"""Reads of attempts and what they drew (no writes): texts of revisions, the
items of an attempt with their keys, a citizen's attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select

from ..caches import cache
from ..clock import day_bounds, local_day
from ..extensions import db
from ..models import (
    Attempt,
    AttemptAnswer,
    Contest,
    Question,
    QuestionRevision,
    User,
)


@dataclass(frozen=True)
class QuestionText:
    """What a page shows of one revision (the key is always read from SQL)."""

    type: str
    stem: str
    options: tuple[str, ...]
    explanation: str
    source: str


def question_texts(revision_ids: list[int]) -> dict[int, QuestionText]:
    """Texts of the given revisions (immutable, so cached without expiry).

    `source` is edited in place on the question; a cached text may show an
    older source until the entry is evicted, which is harmless (it is a
    citation, not part of what was asked or scored).
    """
    return cache.get_many("texts", list(revision_ids), _load_texts)


def _load_texts(revision_ids: list) -> dict[int, QuestionText]:
    rows = db.session.execute(
        select(
            QuestionRevision.id,
            QuestionRevision.type,
            QuestionRevision.stem,
            QuestionRevision.options,
            QuestionRevision.explanation,
            Question.source,
        )
        .join(Question, Question.id == QuestionRevision.question_id)
        .where(QuestionRevision.id.in_(revision_ids))
    )
    return {
        r.id: QuestionText(r.type, r.stem, tuple(r.options), r.explanation, r.source)
        for r in rows
    }


class ItemRow(NamedTuple):
    """One drawn question of an attempt, as stored, with its revision's key."""

    id: int
    position: int
    question_id: int
    revision_id: int
    option_order: str
    choices: str | None
    version: int
    is_correct: bool | None
    key: str


ITEM_COLUMNS = (
    AttemptAnswer.id,
    AttemptAnswer.position,
    AttemptAnswer.question_id,
    AttemptAnswer.revision_id,
    AttemptAnswer.option_order,
    AttemptAnswer.choices,
    AttemptAnswer.version,
    AttemptAnswer.is_correct,
    QuestionRevision.answer,
)


def item_rows(attempt_id: int) -> list[ItemRow]:
    """The attempt's items in display order (one light query, no ORM objects)."""
    rows = db.session.execute(
        select(*ITEM_COLUMNS)
        .join(QuestionRevision, QuestionRevision.id == AttemptAnswer.revision_id)
        .where(AttemptAnswer.attempt_id == attempt_id)
        .order_by(AttemptAnswer.position)
    )
    return [ItemRow(*r) for r in rows]


def open_attempt(user: User, contest: Contest) -> Attempt | None:
    return db.session.scalars(
        select(Attempt).where(
            Attempt.user_id == user.id,
            Attempt.contest_id == contest.id,
            Attempt.finished_at.is_(None),
        )
    ).first()


def attempts_started_on(user: User, contest: Contest, now: datetime) -> int:
    """Attempts this citizen started today in the contest's time zone."""
    start, end = day_bounds(local_day(now, contest.timezone), contest.timezone)
    return (
        db.session.scalar(
            select(func.count(Attempt.id)).where(
                Attempt.user_id == user.id,
                Attempt.contest_id == contest.id,
                Attempt.started_at >= start,
                Attempt.started_at < end,
            )
        )
        or 0
    )


def attempts_left_today(user: User, contest: Contest, now: datetime) -> int:
    return max(contest.attempts_per_day - attempts_started_on(user, contest, now), 0)


def user_attempts(user: User, contest: Contest) -> list[Attempt]:
    return list(
        db.session.scalars(
            select(Attempt)
            .where(Attempt.user_id == user.id, Attempt.contest_id == contest.id)
            .order_by(Attempt.started_at.desc())
        )
    )


def best_attempt(attempts: list[Attempt]) -> Attempt | None:
    """The attempt that counts: highest rank key (score, then time, then finish)."""
    finished = [a for a in attempts if a.rank_key is not None]
    return max(finished, key=lambda a: (a.rank_key, -a.id)) if finished else None


def attempt_items(attempt: Attempt) -> list[tuple[AttemptAnswer, QuestionRevision]]:
    """The attempt's answers with the revisions they drew, in display order."""
    return list(
        db.session.execute(
            select(AttemptAnswer, QuestionRevision)
            .join(QuestionRevision, QuestionRevision.id == AttemptAnswer.revision_id)
            .where(AttemptAnswer.attempt_id == attempt.id)
            .order_by(AttemptAnswer.position)
            .execution_options(populate_existing=True)
        ).tuples()
    )
