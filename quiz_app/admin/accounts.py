"""Accounts kept by admins: list and search, create organizer and staff
accounts, disable and enable, change role or staff scope, reset a password.

The pages and the API both call these functions. Each change commits once,
together with its audit event, or changes nothing (AccountInvalid,
AccountRefused, PhoneTaken). A new account and a reset get a one-time
password that is returned once and never stored in clear: the next login
must replace it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError

from ..auth.recovery import temp_password
from ..auth.services import (
    PhoneTaken,
    add_audit,
    hash_password,
    identity_problems,
    normalize_phone,
    revoke_all_sessions,
)
from ..db import begin_write
from ..extensions import db
from ..models import ResetCode, User
from ..regions import get_region

#: roles an admin may give (citizens register themselves)
STAFF_ROLES = ("organizer", "staff", "admin")
#: roles a new account may get here (admins are made with `flask user create`)
CREATE_ROLES = ("organizer", "staff")
#: one-time passwords of organizer, staff and admin accounts (citizens: 8)
STAFF_OTP_DIGITS = 12
#: home region of accounts that are not tied to a county
DEFAULT_REGION = "shizhi"
ROLE_NAMES = {
    "citizen": "参赛者",
    "organizer": "组织者",
    "staff": "工作人员",
    "admin": "管理员",
}


class AccountInvalid(ValueError):
    """Bad input, by field (Chinese messages); nothing was changed."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(next(iter(fields.values())))
        self.fields = fields


class AccountRefused(Exception):
    """A guard rail: the change is well-formed but not allowed (409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Page:
    items: list[User]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)


def search_users(
    *,
    role: str | None = None,
    q: str | None = None,
    region: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Accounts newest first. `q` matches part of the name or of the phone;
    `region` matches the home region or a staff account's region."""
    stmt = select(User)
    if role:
        stmt = stmt.where(User.role == role)
    if region:
        stmt = stmt.where(
            or_(User.region_code == region, User.staff_region_code == region)
        )
    q = (q or "").strip()
    if q:
        digits = normalize_phone(q)
        like = "%" + q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        conds = [User.name.like(like + "%", escape="\\")]
        if digits.isascii() and digits.isdigit():
            conds.append(User.phone.like(f"%{digits}%"))
        stmt = stmt.where(or_(*conds))
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    items = list(
        db.session.scalars(
            stmt.order_by(User.id.desc()).limit(per_page).offset((page - 1) * per_page)
        )
    )
    return Page(items, total or 0, page, per_page)


def user_json(user: User) -> dict[str, Any]:
    """An account as the admin API shows it (the full phone: admins only)."""
    return {
        "id": user.id,
        "name": user.name,
        "phone": user.phone,
        "role": user.role,
        "region": user.region_code,
        "staff_region": user.staff_region_code,
        "city_wide": user.city_wide,
        "disabled": user.disabled,
        "must_change_password": user.must_change_password,
        "created_at": user.created_at,
    }


def _scope_problems(
    role: str, staff_region: str | None, city_wide: bool | None
) -> dict[str, str]:
    if role != "staff":
        if staff_region or city_wide:
            return {"staff_region": "只有工作人员账号有管辖范围"}
        return {}
    if bool(staff_region) == bool(city_wide):
        return {"staff_region": "工作人员账号须选择一个管辖区县，或明确选择全市范围"}
    if staff_region and get_region(staff_region) is None:
        return {"staff_region": "请选择管辖区县"}
    return {}


def _event(action: str, actor: User, target: User, detail: str, ip, now) -> None:
    obj = f"user:{target.id} {target.role}" + (f" {detail}" if detail else "")
    add_audit(action, outcome="ok", actor=actor, ip=ip, obj=obj, now=now)


def create_account(
    actor: User,
    *,
    name: str,
    phone: str,
    role: str,
    staff_region: str | None = None,
    city_wide: bool = False,
    now: datetime,
    ip: str | None = None,
) -> tuple[User, str]:
    """A new organizer or staff account with a one-time password
    (commits); returns (user, password). Staff need exactly one scope.
    Raises AccountInvalid (every bad field at once) or PhoneTaken."""
    name = (name or "").strip()
    phone = normalize_phone(phone or "")
    fields = dict(identity_problems(name, phone))
    if role not in CREATE_ROLES:
        fields["role"] = "请选择组织者或工作人员"
    else:
        fields.update(_scope_problems(role, staff_region, city_wide))
    if fields:
        raise AccountInvalid(fields)
    begin_write()
    if db.session.scalar(select(User.id).where(User.phone == phone)):
        raise PhoneTaken()
    password = temp_password(STAFF_OTP_DIGITS)
    user = User(
        name=name,
        phone=phone,
        region_code=staff_region or DEFAULT_REGION,
        password_hash=hash_password(password),
        role=role,
        staff_region_code=staff_region if role == "staff" else None,
        city_wide=bool(city_wide) if role == "staff" else False,
        must_change_password=True,
        created_at=now,
    )
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:  # the same phone, registered a moment ago
        db.session.rollback()
        raise PhoneTaken()
    _event("account_create", actor, user, _scope_text(user), ip, now)
    db.session.commit()
    return user, password


