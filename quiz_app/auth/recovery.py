"""Getting back in: SMS reset codes, staff-issued one-time passwords and
password changes. Every function here takes `now` and commits once."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select, update

from ..extensions import db
from ..models import AuditEvent, ResetCode, User, UserSession
from .services import (
    CITIZEN_MIN_PASSWORD,
    COMMON_PASSWORDS,
    PHONE_RE,
    STAFF_MIN_PASSWORD,
    FieldError,
    check_password_rules,
    hash_password,
    normalize_phone,
    verify_password,
)

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
#: wrong codes after which a code is void (a new one must be requested)
MAX_TRIES = 5
TEMP_PASSWORD_DIGITS = 8


class CodeRejected(Exception):
    """Wrong, used, expired or voided code, or a phone without an account:
    one answer for all, so nobody learns which phones are registered."""

    message = "验证码不正确或已失效，请重新获取"


class OutOfScope(Exception):
    """The citizen belongs to a region this staff account does not cover."""


def _code_hash(secret: str, salt: str, code: str) -> str:
    return hmac.new(
        secret.encode(), f"{salt}:{code}".encode(), hashlib.sha256
    ).hexdigest()


def _audit(action: str, outcome: str, *, actor, obj, ip, now) -> None:
    db.session.add(
        AuditEvent(
            at=now,
            actor_id=actor.id if actor else None,
            ip=ip,
            action=action,
            object=obj,
            outcome=outcome,
        )
    )


def _masked(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:]


class IssuedCode(NamedTuple):
    phone: str
    code: str


def request_code(
    phone: str, *, secret: str, now: datetime, ip: str | None = None
) -> IssuedCode | None:
    """A fresh 6-digit code for the active account with this phone (commits),
    voiding its earlier codes; None for a phone without an active account.
    The caller answers both cases alike and sends the code, if any, by SMS.
    Raises FieldError for a malformed phone."""
    phone = normalize_phone(phone)
    if not PHONE_RE.fullmatch(phone):
        raise FieldError("phone", "请填写 11 位中国大陆手机号")
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_hex(16)
    digest = _code_hash(secret, salt, code)  # the same work for unknown phones
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None or user.disabled:
        return None
    db.session.execute(
        update(ResetCode)
        .where(ResetCode.user_id == user.id, ResetCode.voided_at.is_(None))
        .values(voided_at=now)
    )
    db.session.add(
        ResetCode(
            user_id=user.id,
            code_hash=digest,
            salt=salt,
            created_at=now,
            expires_at=now + CODE_TTL,
        )
    )
    _audit("reset_code_sent", "ok", actor=user, obj=_masked(phone), ip=ip, now=now)
    db.session.commit()
    return IssuedCode(phone, code)


def code_message(code: str) -> str:
    minutes = int(CODE_TTL.total_seconds() // 60)
    return (
        f"【唐山科普竞赛】您的重置密码验证码为 {code}，{minutes} 分钟内有效。"
        "请勿告诉他人。"
    )


def reset_with_code(
    phone: str,
    code: str,
    new_password: str,
    *,
    secret: str,
    now: datetime,
    ip: str | None = None,
) -> User:
    """Set a new password with the SMS code (commits): the code is used up,
    every session of the account ends and the reset is audited. A wrong code
    counts a try; MAX_TRIES wrong ones void the code. Raises CodeRejected
    (for every kind of failure of phone or code) or FieldError (password)."""
    phone = normalize_phone(phone)
    code = (code or "").strip()
    user = (
        db.session.scalar(select(User).where(User.phone == phone))
        if PHONE_RE.fullmatch(phone)
        else None
    )
    row = (
        db.session.scalar(
            select(ResetCode)
            .where(ResetCode.user_id == user.id, ResetCode.voided_at.is_(None))
            .order_by(ResetCode.id.desc())
            .limit(1)
            .with_for_update()
        )
        if user is not None and not user.disabled
        else None
    )
    if row is None or not row.usable(now):
        _code_hash(secret, "0" * 32, code)  # keep the timing alike
        db.session.rollback()
        raise CodeRejected()
    if not hmac.compare_digest(row.code_hash, _code_hash(secret, row.salt, code)):
        row.tries += 1
        if row.tries >= MAX_TRIES:
            row.voided_at = now
        _audit(
            "password_reset", "denied", actor=user, obj=_masked(phone), ip=ip, now=now
        )
        db.session.commit()
        raise CodeRejected()
    minimum = CITIZEN_MIN_PASSWORD if user.role == "citizen" else STAFF_MIN_PASSWORD
    check_password_rules(new_password, phone, minimum)
    row.voided_at = now
    _set_password(user, new_password, must_change=False)
    _revoke_sessions(user.id)
    _audit("password_reset", "ok", actor=user, obj=_masked(phone), ip=ip, now=now)
    db.session.commit()
    return user


def _set_password(user: User, password: str, *, must_change: bool) -> None:
    user.password_hash = hash_password(password)
    user.must_change_password = must_change


def _revoke_sessions(user_id: int, keep_token: str | None = None) -> None:
    stmt = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked.is_(False)
    )
    if keep_token is not None:
        stmt = stmt.where(UserSession.token != keep_token)
    db.session.execute(stmt.values(revoked=True))


def find_citizen(staff: User, phone: str) -> User | None:
    """The citizen with this phone, or None; raises OutOfScope when region
    staff ask about a citizen of another region, FieldError for a bad phone."""
    phone = normalize_phone(phone)
    if not PHONE_RE.fullmatch(phone):
        raise FieldError("phone", "请填写 11 位中国大陆手机号")
    user = db.session.scalar(
        select(User).where(User.phone == phone, User.role == "citizen")
    )
    if user is not None:
        check_scope(staff, user)
    return user


def check_scope(staff: User, citizen: User) -> None:
    """Admins and city-wide staff cover every region; region staff only theirs."""
    if citizen.role != "citizen":
        raise OutOfScope()
    if staff.role == "admin" or (staff.role == "staff" and staff.city_wide):
        return
    if staff.role == "staff" and staff.staff_region_code == citizen.region_code:
        return
    raise OutOfScope()


def temp_password(digits: int = TEMP_PASSWORD_DIGITS) -> str:
    """A random one-time password of `digits` digits (easy to read out on the
    phone), never one of the common passwords."""
    while True:
        candidate = "".join(secrets.choice("0123456789") for _ in range(digits))
        if candidate not in COMMON_PASSWORDS:
            return candidate


def staff_reset_password(
    staff: User, citizen: User, *, now: datetime, ip: str | None = None
) -> str:
    """Give a citizen a one-time password (commits) and return it, to be shown
    once. The citizen's sessions and open reset codes end, the next login must
    set a new password, and the reset is audited. Raises OutOfScope."""
    try:
        check_scope(staff, citizen)
    except OutOfScope:
        _audit(
            "staff_password_reset",
            "denied",
            actor=staff,
            obj=f"user:{citizen.id}",
            ip=ip,
            now=now,
        )
        db.session.commit()
        raise
    password = temp_password()
    _set_password(citizen, password, must_change=True)
    _revoke_sessions(citizen.id)
    db.session.execute(
        update(ResetCode)
        .where(ResetCode.user_id == citizen.id, ResetCode.voided_at.is_(None))
        .values(voided_at=now)
    )
    _audit(
        "staff_password_reset",
        "ok",
        actor=staff,
        obj=f"user:{citizen.id}",
        ip=ip,
        now=now,
    )
    db.session.commit()
    return password


def change_password(
    user: User,
    new_password: str,
    *,
    current_password: str | None,
    keep_token: str,
    now: datetime,
    ip: str | None = None,
) -> None:
    """Set a new password (commits). The current password is asked for unless
    the account must change a one-time password it has just logged in with.
    The account's other sessions end; this one (`keep_token`) stays. Raises
    FieldError."""
    if not user.must_change_password and not verify_password(
        user.password_hash, current_password or ""
    ):
        raise FieldError("current_password", "当前密码不正确")
    minimum = CITIZEN_MIN_PASSWORD if user.role == "citizen" else STAFF_MIN_PASSWORD
    check_password_rules(new_password, user.phone, minimum)
    if verify_password(user.password_hash, new_password):
        raise FieldError("password", "新密码不能与原密码相同")
    _set_password(user, new_password, must_change=False)
    _revoke_sessions(user.id, keep_token=keep_token)
    _audit("password_change", "ok", actor=user, obj=None, ip=ip, now=now)
    db.session.commit()
