"""Practice rounds: draw a few questions from the active bank, give feedback
once per answer, and keep each citizen within a daily cap.

Practice never creates an attempt, so it is never scored, ranked or counted
against the contest's daily limit, and it works whatever the contest's
status. The cap is enforced from stored rounds (questions drawn today in the
contest's time zone), not from a counter that could be lost or raced.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import exists, func, insert, select, update

from ..clock import local_day
from ..contest.answers import to_display, to_original
from ..contest.drawing import PoolItem, draw_questions, question_pool
from ..contest.errors import BankTooSmall, ContestError, InvalidChoice, NotFound
from ..contest.queries import question_texts
from ..extensions import db
from ..models import Contest, PracticeItem, PracticeRound, QuestionRevision, User

TYPES = ("single", "multiple", "judge")


class PracticeCapReached(ContestError):
    """Today's practice questions are used up; nothing was drawn."""

    status, code = 429, "practice_daily_cap"
    message = "今天的练习题量已用完，明天再来练习吧"


@dataclass(frozen=True)
class PracticeRules:
    """How big a round is, how many questions a day, and whose days."""

    round_size: int = 5
    daily_cap: int = 30
    timezone: str = "Asia/Shanghai"


def practice_rules(config: Mapping[str, Any], contest: Contest | None) -> PracticeRules:
    """The rules from the app config; days follow the current contest's zone."""
    return PracticeRules(
        round_size=max(int(config["PRACTICE_ROUND_SIZE"]), 1),
        daily_cap=max(int(config["PRACTICE_DAILY_CAP"]), 0),
        timezone=contest.timezone if contest else config["QUIZ_TIMEZONE"],
    )


@dataclass(frozen=True)
class _Mix:
    """The two rule fields draw_questions reads from a contest."""

    type_counts: dict[str, int]
    category_quotas: dict[str, int] = field(default_factory=dict)


def practice_mix(n: int, pool: list[PoolItem]) -> dict[str, int]:
    """Type counts for a round of `n`: about one multiple-choice and one
    true/false question in five, single choice for the rest; a type the pool
    is short of gives its places to the others. Raises BankTooSmall."""
    minor = (n + 2) // 5
    want = {"single": n - 2 * minor, "multiple": minor, "judge": minor}
    room = {t: _capacity([i for i in pool if i.type == t]) for t in TYPES}
    counts = {t: min(want[t], room[t]) for t in TYPES}
    for t in TYPES:  # hand the shortfall to types with room, single first
        extra = min(n - sum(counts.values()), room[t] - counts[t])
        counts[t] += max(extra, 0)
    if sum(counts.values()) < n:
        raise BankTooSmall()
    return {t: c for t, c in counts.items() if c}


def _capacity(items: list[PoolItem]) -> int:
    """Questions one draw can take from `items` (a group yields one)."""
    groups = {i.group for i in items if i.group}
    return sum(1 for i in items if not i.group) + len(groups)


def drawn_on(user_id: int, day: date) -> int:
    """Practice questions this citizen drew on `day` (answered or not)."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(PracticeRound.size), 0)).where(
            PracticeRound.user_id == user_id, PracticeRound.day == day
        )
    )
    return int(total or 0)


def left_today(user: User, rules: PracticeRules, *, now: datetime) -> int:
    """Practice questions the citizen may still draw today."""
    day = local_day(now, rules.timezone)
    return max(rules.daily_cap - drawn_on(user.id, day), 0)


def open_round(user: User) -> PracticeRound | None:
    """The citizen's latest round with a question still unanswered."""
    unanswered = exists().where(
        PracticeItem.round_id == PracticeRound.id, PracticeItem.answered_at.is_(None)
    )
    return db.session.scalars(
        select(PracticeRound)
        .where(PracticeRound.user_id == user.id, unanswered)
        .order_by(PracticeRound.id.desc())
        .limit(1)
    ).first()


