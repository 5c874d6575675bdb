"""A citizen's personal data (PIPL): ranking consent, what is stored, deletion,
and the retention purge.

Deleting an account and purging it after the retention period are the same
operation, `anonymise`: the user row stays (attempts, answers and bests keep
pointing at it, so figures per region stay right) but name and phone become a
tombstone, the password can never match, and every row that only serves the
person (sessions, reset codes, certificates, practice rounds) is deleted. The
row is marked by `deleted_at`, never by a string convention.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from ..auth.services import audit, verify_password
from ..db import begin_write
from ..extensions import db
from ..models import (
    Attempt,
    AuditEvent,
    Certificate,
    Contest,
    PracticeItem,
    PracticeRound,
    ResetCode,
    User,
    UserSession,
)

#: what an anonymised account is called wherever a name is shown
TOMBSTONE_NAME = "已注销用户"
#: ids per IN (...) list: well below every driver's parameter limit
CHUNK = 500


def tombstone_phone(user_id: int) -> str:
    """A unique, non-identifying stand-in for the phone: 11 characters, like
    a number, but it starts with 'x', so it matches no mobile number (login,
    recovery and registration refuse it) and the real number is free again."""
    return f"x{user_id:010d}"


class PrivacyError(ValueError):
    """A refused request; `field` names the input, `message` is Chinese."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


# ---------------------------------------------------------------- consent


def set_ranking_consent(
    user: User, consent: bool, *, now: datetime, ip: str | None
) -> bool:
    """Give or withdraw the consent to appear by masked name on public boards
    (commits, audited), then republish the citizen's name on every board.
    Returns whether the value changed; an unchanged value writes nothing."""
    if user.role != "citizen":
        raise PrivacyError("public_ranking", "只有参赛者账号出现在排行榜上", 403)
    begin_write()
    row = db.session.get(User, user.id, with_for_update=True)
    if row.public_ranking == bool(consent):
        db.session.rollback()
        return False
    row.public_ranking = bool(consent)
    row.public_ranking_at = now
    audit(
        "ranking_consent",
        outcome="given" if consent else "withdrawn",
        actor=row,
        ip=ip,
        now=now,
    )  # commits the change with its event
    _republish([row.id])
    user.public_ranking, user.public_ranking_at = row.public_ranking, now
    return True


def _republish(user_ids: Iterable[int]) -> None:
    from ..leaderboard.services import rename_users

    rename_users(user_ids)


# ---------------------------------------------------------------- what is stored


def personal_data(user: User) -> dict[str, Any]:
    """Every personal field held about `user`, as JSON-ready data (times are
    aware datetimes; the JSON encoder gives them the display offset)."""
    account = {
        "id": user.id,
        "name": user.name,
        "phone": user.phone,
        "region": user.region_code,
        "region_name": user.region.name,
        "role": user.role,
        "registered_at": user.created_at,
        "public_ranking": user.public_ranking,
        "public_ranking_at": user.public_ranking_at,
        "must_change_password": user.must_change_password,
        "password": "只保存不可逆的哈希值（Argon2id）",
    }
    sessions = [
        {
            "created_at": s.created_at,
            "last_seen_at": s.last_seen_at,
            "revoked": s.revoked,
        }
        for s in db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id)
            .order_by(UserSession.created_at.desc())
        )
    ]
    attempts = [
        {
            "id": a.id,
            "contest": title,
            "started_at": a.started_at,
            "finished_at": a.finished_at,
            "status": a.status,
            "score": a.score,
            "duration_ms": a.duration_ms,
            "answers_saved": answered,
            "cancelled_reason": a.disqualified_reason,
        }
        for a, title, answered in db.session.execute(
            select(Attempt, Contest.title, _answered(Attempt.id))
            .join(Contest, Contest.id == Attempt.contest_id)
            .where(Attempt.user_id == user.id)
            .order_by(Attempt.started_at.desc())
        )
    ]
    certificates = [
        {"contest": title, "code": c.code, "issued_at": c.issued_at}
        for c, title in db.session.execute(
            select(Certificate, Contest.title)
            .join(Contest, Contest.id == Certificate.contest_id)
            .where(Certificate.user_id == user.id)
            .order_by(Certificate.issued_at.desc())
        )
    ]
    answered_items = (
        select(func.count(PracticeItem.id))
        .where(
            PracticeItem.round_id == PracticeRound.id,
            PracticeItem.answered_at.is_not(None),
        )
        .scalar_subquery()
    )
    practice = [
        {
            "started_at": r.started_at,
            "day": r.day.isoformat(),
            "questions": r.size,
            "answered": answered,
        }
        for r, answered in db.session.execute(
            select(PracticeRound, answered_items)
            .where(PracticeRound.user_id == user.id)
            .order_by(PracticeRound.started_at.desc())
        )
    ]
    reset_codes = [
        {"created_at": c.created_at, "expires_at": c.expires_at, "used": c.voided_at}
        for c in db.session.scalars(
            select(ResetCode)
            .where(ResetCode.user_id == user.id)
            .order_by(ResetCode.created_at.desc())
        )
    ]
    events = [
        {"at": e.at, "action": e.action, "outcome": e.outcome, "ip": e.ip}
        for e in db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor_id == user.id)
            .order_by(AuditEvent.at.desc())
            .limit(200)
        )
    ]
    return {
        "account": account,
        "sessions": sessions,
        "attempts": attempts,
        "certificates": certificates,
        "practice": practice,
        "reset_codes": reset_codes,
        "security_log": events,
    }


