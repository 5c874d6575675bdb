"""Organizer and admin JSON API for contests and disqualification
(/api/v1/admin/contests, /api/v1/admin/attempts/<id>/disqualify).

Field errors answer 422 `{"error": {"code": "invalid", "message", "fields"}}`
with the API's field names; a frozen rule answers 409 `rule_frozen` with the
same `fields` map.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, jsonify, request
from flask_login import current_user

from ..auth.decorators import roles_required
from ..clock import utcnow
from ..contest import admin as contest_admin
from ..contest import services as svc
from ..contest.disqualify import disqualify_attempt
from ..contest.presenters import contest_admin_view, disqualification_view
from ..errors import api_error
from ..extensions import db
from ..models import Contest
from ..params import json_int
from . import bp
from .views import body

ORGANIZERS = ("organizer", "admin")
#: service name -> API field name, where they differ
API_NAMES = {
    "points_per_question": "points",
    "excellent_min": "certificate.excellent_min",
}
#: JSON fields that are whole numbers, with their service name and bounds
INT_FIELDS = {
    "time_limit_s": ("time_limit_s", 1, 24 * 3600),
    "points": ("points_per_question", 1, 1000),
    "attempts_per_day": ("attempts_per_day", 1, 100),
}
DESCRIPTION_MAX = 5000
EXAMPLE_TIME = "2023-09-17T00:00:00+08:00"


def _api_field(name: str) -> str:
    return API_NAMES.get(name, name)


def fields_error(status: int, code: str, message: str, fields: dict[str, str]):
    resp = jsonify(
        {
            "error": {
                "code": code,
                "message": message,
                "fields": {_api_field(k): v for k, v in fields.items()},
            }
        }
    )
    resp.status_code = status
    return resp


class FieldErrors(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid")
        self.fields = fields


def _when(raw: Any, field: str) -> datetime:
    """An ISO 8601 time with an offset."""
    try:
        value = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None or not 2000 <= value.year <= 2099:
        raise FieldErrors({field: "须为带时区的 ISO 8601 时间，如 " + EXAMPLE_TIME})
    return value


def _counts(raw: Any, field: str) -> dict[str, int]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and json_int(v, lo=0, hi=10_000) is not None
        for k, v in raw.items()
    ):
        raise FieldErrors({field: "须为代码到非负整数的对象"})
    return dict(raw)


def parse_contest(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """JSON body -> service changes (service field names). Raises FieldErrors
    with every problem found; `partial` (PATCH) allows any subset."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def take(field: str, parse) -> None:
        if field not in data:
            return
        try:
            parse(data[field])
        except FieldErrors as exc:
            errors.update(exc.fields)

    def text(field: str, top: int):
        def parse(v):
            if not isinstance(v, str) or len(v) > top:
                raise FieldErrors({field: f"须为不超过 {top} 个字的文字"})
            out[field] = v.strip()

        return parse

    take("title", text("title", 200))
    take("description", text("description", DESCRIPTION_MAX))
    for field in ("starts_at", "ends_at"):
        take(field, lambda v, f=field: out.__setitem__(f, _when(v, f)))
    for field, (name, lo, hi) in INT_FIELDS.items():

        def parse(v, field=field, name=name, lo=lo, hi=hi):
            if (value := json_int(v, lo=lo, hi=hi)) is None:
                raise FieldErrors({field: f"须为 {lo} 到 {hi} 的整数"})
            out[name] = value

        take(field, parse)
    for field in ("type_counts", "category_quotas"):
        take(field, lambda v, f=field: out.__setitem__(f, _counts(v, f)))

    def scoring(v):
        if v not in svc.MULTIPLE_SCORING:
            raise FieldErrors({"multiple_scoring": "只支持 exact（全对才得分）"})
        out["multiple_scoring"] = v

    take("multiple_scoring", scoring)

    def certificate(v):
        if not isinstance(v, dict) or set(v) - {"excellent_min"}:
            raise FieldErrors({"certificate": '须为 {"excellent_min": 分数} 对象'})
        if "excellent_min" in v:
            ex = json_int(v["excellent_min"], lo=0, hi=10**6)
            if ex is None:
                raise FieldErrors({"certificate.excellent_min": "须为非负整数"})
            out["excellent_min"] = ex

    take("certificate", certificate)
    known = {
        "title", "description", "starts_at", "ends_at", "type_counts",
        "category_quotas", "multiple_scoring", "certificate",
        "questions_per_attempt", *INT_FIELDS,
    }  # fmt: skip
    for field in sorted(set(data) - known - {"id", "status", "frozen"}):
        errors[field] = "没有这个字段"
    if "questions_per_attempt" in data:
        n = json_int(data["questions_per_attempt"], lo=1, hi=10_000)
        counts = out.get("type_counts")
        if n is None or (counts is not None and n != sum(counts.values())):
            errors["questions_per_attempt"] = "每次题目数是各题型数量之和，不单独设置"
        elif counts is None:
            errors["questions_per_attempt"] = "请通过 type_counts 设置每次题目数"
    if not partial:
        for field in ("title", "starts_at", "ends_at"):
            if field not in data:
                errors.setdefault(field, "必填")
    if errors:
        raise FieldErrors(errors)
    return out


