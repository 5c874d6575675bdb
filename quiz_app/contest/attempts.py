"""Attempt lifecycle: start (draw), look up, score and finish (submit, expiry,
sweeper).

Every public function takes `now` (read once per request by the caller),
commits once, and touches Redis only after the commit (through the boards).
"""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import (
    ARRAY,
    Integer,
    String,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from ..clock import day_bounds, local_day
from ..db import begin_write
from ..extensions import db
from ..leaderboard import services as boards
from ..models import Attempt, AttemptAnswer, Contest, QuestionRevision, User
from .contests import contest_by_id
from .drawing import draw_questions, question_pool
from .errors import AttemptClosed, ContestNotOpen, DailyLimitReached, NotFound
from .queries import ITEM_COLUMNS, ItemRow, item_rows, open_attempt

#: built once (see start_attempt): the open attempt's id and today's count
_OPEN_AND_TODAY = select(
    func.max(Attempt.id).filter(Attempt.finished_at.is_(None)),
    func.count(Attempt.id).filter(
        Attempt.started_at >= bindparam("p_day_start", type_=Attempt.started_at.type),
        Attempt.started_at < bindparam("p_day_end", type_=Attempt.started_at.type),
    ),
).where(
    Attempt.user_id == bindparam("p_user"),
    Attempt.contest_id == bindparam("p_contest"),
)


def start_attempt(
    user: User,
    contest: Contest,
    *,
    now: datetime,
    grace_s: int,
    rng: random.Random | None = None,
) -> tuple[Attempt, bool]:
    """Start an attempt, or return the open one. Returns (attempt, created).

    Raises ContestNotOpen, DailyLimitReached, BankTooSmall. The partial unique
    index on open attempts makes parallel starts yield one attempt. Each item
    records the revision it drew, so later edits never change this attempt.
    """
    # One query: the open attempt (if any) and today's count.
    day_start, day_end = day_bounds(local_day(now, contest.timezone), contest.timezone)
    open_id, today = db.session.execute(
        _OPEN_AND_TODAY,
        {
            "p_user": user.id,
            "p_contest": contest.id,
            "p_day_start": day_start,
            "p_day_end": day_end,
        },
    ).one()
    if open_id is not None:
        existing = db.session.get(Attempt, open_id)
        if now <= existing.deadline_at + timedelta(seconds=grace_s):
            return existing, False
        expire_if_due(lock_attempt(existing.id, user), now=now, grace_s=grace_s)
    if contest.status(now) != "open":
        raise ContestNotOpen()
    if today >= contest.attempts_per_day:
        raise DailyLimitReached()
    rng = rng or random.Random(secrets.randbits(64))
    drawn = draw_questions(contest, question_pool(), rng)
    deadline = min(now + timedelta(seconds=contest.time_limit_s), contest.ends_at)
    try:
        if db.engine.dialect.name == "postgresql":
            attempt = _insert_attempt_pg(user, contest, now, deadline, drawn)
        else:
            attempt = Attempt(
                user_id=user.id,
                contest_id=contest.id,
                started_at=now,
                deadline_at=deadline,
            )
            db.session.add(attempt)
            db.session.flush()
            # Core bulk insert: one multi-row statement, no ORM objects.
            db.session.execute(
                insert(AttemptAnswer),
                [
                    {
                        "attempt_id": attempt.id,
                        "position": pos,
                        "question_id": item.id,
                        "revision_id": item.revision_id,
                        "option_order": order,
                        "version": 0,
                    }
                    for pos, (item, order) in enumerate(drawn, start=1)
                ],
            )
        db.session.commit()
        # The freshly drawn items, so the response needs no query to read them.
        attempt.fresh_rows = [
            ItemRow(0, pos, item.id, item.revision_id, order, None, 0, None, "")
            for pos, (item, order) in enumerate(drawn, start=1)
        ]
    except IntegrityError:
        # Another request started one first: return that one.
        db.session.rollback()
        existing = open_attempt(user, contest)
        if existing is None:
            raise
        return existing, False
    return attempt, True


def _start_statement():
    """PostgreSQL, built once: insert the attempt and its drawn items in one
    statement (the attempt INSERT feeds the items through a data-modifying CTE;
    the items come as four parallel arrays)."""
    new = (
        insert(Attempt)
        .values(
            user_id=bindparam("p_user"),
            contest_id=bindparam("p_contest"),
            started_at=bindparam("p_started", type_=Attempt.started_at.type),
            deadline_at=bindparam("p_deadline", type_=Attempt.deadline_at.type),
        )
        .returning(Attempt.id)
        .cte("new_attempt")
    )
    items = (
        func.unnest(
            bindparam("p_positions", type_=ARRAY(Integer)),
            bindparam("p_questions", type_=ARRAY(Integer)),
            bindparam("p_revisions", type_=ARRAY(Integer)),
            bindparam("p_orders", type_=ARRAY(String)),
        )
        .table_valued("position", "question_id", "revision_id", "option_order")
        .render_derived(name="drawn")
    )
    source = select(
        new.c.id,
        items.c.position,
        items.c.question_id,
        items.c.revision_id,
        items.c.option_order,
        literal_column("0"),
    ).select_from(new.join(items, true()))
    columns = [
        "attempt_id",
        "position",
        "question_id",
        "revision_id",
        "option_order",
        "version",
    ]
    return (
        insert(AttemptAnswer)
        .from_select(columns, source)
        .add_cte(new)
        .returning(AttemptAnswer.attempt_id)
    )


_START = _start_statement()


def _insert_attempt_pg(user, contest, now, deadline, drawn) -> Attempt:
    """One round trip for the new attempt and its items (PostgreSQL); returns
    the attempt as a clean persistent object (nothing left to flush)."""
    attempt_id = (
        db.session.connection()
        .execute(
            _START,
            {
                "p_user": user.id,
                "p_contest": contest.id,
                "p_started": now,
                "p_deadline": deadline,
                "p_positions": list(range(1, len(drawn) + 1)),
                "p_questions": [item.id for item, _ in drawn],
                "p_revisions": [item.revision_id for item, _ in drawn],
                "p_orders": [order for _, order in drawn],
            },
        )
        .scalars()
        .first()
    )
    attempt = Attempt(
        id=attempt_id,
        user_id=user.id,
        contest_id=contest.id,
        started_at=now,
        deadline_at=deadline,
        finished_at=None,
        finish_kind=None,
        score=None,
        correct_count=None,
        duration_ms=None,
        rank_key=None,
        disqualified_at=None,
        disqualified_reason=None,
        disqualified_by=None,
    )
    make_transient_to_detached(attempt)
    db.session.add(attempt)
    return attempt


def lock_attempt(attempt_id: int, user: User) -> Attempt:
    """Load and lock the attempt row for this request (FOR UPDATE on PostgreSQL;
    SQLite transactions already hold the write lock)."""
    attempt = db.session.scalars(_LOCK, {"p_attempt": attempt_id}).first()
    if attempt is None or attempt.user_id != user.id:
        raise NotFound()
    return attempt


_LOCK = (
    select(Attempt)
    .where(Attempt.id == bindparam("p_attempt"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def get_attempt(attempt_id: int, user: User, *, now: datetime, grace_s: int) -> Attempt:
    """The citizen's own attempt, expired first if its time ran out; else NotFound."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != user.id:
        raise NotFound()
    if attempt.finished_at is None and now > attempt.deadline_at + timedelta(
        seconds=grace_s
    ):
        begin_write()  # a GET reads deferred on SQLite; the expiry below writes
        attempt = lock_attempt(attempt_id, user)
        expire_if_due(attempt, now=now, grace_s=grace_s)
    return attempt


#: the marking UPDATE, built once per process (see mark_items)
_MARK = (
    update(AttemptAnswer)
    .where(
        AttemptAnswer.attempt_id == bindparam("p_attempt"),
        QuestionRevision.id == AttemptAnswer.revision_id,
    )
    .values(
        is_correct=AttemptAnswer.choices.is_not_distinct_from(QuestionRevision.answer)
    )
)
_MARK_RETURNING = _MARK.returning(*ITEM_COLUMNS)


def mark_items(attempt_id: int) -> list[ItemRow]:
    """Mark every item of the attempt right or wrong against the key of the
    revision it drew (in the session's transaction); returns the items in
    display order. Run as a Core statement on the session's connection: the
    ORM's bulk-update path cost more than the statement itself."""
    conn = db.session.connection()
    if db.engine.dialect.name == "postgresql":
        # One round trip: RETURNING may name the joined revision there.
        found = conn.execute(_MARK_RETURNING, {"p_attempt": attempt_id})
        return sorted((ItemRow(*r) for r in found), key=lambda r: r.position)
    # SQLite's RETURNING cannot name the FROM table: read back separately.
    conn.execute(_MARK, {"p_attempt": attempt_id})
    return item_rows(attempt_id)


class _Result(NamedTuple):
    finished_at: datetime
    finish_kind: str
    duration_ms: int


class _Scored(NamedTuple):
    correct_count: int
    score: int
    rank_key: int


def scored(
    contest: Contest, rows: list[ItemRow], duration_ms: int, finished_at: datetime
) -> _Scored:
    """Correct count, score and rank key from an attempt's marked items."""
    correct = sum(1 for r in rows if r.is_correct)
    score = correct * contest.points_per_question
    return _Scored(
        correct, score, contest.codec.encode(score, duration_ms, finished_at)
    )


def apply_score(attempt: Attempt, contest: Contest, rows: list[ItemRow]) -> None:
    """Set score, correct count and rank key of a finished attempt from its
    marked items (no flush)."""
    result = scored(contest, rows, attempt.duration_ms, attempt.finished_at)
    attempt.correct_count, attempt.score, attempt.rank_key = result


def _finish(attempt: Attempt, *, finished_at: datetime, kind: str) -> None:
    """Score the locked attempt from its stored answers and mark it finished (flush)."""
    contest = contest_by_id(attempt.contest_id)
    rows = mark_items(attempt.id)
    attempt.fresh_rows = rows  # the result needs no second query
    duration = min(finished_at, attempt.deadline_at) - attempt.started_at
    result = _Result(finished_at, kind, max(int(duration.total_seconds() * 1000), 0))
    if db.engine.dialect.name == "postgresql":
        # One statement stores the result and moves the citizen's best; the
        # object gets the same values as committed state (nothing to flush).
        for name, value in zip(_Result._fields, result, strict=True):
            set_committed_value(attempt, name, value)
        score = scored(contest, rows, result.duration_ms, finished_at)
        for name, value in zip(_Scored._fields, score, strict=True):
            set_committed_value(attempt, name, value)
        boards.store_finish_and_best(attempt)
        return
    attempt.finished_at, attempt.finish_kind, attempt.duration_ms = result
    apply_score(attempt, contest, rows)
    db.session.flush()
    # The citizen's best (contest_best) moves in this same transaction.
    boards.record_best(attempt)


def expire_if_due(attempt: Attempt, *, now: datetime, grace_s: int) -> bool:
    """Finish an open attempt whose deadline (+ submit grace) passed, with the
    answers saved before the deadline and finished_at = deadline. Commits and
    updates the boards; returns True if the attempt is (now) finished."""
    if attempt.finished_at is not None:
        return True
    if now <= attempt.deadline_at + timedelta(seconds=grace_s):
        return False
    _finish(attempt, finished_at=attempt.deadline_at, kind="expired")
    db.session.commit()
    # The citizen's SQL best on every board (ZADD GT): also repairs an earlier
    # finish whose board write was lost after its commit.
    boards.restore_users(contest_by_id(attempt.contest_id), [attempt.user_id])
    return True


def submit_attempt(
    attempt_id: int, user: User, *, now: datetime, grace_s: int
) -> Attempt:
    """Finish and score the attempt exactly once; a repeat returns the same attempt.

    Within the grace after the deadline the submit is accepted with the answers
    saved before the deadline. Later, the attempt is expired (finished at its
    deadline) and AttemptClosed is raised.
    """
    attempt = lock_attempt(attempt_id, user)
    if attempt.finished_at is not None:
        db.session.rollback()
        # A repeat may follow a crash between the commit and the board write.
        boards.restore_users(contest_by_id(attempt.contest_id), [user.id])
        if attempt.finish_kind == "expired":
            raise AttemptClosed("答题时间已到，系统已按截止前保存的答案自动交卷")
        return attempt
    if expire_if_due(attempt, now=now, grace_s=grace_s):
        raise AttemptClosed("答题时间已到，系统已按截止前保存的答案自动交卷")
    _finish(attempt, finished_at=now, kind="submitted")
    db.session.commit()
    boards.record_finished(attempt, contest_by_id(attempt.contest_id), user)
    return attempt


def sweep_expired(*, now: datetime, grace_s: int, batch: int = 500) -> int:
    """Finish every abandoned attempt past deadline + grace (idempotent); count."""
    cutoff = now - timedelta(seconds=grace_s)
    done = 0
    while True:
        ids = list(
            db.session.scalars(
                select(Attempt.id)
                .where(Attempt.finished_at.is_(None), Attempt.deadline_at < cutoff)
                .order_by(Attempt.id)
                .limit(batch)
            )
        )
        db.session.rollback()
        if not ids:
            return done
        progress = 0
        for attempt_id in ids:
            # SKIP LOCKED: a row another request or sweeper holds is theirs.
            attempt = db.session.scalars(
                select(Attempt)
                .where(Attempt.id == attempt_id)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            ).first()
            if attempt is not None and attempt.finished_at is None:
                expire_if_due(attempt, now=now, grace_s=grace_s)
                progress += 1
            db.session.rollback()
        done += progress
        if len(ids) < batch or progress == 0:
            return done