def _answered(attempt_id):
    from ..models import AttemptAnswer

    return (
        select(func.count(AttemptAnswer.id))
        .where(
            AttemptAnswer.attempt_id == attempt_id,
            AttemptAnswer.choices.is_not(None),
        )
        .scalar_subquery()
    )


# ---------------------------------------------------------------- anonymising


def _chunks(ids: list[int]):
    for i in range(0, len(ids), CHUNK):
        yield ids[i : i + CHUNK]


def _anonymise(user_ids: list[int], now: datetime) -> None:
    """Remove the identity of these accounts inside the caller's transaction
    (no commit). Attempts, answers and bests stay, now anonymous."""
    for part in _chunks(user_ids):
        for uid in part:
            db.session.execute(
                update(User)
                .where(User.id == uid)
                .values(
                    name=TOMBSTONE_NAME,
                    phone=tombstone_phone(uid),
                    # not a hash of anything: no password ever matches it
                    password_hash="!deleted:" + secrets.token_hex(8),
                    public_ranking=False,
                    public_ranking_at=now,
                    must_change_password=False,
                    disabled=True,
                    deleted_at=now,
                )
            )
        rounds = select(PracticeRound.id).where(PracticeRound.user_id.in_(part))
        db.session.execute(
            delete(PracticeItem).where(PracticeItem.round_id.in_(rounds))
        )
        db.session.execute(delete(PracticeRound).where(PracticeRound.user_id.in_(part)))
        for model in (UserSession, ResetCode, Certificate):
            db.session.execute(delete(model).where(model.user_id.in_(part)))


def delete_account(user: User, password: str, *, now: datetime, ip: str | None) -> None:
    """The citizen deletes their own account, confirmed with the password
    (commits, audited by account id only). Their results stay, anonymous:
    the boards then show them as 匿名参赛者, certificates stop verifying, and
    the phone number may register again."""
    if user.role != "citizen":
        raise PrivacyError("password", "工作人员账号请联系管理员处理", 403)
    begin_write()
    row = db.session.get(User, user.id, with_for_update=True)
    if row is None or row.deleted_at is not None:
        db.session.rollback()
        raise PrivacyError("password", "账号已注销", 409)
    if not isinstance(password, str) or not verify_password(
        row.password_hash, password
    ):
        db.session.rollback()
        raise PrivacyError("password", "密码不正确")
    uid = row.id
    _anonymise([uid], now)
    audit("account_delete", outcome="ok", actor=row, ip=ip, now=now)
    _republish([uid])


# ---------------------------------------------------------------- retention


@dataclass
class PurgeReport:
    before: datetime
    user_ids: list[int]
    applied: bool

    @property
    def count(self) -> int:
        return len(self.user_ids)


def _last_activity_after(before: datetime):
    """Citizens with any sign of activity at or after `before`: registration,
    the end of a contest they took part in, an attempt's start or finish, a
    practice round, the use of a session."""
    return or_(
        User.created_at >= before,
        select(Attempt.id)
        .join(Contest, Contest.id == Attempt.contest_id)
        .where(
            Attempt.user_id == User.id,
            or_(
                Contest.ends_at >= before,
                Attempt.started_at >= before,
                Attempt.finished_at >= before,
                Attempt.finished_at.is_(None),
            ),
        )
        .exists(),
        select(PracticeRound.id)
        .where(PracticeRound.user_id == User.id, PracticeRound.started_at >= before)
        .exists(),
        select(UserSession.id)
        .where(UserSession.user_id == User.id, UserSession.last_seen_at >= before)
        .exists(),
    )


def purge_candidates(before: datetime) -> list[int]:
    """Citizen accounts, not yet anonymised, whose last contest activity
    ended before `before`. Organizer, staff and admin accounts never."""
    return list(
        db.session.scalars(
            select(User.id)
            .where(
                User.role == "citizen",
                User.deleted_at.is_(None),
                ~_last_activity_after(before),
            )
            .order_by(User.id)
        )
    )


def purge(
    before: datetime, *, now: datetime, apply: bool, actor: User | None = None
) -> PurgeReport:
    """Anonymise every candidate of `before` in one transaction (apply=True,
    audited with the count), or only count them (apply=False, writes
    nothing). `before` may not be later than `now`: a running or future
    contest's citizens are never purged."""
    if before > now:
        raise PrivacyError("before", "截止日期不能晚于现在")
    begin_write()
    ids = purge_candidates(before)
    if not apply:
        db.session.rollback()
        return PurgeReport(before, ids, False)
    _anonymise(ids, now)
    audit(
        "privacy_purge",
        outcome=f"ok:{len(ids)}",
        actor=actor,
        obj=f"before:{before.isoformat()}",
        now=now,
    )  # one commit: every account or none
    _republish(ids)
    return PurgeReport(before, ids, True)
