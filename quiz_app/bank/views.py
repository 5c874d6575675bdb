"""Organizer pages: browse the bank, import a CSV/XLSX (all or nothing), export."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.decorators import roles_required
from ..auth.services import audit
from ..clock import utcnow
from ..contest.services import clear_pool_cache
from ..exports import CSV_TYPE, XLSX_TYPE
from ..extensions import db
from ..models import Category, Question
from ..params import MAX_DB_INT, parse_int
from . import bp
from .fileformat import BankFileError
from .services import export_csv, export_xlsx, import_file

PAGE = 50


@bp.get("/admin/questions")
@roles_required("organizer", "admin")
def questions():
    cat = request.args.get("category") or None
    page = parse_int(request.args.get("page") or "1", lo=1, hi=MAX_DB_INT // PAGE)
    if page is None:
        return render_template("error.html", code=400, message="页码无效"), 400
    q = select(Question).order_by(Question.ext_id)
    if cat:
        q = q.where(Question.category_code == cat)
    total = db.session.scalar(select(func.count()).select_from(q.subquery()))
    items = list(db.session.scalars(q.limit(PAGE).offset((page - 1) * PAGE)))
    counts = dict(
        db.session.execute(
            select(Question.category_code, func.count()).group_by(
                Question.category_code
            )
        ).all()
    )
    categories = list(
        db.session.scalars(select(Category).order_by(Category.sort_order))
    )
    return render_template(
        "bank/questions.html",
        items=items,
        total=total,
        page=page,
        pages=max((total + PAGE - 1) // PAGE, 1),
        category=cat,
        categories=categories,
        counts=counts,
    )


@bp.post("/admin/questions/import")
@roles_required("organizer", "admin")
def import_upload():
    upload = request.files.get("file")
    now = utcnow()
    if upload is None or not upload.filename:
        flash("请选择要导入的 CSV 或 XLSX 文件", "error")
        return redirect(url_for("bank.questions")), 303
    data = upload.read()
    try:
        result = import_file(data, upload.filename, now=now)
    except BankFileError as exc:
        audit(
            "bank_import",
            outcome="rejected",
            actor=current_user,
            ip=request.remote_addr,
            obj=upload.filename,
            now=now,
        )
        return render_template(
            "bank/import_errors.html", errors=exc.errors, filename=upload.filename
        ), 422
    clear_pool_cache()
    audit(
        "bank_import",
        outcome=f"ok:{result.total}",
        actor=current_user,
        ip=request.remote_addr,
        obj=upload.filename,
        now=now,
    )
    flash(
        f"导入成功：新增 {result.created} 题，修订（新版本）{result.revised} 题，"
        f"仅改分类/难度/出处/分组 {result.edited} 题，未变 {result.unchanged} 题",
        "success",
    )
    return redirect(url_for("bank.questions")), 303


@bp.get("/admin/questions/export.csv", defaults={"fmt": "csv"}, endpoint="export")
@bp.get("/admin/questions/export.xlsx", defaults={"fmt": "xlsx"}, endpoint="export")
@roles_required("organizer", "admin")
def export(fmt: str):
    items = list(db.session.scalars(select(Question).order_by(Question.ext_id)))
    audit(
        "bank_export",
        outcome="ok",
        actor=current_user,
        ip=request.remote_addr,
        obj=fmt,
        now=utcnow(),
    )
    if fmt == "xlsx":
        body, mimetype = export_xlsx(items), XLSX_TYPE
    else:
        body, mimetype = export_csv(items), CSV_TYPE
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename=question_bank.{fmt}"},
    )
