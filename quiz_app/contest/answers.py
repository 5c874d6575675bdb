"""The answer-save hot path: display letters to original ones, the attempt
layout cache, and one guarded statement per save."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from sqlalchemy import bindparam, select, update

from ..caches import cache
from ..extensions import db
from ..models import Attempt, AttemptAnswer, QuestionRevision, User, UserSession
from .drawing import LETTERS
from .errors import AttemptClosed, InvalidChoice, NotFound, NotLoggedIn, StaleAnswer


def to_original(order: str, display: list[str], qtype: str) -> str:
    """Display letters -> sorted original letters; raises InvalidChoice."""
    picked = set()
    for letter in display:
        if not isinstance(letter, str) or len(letter) != 1:
            raise InvalidChoice()
        idx = LETTERS.find(letter.upper())
        if idx < 0 or idx >= len(order):
            raise InvalidChoice(f"该题没有选项 {letter}")
        picked.add(order[idx])
    if qtype in ("single", "judge") and len(picked) > 1:
        raise InvalidChoice("该题只能选择一个选项")
    return "".join(sorted(picked))


def to_display(order: str, original: str | None) -> list[str]:
    """Sorted original letters -> the display letters of this attempt."""
    if not original:
        return []
    return sorted(LETTERS[order.index(ch)] for ch in original)


class SavedAnswer(NamedTuple):
    version: int
    deadline_at: datetime


class Principal(Protocol):
    """Who acts: a User, or the id and session token read from the cookie
    (the token names one live UserSession of that user)."""

    id: int
    session_token: str


@dataclass(frozen=True)
class Layout:
    """What never changes about an attempt once drawn (safe to cache)."""

    user_id: int
    deadline_at: datetime
    #: position -> (attempt_answer id, option order, question type)
    items: dict[int, tuple[int, str, str]]


def attempt_layout(attempt_id: int) -> Layout | None:
    """The attempt's owner, deadline and items, from the process cache or one query."""
    return cache.get("layouts", attempt_id, lambda: _load_layout(attempt_id))


def _load_layout(attempt_id: int) -> Layout | None:
    rows = db.session.execute(
        select(
            Attempt.user_id,
            Attempt.deadline_at,
            AttemptAnswer.id,
            AttemptAnswer.position,
            AttemptAnswer.option_order,
            QuestionRevision.type,
        )
        .join(AttemptAnswer, AttemptAnswer.attempt_id == Attempt.id)
        .join(QuestionRevision, QuestionRevision.id == AttemptAnswer.revision_id)
        .where(Attempt.id == attempt_id)
    ).all()
    if not rows:
        return None
    return Layout(
        rows[0].user_id,
        rows[0].deadline_at,
        {r.position: (r.id, r.option_order, r.type) for r in rows},
    )


def _save_statement(check_version: bool):
    """The guarded save, built once: share-lock the open attempt of this user
    with this session token before the deadline, then update the item."""
    now = bindparam("p_now", type_=Attempt.deadline_at.type)
    open_attempt_row = (
        select(Attempt.id)
        .join(User, User.id == Attempt.user_id)
        .join(UserSession, UserSession.user_id == Attempt.user_id)
        .where(
            Attempt.id == bindparam("p_attempt"),
            Attempt.finished_at.is_(None),
            Attempt.deadline_at >= now,
            User.id == bindparam("p_user"),
            UserSession.token == bindparam("p_token"),
            UserSession.revoked.is_(False),
            User.disabled.is_(False),
        )
        .with_for_update(read=True, of=Attempt)
        .cte("open_attempt")
    )
    stmt = (
        update(AttemptAnswer)
        .where(
            AttemptAnswer.id == bindparam("p_answer"),
            AttemptAnswer.attempt_id == open_attempt_row.c.id,
        )
        .values(
            choices=bindparam("p_choices"),
            version=AttemptAnswer.version + 1,
            saved_at=now,
        )
        .returning(AttemptAnswer.version)
    )
    if check_version:
        stmt = stmt.where(AttemptAnswer.version == bindparam("p_expected"))
    return stmt


_SAVE = _save_statement(check_version=False)
_SAVE_IF_VERSION = _save_statement(check_version=True)


def save_answer(
    attempt_id: int,
    user: Principal,
    position: int,
    choices: list[str],
    *,
    now: datetime,
    expected_version: int | None = None,
) -> SavedAnswer:
    """Record one answer (display letters; [] clears it). Commits.

    Raises NotFound, AttemptClosed (finished or after the deadline: nothing
    changes), InvalidChoice, StaleAnswer (an older version than stored),
    NotLoggedIn (the session token was revoked).

    The hot path is one statement: it share-locks the attempt row (so a
    concurrent submit, which takes it FOR UPDATE, scores before or after this
    save, never in between), checks owner, session token, finish and deadline,
    and updates the item. On PostgreSQL it runs in autocommit: one round trip.
    """
    layout = attempt_layout(attempt_id)
    if layout is None or layout.user_id != user.id:
        raise NotFound()
    item = layout.items.get(position)
    if item is None:
        raise NotFound("该题不存在")
    if now > layout.deadline_at:
        raise AttemptClosed()
    answer_id, order, qtype = item
    original = to_original(order, choices, qtype) or None
    params = {
        "p_attempt": attempt_id,
        "p_answer": answer_id,
        "p_user": user.id,
        "p_token": user.session_token,
        "p_now": now,
        "p_choices": original,
    }
    if expected_version is None:
        stmt = _SAVE
    else:
        stmt = _SAVE_IF_VERSION
        params["p_expected"] = expected_version
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as conn:
            version = conn.execute(stmt, params).scalar()
    else:
        version = db.session.execute(stmt, params).scalar()
        db.session.commit()
    if version is not None:
        return SavedAnswer(version, layout.deadline_at)
    _explain_refused_save(attempt_id, user)
    raise StaleAnswer()


def _explain_refused_save(attempt_id: int, user: Principal) -> None:
    """Why the guarded update changed nothing (slow path; raises or returns)."""
    db.session.rollback()
    live_session = (
        select(UserSession.id)
        .where(
            UserSession.user_id == Attempt.user_id,
            UserSession.token == user.session_token,
            UserSession.revoked.is_(False),
        )
        .exists()
    )
    row = db.session.execute(
        select(Attempt.finished_at, User.disabled, live_session.label("live"))
        .join(User, User.id == Attempt.user_id)
        .where(Attempt.id == attempt_id)
    ).first()
    if row is None:
        raise NotFound()
    if not row.live or row.disabled:
        raise NotLoggedIn()
    if row.finished_at is not None:
        raise AttemptClosed()
    # Open, owned and before the deadline: only the version can have differed.
