"""Disqualification: an organizer cancels a finished attempt's result.

The attempt keeps its score and review, but its rank key is set to NULL.
Every ranking read (Redis boards and their rebuild, contest_best and the SQL
fallback, a citizen's best attempt, regrade's key arithmetic) already counts
only attempts with a key, so clearing it is the one change that takes the
attempt out of all of them at once; no ranking query needs a second filter
that a future query could forget.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ..auth.services import audit
from ..db import begin_write
from ..extensions import db
from ..items import services as item_stats
from ..leaderboard import fallback, recompute
from ..models import Attempt, User
from .contests import contest_by_id
from .errors import AttemptStillOpen, InvalidRules, NotFound

REASON_MAX = 200


def disqualify_attempt(
    attempt_id: int,
    reason: str,
    *,
    actor: User,
    ip: str | None,
    now: datetime,
) -> tuple[Attempt, bool]:
    """Cancel the result of a finished attempt. Returns (attempt, changed).

    Commits the attempt, the citizen's recomputed best (contest_best) and an
    audit event together, then recomputes the citizen's entries on every
    board (their next-best attempt takes the place, or they leave the board).
    Repeating it changes nothing and returns changed=False. Raises NotFound,
    AttemptStillOpen (409) and InvalidRules (422, field `reason`).
    """
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidRules({"reason": "请填写取消成绩的原因"})
    if len(reason) > REASON_MAX:
        raise InvalidRules({"reason": f"原因不能超过 {REASON_MAX} 个字"})
    begin_write()
    attempt = db.session.scalars(
        select(Attempt)
        .where(Attempt.id == attempt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if attempt is None:
        db.session.rollback()
        raise NotFound("没有这个答题记录")
    if attempt.disqualified_at is not None:
        db.session.rollback()
        return attempt, False
    if attempt.finished_at is None:
        db.session.rollback()
        raise AttemptStillOpen()
    contest = contest_by_id(attempt.contest_id)
    # Out of the item statistics too (before the flag hides it from them).
    item_stats.retract(contest, [attempt.id])
    attempt.disqualified_at = now
    attempt.disqualified_reason = reason
    attempt.disqualified_by = actor.id
    attempt.rank_key = None
    db.session.flush()
    fallback.refresh_best(contest, [attempt.user_id])
    audit(
        "disqualify",
        outcome="ok",
        actor=actor,
        ip=ip,
        obj=f"contest:{attempt.contest_id} attempt:{attempt.id} reason:{reason}",
        now=now,
    )  # commits the attempt, its citizen's best and the event together
    recompute.refresh_users(contest, [attempt.user_id])
    return attempt, True


def find_attempts(
    contest_id: int, *, attempt_id: int | None = None, phone: str | None = None
) -> list[Attempt]:
    """A contest's attempts by attempt id or by the citizen's phone, newest first."""
    q = select(Attempt).where(Attempt.contest_id == contest_id)
    if attempt_id is not None:
        q = q.where(Attempt.id == attempt_id)
    elif phone:
        q = q.join(User, User.id == Attempt.user_id).where(User.phone == phone)
    else:
        return []
    return list(db.session.scalars(q.order_by(Attempt.started_at.desc()).limit(50)))