def start_round(
    user: User,
    rules: PracticeRules,
    *,
    now: datetime,
    rng: random.Random | None = None,
) -> tuple[PracticeRound, bool]:
    """Resume the citizen's unfinished round, or draw a new one. Returns
    (round, created). Commits.

    A new round holds `round_size` questions, fewer when today's cap leaves
    fewer; they count against the cap as soon as they are drawn. Raises
    PracticeCapReached when none are left, BankTooSmall when the active bank
    cannot fill a round. The citizen's user row is locked first, so parallel
    starts of one citizen queue up and cannot overrun the cap together.
    """
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    existing = open_round(user)
    if existing is not None:
        db.session.rollback()
        return existing, False
    day = local_day(now, rules.timezone)
    left = rules.daily_cap - drawn_on(user.id, day)
    if left <= 0:
        db.session.rollback()
        raise PracticeCapReached(
            f"今天的 {rules.daily_cap} 道练习题已用完，明天再来练习吧"
        )
    size = min(rules.round_size, left)
    pool = question_pool()
    rng = rng or random.Random(secrets.randbits(64))
    try:
        drawn = draw_questions(_Mix(practice_mix(size, pool)), pool, rng)
    except BankTooSmall:
        db.session.rollback()
        raise
    practice = PracticeRound(user_id=user.id, started_at=now, day=day, size=len(drawn))
    db.session.add(practice)
    db.session.flush()
    db.session.execute(
        insert(PracticeItem),
        [
            {
                "round_id": practice.id,
                "position": pos,
                "question_id": item.id,
                "revision_id": item.revision_id,
                "option_order": order,
            }
            for pos, (item, order) in enumerate(drawn, start=1)
        ],
    )
    db.session.commit()
    return practice, True


def get_round(round_id: int, user: User) -> PracticeRound:
    """The citizen's own round; another citizen's (or none) is NotFound."""
    practice = db.session.get(PracticeRound, round_id)
    if practice is None or practice.user_id != user.id:
        raise NotFound("未找到该练习")
    return practice


class PracticeRow(NamedTuple):
    """One item of a round as stored, with its revision's type and key."""

    id: int
    position: int
    revision_id: int
    option_order: str
    choices: str | None
    answered_at: datetime | None
    is_correct: bool | None
    type: str
    key: str


_ROW_COLUMNS = (
    PracticeItem.id,
    PracticeItem.position,
    PracticeItem.revision_id,
    PracticeItem.option_order,
    PracticeItem.choices,
    PracticeItem.answered_at,
    PracticeItem.is_correct,
    QuestionRevision.type,
    QuestionRevision.answer,
)


def round_rows(round_id: int) -> list[PracticeRow]:
    """The round's items in display order (keys included: callers show a key
    only for an answered item)."""
    rows = db.session.execute(
        select(*_ROW_COLUMNS)
        .join(QuestionRevision, QuestionRevision.id == PracticeItem.revision_id)
        .where(PracticeItem.round_id == round_id)
        .order_by(PracticeItem.position)
        .execution_options(populate_existing=True)
    )
    return [PracticeRow(*r) for r in rows]


@dataclass(frozen=True)
class Feedback:
    """What a citizen learns after answering one practice question."""

    position: int
    choices: list[str]
    correct_choices: list[str]
    is_correct: bool
    explanation: str
    source: str
    #: False when this request recorded the answer; True when an earlier
    #: answer stood and this one was ignored
    repeated: bool = False


def feedback_for(row: PracticeRow, *, repeated: bool = False) -> Feedback:
    """The feedback of an answered item (never call it for an unanswered one)."""
    if row.answered_at is None:
        raise ValueError("feedback before the question was answered")
    text = question_texts([row.revision_id])[row.revision_id]
    return Feedback(
        position=row.position,
        choices=to_display(row.option_order, row.choices),
        correct_choices=to_display(row.option_order, row.key),
        is_correct=bool(row.is_correct),
        explanation=text.explanation,
        source=text.source,
        repeated=repeated,
    )


def answer_item(
    round_id: int,
    user: User,
    position: int,
    choices: list[str],
    *,
    now: datetime,
) -> Feedback:
    """Record the citizen's first answer to one question and return the
    feedback (right or wrong, the key, explanation and source). Commits.

    The first answer stands: a later one (or a parallel duplicate) changes
    nothing and gets the stored feedback with `repeated=True`. Raises
    NotFound (not the caller's round, or no such position) and InvalidChoice
    (a letter the question lacks, several for a single answer, or none).
    """
    get_round(round_id, user)
    row = next((r for r in round_rows(round_id) if r.position == position), None)
    if row is None:
        raise NotFound("该题不存在")
    if row.answered_at is None:
        original = to_original(row.option_order, choices, row.type)
        if not original:
            raise InvalidChoice("请先选择答案")
        recorded = db.session.execute(
            update(PracticeItem)
            .where(PracticeItem.id == row.id, PracticeItem.answered_at.is_(None))
            .values(choices=original, answered_at=now, is_correct=original == row.key)
        ).rowcount
        db.session.commit()
        row = next(r for r in round_rows(round_id) if r.position == position)
        return feedback_for(row, repeated=recorded != 1)
    db.session.rollback()
    return feedback_for(row, repeated=True)
