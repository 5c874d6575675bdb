"""JSON API v1 (reference: docs/api.md). Errors are {"error": {"code", "message"}}."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, jsonify, request, session
from flask_login import current_user, logout_user
from flask_wtf.csrf import generate_csrf
from werkzeug.exceptions import HTTPException

from ..auth import recovery
from ..auth import services as accounts
from ..auth.decorators import roles_required
from ..auth.limits import (
    answer_limit,
    forgot_limits,
    login_limits,
    note_login_failure,
    register_limits,
    reset_limits,
    verify_limits,
)
from ..auth.recovery_views import SENT_MESSAGE, send_code
from ..auth.views import log_in
from ..certificate import services as certificates
from ..certificate.views import my_certificate
from ..clock import utcnow
from ..contest import services as svc
from ..contest.presenters import attempt_view, result_view
from ..errors import api_error
from ..extensions import db
from ..leaderboard import services as boards
from ..models import Contest
from ..params import MAX_DB_INT, json_int, parse_int
from ..regions import all_regions, known_region
from . import bp


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadBody()
    return data


class BadBody(Exception):
    pass


@bp.errorhandler(BadBody)
def bad_body(_exc):
    return api_error(400, "bad_json", "请求体必须是 JSON 对象")


@bp.errorhandler(svc.ContestError)
def contest_error(exc: svc.ContestError):
    return api_error(exc.status, exc.code, exc.message)


@bp.errorhandler(accounts.FieldError)
def field_error(exc: accounts.FieldError):
    taken = isinstance(exc, accounts.PhoneTaken)
    error = {
        "code": "phone_taken" if taken else "invalid_field",
        "message": exc.message,
        "field": exc.field,
    }
    return jsonify({"error": error}), 409 if taken else 422


#: Days a day board may name: far wider than any contest, inside the calendar.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def grace() -> int:
    return current_app.config["SUBMIT_GRACE_S"]


def user_json(user) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "phone": user.phone,
        "region": user.region_code,
        "role": user.role,
        "public_ranking": user.public_ranking,
    }


def contest_json(contest: Contest, now) -> dict[str, Any]:
    return {
        "id": contest.id,
        "title": contest.title,
        "starts_at": contest.starts_at,
        "ends_at": contest.ends_at,
        "time_limit_s": contest.time_limit_s,
        "questions_per_attempt": contest.questions_per_attempt,
        "attempts_per_day": contest.attempts_per_day,
        "points_per_question": contest.points_per_question,
        "max_score": contest.max_score,
        "status": contest.status(now),
    }


@bp.get("/csrf")
def csrf_token():
    return jsonify({"csrf_token": generate_csrf()})


@bp.get("/regions")
def regions():
    return jsonify(
        [{"code": r.code, "name": r.name, "kind": r.kind} for r in all_regions()]
    )


@bp.post("/auth/register")
@register_limits
def register():
    data = body()
    user = accounts.register_citizen(
        name=str(data.get("name", "")),
        phone=str(data.get("phone", "")),
        region=str(data.get("region", "")),
        password=data.get("password", ""),
        public_ranking=data.get("public_ranking") is True,
        signup_net=accounts.network_hash(
            request.remote_addr, current_app.config["SECRET_KEY"]
        ),
        now=utcnow(),
    )
    log_in(user, utcnow())
    return jsonify({"user": user_json(user)}), 201


@bp.post("/auth/login")
@login_limits
def login():
    data = body()
    now = utcnow()
    phone, password = data.get("phone"), data.get("password")
    if not isinstance(phone, str) or not isinstance(password, str):
        return api_error(422, "invalid_field", "请填写手机号和密码")
    user = accounts.authenticate(phone, password)
    if user is None:
        note_login_failure()
        accounts.audit(
            "login",
            outcome="denied",
            ip=request.remote_addr,
            obj=accounts.normalize_phone(phone)[:3] + "****",
            now=now,
        )
        return api_error(401, "bad_credentials", "手机号或密码不正确")
    log_in(user, now)
    accounts.audit("login", outcome="ok", actor=user, ip=request.remote_addr, now=now)
    return jsonify({"user": user_json(user)})


@bp.post("/auth/logout")
@roles_required()
def logout():
    """Ends this device's session only."""
    accounts.end_session(current_user)
    logout_user()
    session.clear()
    return "", 204


