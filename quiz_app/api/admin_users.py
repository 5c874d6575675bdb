"""Admin API of accounts (/api/v1/admin/users, admin only) and of the audit
log (/api/v1/admin/audit, organizer or admin): the same services as the
pages under /admin/accounts and /admin/audit."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request
from flask_login import current_user

from ..admin import accounts
from ..admin import audit as audit_log
from ..auth.decorators import roles_required
from ..auth.services import PhoneTaken
from ..clock import utcnow
from ..errors import api_error
from ..models import ROLES
from ..params import MAX_DB_INT, parse_int
from . import bp
from .admin_questions import invalid
from .views import body

MAX_PER_PAGE = 100


def _page_args() -> tuple[int | None, int | None, dict[str, str]]:
    problems = {}
    page = parse_int(request.args.get("page") or "1", lo=1, hi=MAX_DB_INT // 1000)
    per_page = parse_int(request.args.get("per_page") or "50", lo=1, hi=MAX_PER_PAGE)
    if page is None:
        problems["page"] = "page 应为正整数"
    if per_page is None:
        problems["per_page"] = f"per_page 应为 1 到 {MAX_PER_PAGE} 的整数"
    return page, per_page, problems


@bp.get("/admin/users")
@roles_required("admin")
def admin_users():
    page, per_page, problems = _page_args()
    role = request.args.get("role") or None
    if role is not None and role not in ROLES:
        problems["role"] = "role 应为 " + "、".join(ROLES) + " 之一"
    q = request.args.get("q") or None
    if q is not None and len(q) > 32:
        problems["q"] = "搜索词最多 32 个字"
    region = request.args.get("region") or None
    if region is not None and len(region) > 32:
        problems["region"] = "未知区县"
    if problems:
        return invalid(problems)
    found = accounts.search_users(
        role=role, q=q, region=region, page=page, per_page=per_page
    )
    return jsonify(
        {
            "items": [accounts.user_json(u) for u in found.items],
            "total": found.total,
            "page": found.page,
            "pages": found.pages,
        }
    )


def _text(data: dict[str, Any], key: str, fields: dict[str, str]) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    fields[key] = f"{key} 应为字符串"
    return None


def _flag(data: dict[str, Any], key: str, fields: dict[str, str]) -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    fields[key] = f"{key} 应为 true 或 false"
    return None


@bp.post("/admin/users")
@roles_required("admin")
def admin_create_user():
    data = body()
    fields: dict[str, str] = {}
    name = _text(data, "name", fields)
    phone = _text(data, "phone", fields)
    role = _text(data, "role", fields)
    region = _text(data, "region", fields)
    city_wide = _flag(data, "city_wide", fields)
    if fields:
        return invalid(fields)
    try:
        user, password = accounts.create_account(
            current_user,
            name=name or "",
            phone=phone or "",
            role=role or "",
            staff_region=region,
            city_wide=bool(city_wide),
            now=utcnow(),
            ip=request.remote_addr,
        )
    except accounts.AccountInvalid as exc:
        return invalid({"region" if k == "staff_region" else k: v
                        for k, v in exc.fields.items()})  # fmt: skip
    except PhoneTaken:
        return api_error(409, "exists", "该手机号已有账号")
    resp = jsonify({"user": accounts.user_json(user), "one_time_password": password})
    resp.status_code = 201
    return resp


PATCH_FIELDS = {"disabled", "role", "region", "city_wide", "reset_password"}


@bp.patch("/admin/users/<int:user_id>")
@roles_required("admin")
def admin_update_user(user_id: int):
    data = body()
    user = accounts.get_account(user_id)
    if user is None:
        return api_error(404, "not_found", "账号不存在")
    fields: dict[str, str] = {
        key: "没有这个字段" for key in sorted(set(data) - PATCH_FIELDS)
    }
    disabled = _flag(data, "disabled", fields)
    role = _text(data, "role", fields)
    city_wide = _flag(data, "city_wide", fields)
    region = _text(data, "region", fields)
    reset = _flag(data, "reset_password", fields)
    if ("region" in data) != ("city_wide" in data) and not fields:
        fields["region"] = "更改管辖范围时请同时给出 region 和 city_wide"
    if fields:
        return invalid(fields)
    scope = "region" in data
    try:
        password = accounts.update_account(
            current_user,
            user,
            disabled=disabled,
            role=role,
            staff_region=(region or "") if scope else None,
            city_wide=bool(city_wide) if scope else None,
            reset_password=bool(reset),
            now=utcnow(),
            ip=request.remote_addr,
        )
    except accounts.AccountInvalid as exc:
        return invalid({"region" if k == "staff_region" else k: v
                        for k, v in exc.fields.items()})  # fmt: skip
    except accounts.AccountRefused as exc:
        return api_error(409, "refused", exc.message)
    out: dict[str, Any] = {"user": accounts.user_json(user)}
    if password is not None:
        out["one_time_password"] = password
    resp = jsonify(out)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/admin/audit")
@roles_required("organizer", "admin")
def admin_audit():
    page, per_page, problems = _page_args()
    f, filter_problems = audit_log.parse_filter(
        request.args, current_app.config["QUIZ_TIMEZONE"]
    )
    problems.update(filter_problems)
    if problems:
        return invalid(problems)
    found = audit_log.search(f, page=page, per_page=per_page)
    return jsonify(
        {
            "items": [audit_log.event_json(e, u) for e, u in found.items],
            "total": found.total,
            "page": found.page,
            "pages": found.pages,
        }
    )
