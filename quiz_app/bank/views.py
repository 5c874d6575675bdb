"""Organizer pages of the bank: list and search, one question (edit, history,
phone preview, retire/restore, regrade), categories, import, export."""

from __future__ import annotations

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from ..auth.decorators import roles_required
from ..auth.services import audit
from ..clock import utcnow
from ..contest.contests import contest_by_id, current_contest
from ..contest.errors import NotFound
from ..contest.regrade import regrade_preview, regrade_question
from ..contest.services import clear_pool_cache
from ..exports import CSV_TYPE, XLSX_TYPE
from ..extensions import db
from ..items import services as item_stats
from ..items.views import FLAG_NAMES
from ..models import Contest
from ..params import MAX_DB_INT, parse_int
from . import bp, browse, editing, staging
from .fileformat import BankFileError
from .forms import ActiveForm, CategoryForm, QuestionForm, RegradeForm
from .services import export_csv, export_xlsx

PAGE = 50
ORGANIZERS = ("organizer", "admin")
PREVIEW_USED = "这份预览已经导入过（或已被新的预览取代），不会重复导入"
PREVIEW_STALE = "预览之后题库有了变化：下面是按当前题库重新生成的预览，请再次确认"


def _filter_from_args() -> tuple[browse.BankFilter, dict[str, str]]:
    return browse.parse_filter(request.args)


def _bad_request(message: str):
    return render_template("error.html", code=400, message=message), 400


def _not_found(message: str = "题目不存在"):
    return render_template("error.html", code=404, message=message), 404