@bp.post("/auth/logout-all")
@roles_required()
def logout_all():
    """Ends every session of the account (log out everywhere)."""
    accounts.end_all_sessions(current_user)
    logout_user()
    session.clear()
    return "", 204


@bp.post("/auth/forgot")
@forgot_limits
def forgot():
    """Send a reset code by SMS; the same 202 whether the phone has an account."""
    phone = body().get("phone")
    if not isinstance(phone, str):
        return api_error(422, "invalid_field", "请填写手机号")
    send_code(phone)
    return jsonify({"sent": True, "message": SENT_MESSAGE}), 202


@bp.post("/auth/reset")
@reset_limits
def reset_password():
    """Code + new password: 200, and every session of the account ends."""
    data = body()
    phone, code, password = data.get("phone"), data.get("code"), data.get("password")
    if not all(isinstance(v, str) for v in (phone, code, password)):
        return api_error(422, "invalid_field", "请填写手机号、验证码和新密码")
    try:
        recovery.reset_with_code(
            phone,
            code,
            password,
            secret=current_app.config["SECRET_KEY"],
            now=utcnow(),
            ip=request.remote_addr,
        )
    except recovery.CodeRejected as exc:
        return api_error(400, "bad_code", exc.message)
    return jsonify({"reset": True})


@bp.post("/auth/change-password")
@roles_required()
def change_password():
    """`{"current_password", "password"}` (no current password right after a
    staff reset): 200; the account's other sessions end, this one stays."""
    data = body()
    current, password = data.get("current_password"), data.get("password")
    if not isinstance(password, str) or not isinstance(current, str | None):
        return api_error(422, "invalid_field", "请填写新密码")
    recovery.change_password(
        current_user,
        password,
        current_password=current,
        keep_token=current_user.session_token,
        now=utcnow(),
        ip=request.remote_addr,
    )
    session.pop("must_change", None)
    return jsonify({"changed": True})


@bp.get("/contest")
def contest():
    now = utcnow()
    c = svc.current_contest(now)
    if c is None:
        return api_error(404, "no_contest", "当前没有竞赛")
    return jsonify(contest_json(c, now))


def _contest_for(data: dict[str, Any], now) -> Contest:
    raw = data.get("contest_id")
    if raw is None:
        c = svc.current_contest(now)
    elif (cid := json_int(raw, lo=1, hi=MAX_DB_INT)) is not None:
        c = db.session.get(Contest, cid)
    else:
        raise svc.InvalidChoice("contest_id 必须是正整数")
    if c is None:
        raise svc.NotFound("竞赛不存在")
    return c


@bp.post("/attempts")
@roles_required("citizen")
def start_attempt():
    now = utcnow()
    data = body()
    attempt, created = svc.start_attempt(
        current_user, _contest_for(data, now), now=now, grace_s=grace()
    )
    return jsonify(attempt_view(attempt, now)), 201 if created else 200


@bp.get("/attempts/<int:attempt_id>")
@roles_required()
def get_attempt(attempt_id: int):
    now = utcnow()
    attempt = svc.get_attempt(attempt_id, current_user, now=now, grace_s=grace())
    return jsonify(attempt_view(attempt, now))


