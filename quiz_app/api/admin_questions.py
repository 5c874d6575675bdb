"""Admin API of the question bank (/api/v1/admin/questions, organizer or admin)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_login import current_user

from ..auth.decorators import roles_required
from ..bank import browse, editing
from ..clock import utcnow
from ..contest.errors import NotFound
from ..contest.regrade import regrade_preview, regrade_question
from ..errors import api_error
from ..params import MAX_DB_INT, json_int, parse_int
from . import bp
from .views import body

STAFF = ("organizer", "admin")
MAX_PER_PAGE = 100


def invalid(fields: dict[str, str]):
    """422 with per-field messages (DESIGN: the admin API's error body)."""
    message = next(iter(fields.values()), "提交的数据无效")
    resp = jsonify({"error": {"code": "invalid", "message": message, "fields": fields}})
    resp.status_code = 422
    return resp


@bp.errorhandler(editing.QuestionInvalid)
def question_invalid(exc: editing.QuestionInvalid):
    return invalid(exc.fields)


@bp.errorhandler(editing.QuestionExists)
def question_exists(exc: editing.QuestionExists):
    return api_error(409, "exists", f"题目编号 {exc} 已存在")


@bp.errorhandler(editing.NotInBank)
def not_in_bank(_exc: editing.NotInBank):
    return api_error(404, "not_found", "题目不存在")


@bp.get("/admin/questions")
@roles_required(*STAFF)
def admin_questions():
    f, problems = browse.parse_filter(request.args)
    page = parse_int(request.args.get("page") or "1", lo=1, hi=MAX_DB_INT // 1000)
    per_page = parse_int(request.args.get("per_page") or "20", lo=1, hi=MAX_PER_PAGE)
    if page is None:
        problems["page"] = "page 应为正整数"
    if per_page is None:
        problems["per_page"] = f"per_page 应为 1 到 {MAX_PER_PAGE} 的整数"
    if problems:
        return invalid(problems)
    items, total = browse.search(f, page=page, per_page=per_page)
    return jsonify(
        {
            "items": [browse.question_json(q) for q in items],
            "total": total,
            "page": page,
            "pages": max((total + per_page - 1) // per_page, 1),
        }
    )


def _detail(question) -> dict[str, Any]:
    out = browse.question_json(question)
    out["revisions"] = [
        {
            "number": rev.number,
            "created_at": rev.created_at,
            "by": user.name if user else None,
        }
        for rev, user in editing.revisions_of(question)
    ]
    return out


@bp.post("/admin/questions")
@roles_required(*STAFF)
def admin_create_question():
    data = body()
    question = editing.create_question(
        {k: data.get(k) for k in editing.FIELDS},
        actor=current_user,
        ip=request.remote_addr,
        now=utcnow(),
    )
    return jsonify(_detail(question)), 201


@bp.get("/admin/questions/<ext_id>")
@roles_required(*STAFF)
def admin_question(ext_id: str):
    question = browse.find(ext_id)
    return jsonify(_detail(question))


@bp.patch("/admin/questions/<ext_id>")
@roles_required(*STAFF)
def admin_update_question(ext_id: str):
    data = body()
    unknown = sorted(set(data) - set(editing.FIELDS) - {"active"})
    if unknown:
        return invalid({name: "没有这个字段" for name in unknown})
    result = editing.update_question(
        ext_id, data, actor=current_user, ip=request.remote_addr, now=utcnow()
    )
    return jsonify(_detail(result.question))


def _contest_id(raw: Any) -> int | None:
    return json_int(raw, lo=1, hi=MAX_DB_INT)


@bp.get("/admin/questions/<ext_id>/regrade")
@roles_required(*STAFF)
def admin_regrade_preview(ext_id: str):
    """The dry run: how many finished attempts a regrade would re-score."""
    cid = parse_int(request.args.get("contest_id"), lo=1, hi=MAX_DB_INT)
    if cid is None:
        return invalid({"contest_id": "请指定竞赛"})
    try:
        preview = regrade_preview(cid, ext_id)
    except NotFound as exc:
        return api_error(404, "not_found", exc.message)
    return jsonify(
        {
            "attempts_affected": preview.attempts_affected,
            "attempts_skipped": preview.attempts_skipped,
            "revision": preview.revision,
            "scores_changed": preview.scores_changed,
        }
    )


@bp.post("/admin/questions/<ext_id>/regrade")
@roles_required(*STAFF)
def admin_regrade(ext_id: str):
    data = body()
    cid = _contest_id(data.get("contest_id"))
    if cid is None:
        return invalid({"contest_id": "contest_id 必须是正整数"})
    try:
        result = regrade_question(
            cid, ext_id, actor=current_user, ip=request.remote_addr, now=utcnow()
        )
    except NotFound as exc:
        return api_error(404, "not_found", exc.message)
    return jsonify(
        {
            "attempts_rescored": result.attempts_rescored,
            "scores_changed": result.scores_changed,
            "attempts_skipped": result.attempts_skipped,
        }
    )