def _scope_text(user: User) -> str:
    if user.role != "staff":
        return ""
    return "scope:city" if user.city_wide else f"scope:{user.staff_region_code}"


def _other_enabled_admins(user: User) -> int:
    """Enabled admins besides `user` (their rows are locked by _update)."""
    return db.session.scalar(
        select(func.count(User.id)).where(
            User.role == "admin", User.disabled.is_(False), User.id != user.id
        )
    )


def get_account(user_id: int) -> User | None:
    return db.session.get(User, user_id)


def update_account(
    actor: User,
    user: User,
    *,
    disabled: bool | None = None,
    role: str | None = None,
    staff_region: str | None = None,
    city_wide: bool | None = None,
    reset_password: bool = False,
    now: datetime,
    ip: str | None = None,
) -> str | None:
    """Apply the given changes (None = leave as is) in one commit, each
    audited; returns the one-time password when `reset_password`.

    Guard rails (AccountRefused): an admin cannot disable or demote
    themselves, the last enabled admin stays enabled and an admin, and a
    citizen account keeps its role (it may be disabled, enabled or reset).
    Disabling revokes every session of the account at once. `staff_region` /
    `city_wide` set a staff account's one scope (both given, one truthy).
    Raises AccountInvalid for bad values.
    """
    begin_write()
    try:
        return _update(actor, user, disabled, role, staff_region, city_wide,
                       reset_password, now, ip)  # fmt: skip
    except (AccountInvalid, AccountRefused):
        db.session.rollback()
        raise


def _update(actor, user, disabled, role, staff_region, city_wide, reset_password,
            now, ip) -> str | None:  # fmt: skip
    if user.role == "admin":
        # Every admin row, in id order, before the target: two admins
        # disabling each other queue up here instead of deadlocking.
        db.session.scalars(
            select(User.id)
            .where(User.role == "admin")
            .order_by(User.id)
            .with_for_update()
        ).all()
    db.session.refresh(user, with_for_update=True)
    fields: dict[str, str] = {}
    new_role = user.role if role is None else role
    if role is not None and role not in STAFF_ROLES:
        fields["role"] = "请选择组织者、工作人员或管理员"
    scope_given = staff_region is not None or city_wide is not None
    if role is not None and user.role == "citizen" and role != "citizen":
        raise AccountRefused("参赛者账号不能改为组织者、工作人员或管理员")
    if scope_given and user.role == "citizen":
        raise AccountRefused("参赛者账号没有管辖范围")
    if not fields and new_role == "staff":
        if scope_given:
            region, wide = staff_region or None, bool(city_wide)
        elif user.role == "staff":
            region, wide = user.staff_region_code, user.city_wide
        else:
            region, wide = None, False
        fields.update(_scope_problems("staff", region, wide))
    elif not fields and scope_given and (staff_region or city_wide):
        fields.update(_scope_problems(new_role, staff_region, city_wide))
    if fields:
        raise AccountInvalid(fields)
    myself = user.id == actor.id
    if disabled and not user.disabled:
        if myself:
            raise AccountRefused("不能停用自己的账号")
        if user.role == "admin" and _other_enabled_admins(user) == 0:
            raise AccountRefused("这是最后一个启用的管理员账号，不能停用")
    if user.role == "admin" and new_role != "admin":
        if myself:
            raise AccountRefused("不能取消自己的管理员角色")
        if not user.disabled and _other_enabled_admins(user) == 0:
            raise AccountRefused("这是最后一个启用的管理员账号，不能改为其他角色")
    password = None
    if new_role != user.role:
        old = user.role
        user.role = new_role
        if new_role != "staff":
            user.staff_region_code, user.city_wide = None, False
        else:
            user.staff_region_code = staff_region or None
            user.city_wide = bool(city_wide)
        revoke_all_sessions(user.id)  # its pages change: log in again
        _event("account_role", actor, user, f"from:{old}", ip, now)
    elif new_role == "staff" and scope_given:
        region, wide = staff_region or None, bool(city_wide)
        if (region, wide) != (user.staff_region_code, user.city_wide):
            before = _scope_text(user)
            user.staff_region_code, user.city_wide = region, wide
            revoke_all_sessions(user.id)
            _event("account_scope", actor, user, f"from:{before}", ip, now)
    if disabled is not None and disabled != user.disabled:
        user.disabled = disabled
        if disabled:
            revoke_all_sessions(user.id)
        _event(
            "account_disable" if disabled else "account_enable",
            actor,
            user,
            "",
            ip,
            now,
        )
    if reset_password:
        digits = None if user.role == "citizen" else STAFF_OTP_DIGITS
        password = temp_password(digits) if digits else temp_password()
        user.password_hash = hash_password(password)
        user.must_change_password = True
        revoke_all_sessions(user.id)
        db.session.execute(
            update(ResetCode)
            .where(ResetCode.user_id == user.id, ResetCode.voided_at.is_(None))
            .values(voided_at=now)
        )
        _event("account_password_reset", actor, user, "", ip, now)
    db.session.commit()
    return password