@bp.get("/admin/questions")
@roles_required(*ORGANIZERS)
def questions():
    f, problems = _filter_from_args()
    page = parse_int(request.args.get("page") or "1", lo=1, hi=MAX_DB_INT // PAGE)
    if page is None or problems:
        return _bad_request("筛选条件或页码无效")
    items, total = browse.search(f, page=page, per_page=PAGE)
    contest = current_contest(utcnow())
    args = {
        k: v
        for k, v in {
            "q": f.q,
            "category": f.category,
            "type": f.type,
            "difficulty": f.difficulty,
            "active": request.args.get("active") or None,
        }.items()
        if v
    }
    return render_template(
        "bank/questions.html",
        items=items,
        total=total,
        page=page,
        pages=max((total + PAGE - 1) // PAGE, 1),
        filter=f,
        args=args,
        categories=browse.categories(),
        coverage=browse.coverage(contest),
        contest=contest,
    )


def _question_form(**kw) -> QuestionForm:
    form = QuestionForm(**kw)
    form.set_choices([(c.code, c.name) for c in browse.categories()])
    return form


@bp.route("/admin/questions/new", methods=["GET", "POST"])
@roles_required(*ORGANIZERS)
def new_question():
    form = _question_form()
    if form.validate_on_submit():
        try:
            question = editing.create_question(
                form.values(), actor=current_user, ip=request.remote_addr, now=utcnow()
            )
        except editing.QuestionInvalid as exc:
            db.session.rollback()
            form.show_errors(exc.fields)
        except editing.QuestionExists:
            db.session.rollback()
            form.ext_id.errors = ["这个编号已被使用，请换一个"]
            return render_template("bank/new.html", form=form), 409
        else:
            flash(f"已新增题目 {question.ext_id}", "success")
            return redirect(url_for("bank.question", ext_id=question.ext_id), 303)
    status = 422 if request.method == "POST" else 200
    return render_template("bank/new.html", form=form), status


def _question_page(question, form: QuestionForm, status: int = 200):
    contests = list(
        db.session.scalars(select(Contest).order_by(Contest.starts_at.desc()))
    )
    stats = item_stats.question_items(
        question.id, item_stats.thresholds(current_app.config)
    )
    return render_template(
        "bank/question.html",
        q=question,
        form=form,
        revisions=editing.revisions_of(question),
        active_form=ActiveForm(),
        contests=contests,
        item_stats=stats,
        item_states={c.id: item_stats.state_of(c.id) for c, _ in stats},
        chart_data=item_stats.chart_data(stats),
        flag_names=FLAG_NAMES,
    ), status


@bp.get("/admin/questions/<ext_id>")
@roles_required(*ORGANIZERS)
def question(ext_id: str):
    try:
        q = browse.find(ext_id)
    except editing.NotInBank:
        return _not_found()
    form = _question_form(formdata=None)
    form.fill(editing.values_of(q))
    return _question_page(q, form)


@bp.post("/admin/questions/<ext_id>")
@roles_required(*ORGANIZERS)
def edit_question(ext_id: str):
    try:
        q = browse.find(ext_id)
    except editing.NotInBank:
        return _not_found()
    form = _question_form()
    form.ext_id.data = ext_id  # the id is never edited
    if form.validate_on_submit():
        try:
            result = editing.update_question(
                ext_id,
                form.values(),
                actor=current_user,
                ip=request.remote_addr,
                now=utcnow(),
            )
        except editing.QuestionInvalid as exc:
            db.session.rollback()
            form.show_errors(exc.fields)
        else:
            if result.revised:
                flash(f"已保存为第 {result.question.revision} 版", "success")
            elif result.edited:
                flash("已保存（分类/难度/出处/分组直接修改，版本不变）", "success")
            else:
                flash("内容没有变化", "success")
            return redirect(url_for("bank.question", ext_id=ext_id), 303)
    return _question_page(q, form, 422)


@bp.post("/admin/questions/<ext_id>/active")
@roles_required(*ORGANIZERS)
def set_active(ext_id: str):
    form = ActiveForm()
    if not form.validate_on_submit() or form.active.data not in ("0", "1"):
        return _bad_request("请求无效")
    active = form.active.data == "1"
    try:
        editing.set_question_active(
            ext_id, active, actor=current_user, ip=request.remote_addr, now=utcnow()
        )
    except editing.NotInBank:
        return _not_found()
    flash("已恢复使用" if active else "已停用：新的答题不再抽到这道题", "success")
    return redirect(url_for("bank.question", ext_id=ext_id), 303)


@bp.get("/admin/questions/<ext_id>/preview")
@roles_required(*ORGANIZERS)
def preview(ext_id: str):
    """The question as the citizen's quiz page shows it (original order)."""
    try:
        q = browse.find(ext_id)
    except editing.NotInBank:
        return _not_found()
    rev_no = parse_int(request.args.get("revision") or str(q.revision), lo=1, hi=999)
    revision = next((r for r, _ in editing.revisions_of(q) if r.number == rev_no), None)
    if revision is None:
        return _not_found("没有这个版本")
    resp = Response(render_template("bank/preview.html", q=q, rev=revision))
    # Shown framed on the question page (the rest of the site refuses frames).
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    from ..security import CSP

    resp.headers["Content-Security-Policy"] = CSP.replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'"
    )
    return resp


def _contest_arg(raw: str | None) -> Contest | None:
    cid = parse_int(raw, lo=1, hi=MAX_DB_INT)
    return contest_by_id(cid) if cid is not None else None


@bp.get("/admin/questions/<ext_id>/regrade")
@roles_required(*ORGANIZERS)
def regrade_confirm(ext_id: str):
    """Step one: how many finished attempts hold an older revision."""
    contest = _contest_arg(request.args.get("contest_id"))
    if contest is None:
        return _not_found("请选择竞赛")
    try:
        q = browse.find(ext_id)
        preview = regrade_preview(contest.id, ext_id)
    except (editing.NotInBank, NotFound):
        return _not_found()
    form = RegradeForm(contest_id=str(contest.id))
    return render_template(
        "bank/regrade.html", q=q, contest=contest, preview=preview, form=form
    )


@bp.post("/admin/questions/<ext_id>/regrade")
@roles_required(*ORGANIZERS)
def regrade(ext_id: str):
    """Step two: re-score those attempts against the current key."""
    form = RegradeForm()
    contest = _contest_arg(form.contest_id.data) if form.validate_on_submit() else None
    if contest is None:
        return _bad_request("请选择竞赛")
    try:
        result = regrade_question(
            contest.id, ext_id, actor=current_user, ip=request.remote_addr, now=utcnow()
        )
    except NotFound:
        return _not_found()
    message = (
        f"重新评分完成：{result.attempts_rescored} 份答卷按当前答案重新评分，"
        f"其中 {result.scores_changed} 份分数有变化"
    )
    if result.attempts_skipped:
        message += f"；{result.attempts_skipped} 份因题型或选项数不同保持原分"
    flash(message, "success")
    return redirect(url_for("bank.question", ext_id=ext_id), 303)


@bp.get("/admin/categories")
@roles_required(*ORGANIZERS)
def categories():
    return _categories_page(CategoryForm(formdata=None))


def _categories_page(add_form: CategoryForm, status: int = 200, bad=None):
    cats = browse.categories()
    forms = {}
    for c in cats:
        if bad is not None and bad[0] == c.code:
            forms[c.code] = bad[1]
        else:
            forms[c.code] = CategoryForm(
                formdata=None, prefix=c.code, name=c.name, description=c.description
            )
    counts = browse.coverage(None).by_category
    return render_template(
        "bank/categories.html",
        categories=cats,
        forms=forms,
        add_form=add_form,
        counts=counts,
    ), status


@bp.post("/admin/categories")
@roles_required(*ORGANIZERS)
def add_category():
    form = CategoryForm()
    if form.validate_on_submit():
        try:
            cat = editing.add_category(
                (form.code.data or "").strip(),
                form.name.data or "",
                form.description.data or "",
                actor=current_user,
                ip=request.remote_addr,
                now=utcnow(),
            )
        except editing.QuestionInvalid as exc:
            db.session.rollback()
            form.show_errors(exc.fields)
        except editing.CategoryExists:
            db.session.rollback()
            form.code.errors = ["这个代码已存在"]
            return _categories_page(form, 409)
        else:
            flash(f"已新增分类 {cat.name}（{cat.code}）", "success")
            return redirect(url_for("bank.categories"), 303)
    return _categories_page(form, 422)


@bp.post("/admin/categories/<code>")
@roles_required(*ORGANIZERS)
def edit_category(code: str):
    form = CategoryForm(prefix=code)
    if form.validate_on_submit():
        try:
            editing.update_category(
                code,
                form.name.data or "",
                form.description.data or "",
                actor=current_user,
                ip=request.remote_addr,
                now=utcnow(),
            )
        except editing.NotInBank:
            return _not_found("分类不存在")
        except editing.QuestionInvalid as exc:
            db.session.rollback()
            form.show_errors(exc.fields)
        else:
            flash("分类已保存（代码不变）", "success")
            return redirect(url_for("bank.categories"), 303)
    return _categories_page(CategoryForm(formdata=None), 422, bad=(code, form))


@bp.post("/admin/questions/import")
@roles_required(*ORGANIZERS)
def import_upload():
    """Step 1: check the file and show what it would change (nothing is
    imported until the organizer confirms the preview)."""
    upload = request.files.get("file")
    now = utcnow()
    if upload is None or not upload.filename:
        flash("请选择要导入的 CSV 或 XLSX 文件", "error")
        return redirect(url_for("bank.questions")), 303
    data = upload.read()
    try:
        staged = staging.preview_upload(
            data, upload.filename, user=current_user, now=now, ip=request.remote_addr
        )
    except BankFileError as exc:
        return _import_rejected(exc, upload.filename, now)
    return redirect(url_for("bank.import_preview", token=staged.token)), 303


def _import_rejected(exc: BankFileError, filename: str, now):
    audit(
        "bank_import",
        outcome="rejected",
        actor=current_user,
        ip=request.remote_addr,
        obj=filename,
        now=now,
    )
    return render_template(
        "bank/import_errors.html", errors=exc.errors, filename=filename
    ), 422


def _preview_error(message: str, status: int):
    return render_template("error.html", code=status, message=message), status


@bp.get("/admin/questions/import/<token>")
@roles_required(*ORGANIZERS)
def import_preview(token: str):
    try:
        staged = staging.get_preview(token, current_user)
    except staging.PreviewGone:
        return _preview_error("没有这个导入预览（或不是您上传的）", 404)
    return (
        render_template(
            "bank/import_preview.html",
            staged=staged,
            plan=staged.plan,
            usable=staged.used_at is None and utcnow() < staged.expires_at,
            list_max=staging.PLAN_LIST_MAX,
        ),
        200,
        {"Cache-Control": "no-store"},
    )


@bp.post("/admin/questions/import/<token>/confirm")
@roles_required(*ORGANIZERS)
def import_confirm(token: str):
    """Step 2: apply exactly the previewed rows, or show a new preview when
    the bank changed since."""
    now = utcnow()
    try:
        staged, applied = staging.confirm_import(
            token, user=current_user, now=now, ip=request.remote_addr
        )
    except staging.PreviewGone:
        return _preview_error("没有这个导入预览（或不是您上传的）", 404)
    except staging.PreviewUsed:
        return _preview_error(
            "这份预览已经导入过（或已被新的预览取代），不会重复导入", 409
        )
    except staging.PreviewExpired:
        return _preview_error("预览已过期，请重新上传文件", 409)
    except BankFileError as exc:
        return _import_rejected(exc, "", now)
    if not applied:
        flash(
            "预览之后题库有了变化：下面是按当前题库重新生成的预览，请再次确认", "error"
        )
        return redirect(url_for("bank.import_preview", token=staged.token)), 303
    clear_pool_cache()
    counts = staged.plan["counts"]
    flash(
        f"导入成功：新增 {counts['created']} 题，修订（新版本）{counts['revised']} 题，"
        f"仅改分类/难度/出处/分组 {counts['edited']} 题，未变 {counts['unchanged']} 题",
        "success",
    )
    return redirect(url_for("bank.questions")), 303


def _download(body: bytes, fmt: str, name: str) -> Response:
    return Response(
        body,
        mimetype=XLSX_TYPE if fmt == "xlsx" else CSV_TYPE,
        headers={"Content-Disposition": f"attachment; filename={name}.{fmt}"},
    )


@bp.get("/admin/questions/export.csv", defaults={"fmt": "csv"}, endpoint="export")
@bp.get("/admin/questions/export.xlsx", defaults={"fmt": "xlsx"}, endpoint="export")
@roles_required(*ORGANIZERS)
def export(fmt: str):
    """The bank (or the list's current filter) in the import format."""
    f, problems = _filter_from_args()
    if problems:
        return _bad_request("筛选条件无效")
    items = browse.all_matching(f)
    filtered = f != browse.BankFilter()
    audit(
        "bank_export",
        outcome=f"ok:{len(items)}",
        actor=current_user,
        ip=request.remote_addr,
        obj=f"{fmt}{' filtered' if filtered else ''}",
        now=utcnow(),
    )
    body = export_xlsx(items) if fmt == "xlsx" else export_csv(items)
    return _download(body, fmt, "question_bank")


@bp.get("/admin/questions/template.csv", defaults={"fmt": "csv"}, endpoint="template")
@bp.get("/admin/questions/template.xlsx", defaults={"fmt": "xlsx"}, endpoint="template")
@roles_required(*ORGANIZERS)
def template(fmt: str):
    """The import header and one example row per type."""
    cats = browse.categories()
    return _download(
        browse.template_file(fmt, cats[0].code if cats else "health"),
        fmt,
        "question_bank_template",
    )