@bp.put("/attempts/<int:attempt_id>/answers/<int:position>")
@answer_limit
def save_answer(attempt_id: int, position: int):
    # The hottest endpoint: the session's claim is checked inside the save's
    # single SQL statement instead of loading the user first.
    principal = accounts.session_principal(session.get("_user_id"))
    if principal is None:
        return api_error(401, "not_logged_in", "请先登录")
    now = utcnow()
    data = body()
    choices = data.get("choices")
    version = data.get("version")
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise svc.InvalidChoice("choices 必须是选项字母的列表")
    if version is not None and json_int(version, lo=0, hi=MAX_DB_INT) is None:
        raise svc.InvalidChoice("version 必须是不小于 0 的整数")
    saved = svc.save_answer(
        attempt_id, principal, position, choices, now=now, expected_version=version
    )
    remaining = max(int((saved.deadline_at - now).total_seconds()), 0)
    return jsonify({"saved": True, "remaining_s": remaining, "version": saved.version})


@bp.post("/attempts/<int:attempt_id>/submit")
@roles_required()
def submit_attempt(attempt_id: int):
    now = utcnow()
    attempt = svc.submit_attempt(attempt_id, current_user, now=now, grace_s=grace())
    return jsonify(result_view(attempt))


@bp.get("/me/attempts")
@roles_required("citizen")
def my_attempts():
    now = utcnow()
    c = svc.current_contest(now)
    if c is None:
        return jsonify({"attempts": [], "best": None, "attempts_left_today": 0})
    items = svc.user_attempts(current_user, c)
    for a in items:
        if a.finished_at is None:
            svc.get_attempt(a.id, current_user, now=now, grace_s=grace())

    def row(a):
        return {
            "id": a.id,
            "status": a.status,
            "score": a.score,
            "duration_ms": a.duration_ms,
            "started_at": a.started_at,
            "finished_at": a.finished_at,
        }

    best = svc.best_attempt(items)
    return jsonify(
        {
            "attempts": [row(a) for a in items],
            "best": row(best) if best else None,
            "attempts_left_today": svc.attempts_left_today(current_user, c, now),
        }
    )


@bp.get("/me/certificate")
@roles_required("citizen")
def my_certificate_json():
    """The citizen's certificate of the current contest (issued on first use);
    404 no_certificate before a finished attempt."""
    return jsonify(certificates.certificate_json(my_certificate(), masked=False))


@bp.get("/certificates/<code>")
@verify_limits
def certificate_by_code(code: str):
    """Anyone: the certificate a code names, with the name masked."""
    view = certificates.verify(code)
    return jsonify(certificates.certificate_json(view, masked=True))


@bp.get("/leaderboard")
def leaderboard():
    now = utcnow()
    c = svc.current_contest(now)
    if c is None:
        return api_error(404, "no_contest", "当前没有竞赛")
    try:
        scope = boards.parse_scope(request.args.get("scope"))
        if scope.kind == "day" and not FIRST_DAY <= scope.day <= LAST_DAY:
            # The calendar's edges have no UTC bounds (the SQL board needs them).
            raise boards.BadScope(scope.day)
    except boards.BadScope:
        return api_error(
            400, "bad_scope", "scope 应为 all、region:<代码> 或 day:<YYYY-MM-DD>"
        )
    if scope.kind == "region" and not known_region(scope.region):
        return api_error(404, "unknown_region", "没有这个区县")
    limit = parse_int(request.args.get("limit", "10"), lo=1, hi=100)
    if limit is None:
        return api_error(400, "bad_limit", "limit 应为 1 到 100 的整数")
    uid = current_user.id if current_user.is_authenticated else None
    board = boards.read_board(c, scope, limit=limit, user_id=uid)
    return jsonify(
        {
            "entries": [e.__dict__ for e in board.entries],
            "me": board.me.__dict__ if board.me else None,
            "delayed": board.delayed,
            "total": board.total,
        }
    )


@bp.route("/<path:_any>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
def unknown(_any: str):
    """404 for a path no endpoint serves; 405 (with Allow) for a known path
    asked with the wrong method, which this catch-all would otherwise take."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        if method == request.method:
            continue
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "api.unknown":
            allowed.append(method)
    if allowed:
        resp = api_error(405, "method_not_allowed", "不支持该请求方法")
        resp.headers["Allow"] = ", ".join(allowed)
        return resp
    return api_error(404, "not_found", "接口不存在")