@bp.errorhandler(FieldErrors)
def _field_errors(exc: FieldErrors):
    return fields_error(422, "invalid", "提交的数据无效", exc.fields)


def _rules_error(exc: svc.ContestError) -> Response:
    fields = getattr(exc, "fields", {})
    return fields_error(exc.status, exc.code, exc.message, fields)


def _contest_or_404(contest_id: int) -> Contest | None:
    return db.session.get(Contest, contest_id)


def _view(contest: Contest, now: datetime):
    return contest_admin_view(contest, now, svc.contest_started(contest))


@bp.get("/admin/contests")
@roles_required(*ORGANIZERS)
def admin_contests():
    now = utcnow()
    contests = contest_admin.all_contests()
    started = contest_admin.started_contest_ids([c.id for c in contests])
    return jsonify(
        {"items": [contest_admin_view(c, now, c.id in started) for c in contests]}
    )


@bp.post("/admin/contests")
@roles_required(*ORGANIZERS)
def admin_create_contest():
    now = utcnow()
    values = parse_contest(body(), partial=False)
    try:
        contest = svc.create_contest(
            **values, check_bank=True, actor=current_user, ip=request.remote_addr,
            now=now,
        )  # fmt: skip
    except svc.InvalidRules as exc:
        return _rules_error(exc)
    return jsonify(_view(contest, now)), 201


@bp.get("/admin/contests/<int:contest_id>")
@roles_required(*ORGANIZERS)
def admin_contest(contest_id: int):
    contest = _contest_or_404(contest_id)
    if contest is None:
        return api_error(404, "not_found", "竞赛不存在")
    return jsonify(_view(contest, utcnow()))


@bp.patch("/admin/contests/<int:contest_id>")
@roles_required(*ORGANIZERS)
def admin_edit_contest(contest_id: int):
    now = utcnow()
    if _contest_or_404(contest_id) is None:
        return api_error(404, "not_found", "竞赛不存在")
    changes = parse_contest(body(), partial=True)
    try:
        contest = svc.update_contest(
            contest_id, changes, now=now, actor=current_user, ip=request.remote_addr
        )
    except (svc.InvalidRules, svc.RuleFrozen) as exc:
        return _rules_error(exc)
    return jsonify(_view(contest, now))


@bp.post("/admin/attempts/<int:attempt_id>/disqualify")
@roles_required(*ORGANIZERS)
def admin_disqualify(attempt_id: int):
    now = utcnow()
    reason = body().get("reason")
    if not isinstance(reason, str):
        raise FieldErrors({"reason": "请填写取消成绩的原因"})
    try:
        attempt, changed = disqualify_attempt(
            attempt_id, reason, actor=current_user, ip=request.remote_addr, now=now
        )
    except svc.InvalidRules as exc:
        return _rules_error(exc)
    return jsonify(
        {
            "id": attempt.id,
            "contest_id": attempt.contest_id,
            "score": attempt.score,
            "disqualified": disqualification_view(attempt),
            "changed": changed,
        }
    )
