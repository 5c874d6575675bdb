"""Admin pages: accounts (/admin/accounts), region populations
(/admin/regions) and the audit log (/admin/audit, organizers too).

Views stay thin: forms check shape, the services in this package decide,
and a service's field errors go back beside the form's fields.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.decorators import roles_required
from ..auth.services import PhoneTaken
from ..clock import utcnow
from ..models import ROLES
from ..params import MAX_DB_INT, parse_int
from ..regions import all_regions
from . import accounts, audit, bp, populations
from .forms import (
    AccountSearchForm,
    ActionForm,
    CreateAccountForm,
    RoleForm,
    set_choices,
)

PAGE = 50
ADMIN_ONLY = ("admin",)
AUDIT_READERS = ("organizer", "admin")


def _region_choices(blank: str) -> list[tuple[str, str]]:
    return [("", blank)] + [(r.code, r.name) for r in all_regions()]


def _bad_request(message: str):
    return render_template("error.html", code=400, message=message), 400


def _no_store(body, status=200):
    return body, status, {"Cache-Control": "no-store"}


@bp.get("/accounts")
@roles_required(*ADMIN_ONLY)
def accounts_list():
    form = AccountSearchForm(request.args)
    form.role.choices = [("", "全部角色")] + [
        (r, accounts.ROLE_NAMES[r]) for r in ROLES
    ]
    form.region.choices = _region_choices("全部区县")
    page = parse_int(request.args.get("page") or "1", lo=1, hi=MAX_DB_INT // PAGE)
    role = request.args.get("role") or None
    if page is None or not form.validate() or (role and role not in ROLES):
        return _bad_request("搜索条件或页码无效")
    found = accounts.search_users(
        role=role,
        q=form.q.data,
        region=request.args.get("region") or None,
        page=page,
        per_page=PAGE,
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return _no_store(
        render_template(
            "admin/accounts.html",
            form=form,
            found=found,
            args=args,
            role_names=accounts.ROLE_NAMES,
            regions={r.code: r.name for r in all_regions()},
        )
    )


def _create_form(formdata=None) -> CreateAccountForm:
    form = CreateAccountForm(formdata) if formdata is not None else CreateAccountForm()
    set_choices(form, _region_choices("请选择区县"))
    return form


@bp.route("/accounts/new", methods=["GET", "POST"])
@roles_required(*ADMIN_ONLY)
def account_new():
    form = _create_form(request.form if request.method == "POST" else None)
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        if request.method == "POST" and form.role.data == "staff":
            _check_scope_shape(form)
        return _no_store(render_template("admin/account_new.html", form=form), status)
    if not _check_scope_shape(form):
        return _no_store(render_template("admin/account_new.html", form=form), 422)
    staff = form.role.data == "staff"
    try:
        user, password = accounts.create_account(
            current_user,
            name=form.name.data,
            phone=form.phone.data,
            role=form.role.data,
            staff_region=(form.staff_region.data or None)
            if staff and form.scope.data == "region"
            else None,
            city_wide=staff and form.scope.data == "city",
            now=utcnow(),
            ip=request.remote_addr,
        )
    except accounts.AccountInvalid as exc:
        _put_errors(form, exc.fields)
        return _no_store(render_template("admin/account_new.html", form=form), 422)
    except PhoneTaken:
        form.phone.errors = [*form.phone.errors, "该手机号已有账号"]
        return _no_store(render_template("admin/account_new.html", form=form), 422)
    return _no_store(
        render_template(
            "admin/account_password.html", user=user, password=password, created=True
        )
    )


def _check_scope_shape(form) -> bool:
    """A staff account's scope radio must be chosen, and a region picked for
    the region scope (errors go beside the fields)."""
    if form.role.data != "staff":
        return True
    if form.scope.data not in ("region", "city"):
        form.scope.errors = [*form.scope.errors, "请选择管辖一个区县，或全市范围"]
        return False
    if form.scope.data == "region" and not form.staff_region.data:
        form.staff_region.errors = [*form.staff_region.errors, "请选择管辖区县"]
        return False
    return True


def _put_errors(form, fields: dict[str, str]) -> None:
    for key, message in fields.items():
        target = getattr(form, key, None)
        if target is None:
            flash(message, "error")
        else:
            target.errors = [*target.errors, message]


def _account_or_404(user_id: int):
    user = accounts.get_account(user_id)
    if user is None:
        return None, (
            render_template("error.html", code=404, message="账号不存在"),
            404,
        )
    return user, None


def _role_form(user, formdata=None) -> RoleForm:
    form = RoleForm(formdata) if formdata is not None else RoleForm(formdata=None)
    form.role.choices = [(r, accounts.ROLE_NAMES[r]) for r in accounts.STAFF_ROLES]
    set_choices(form, _region_choices("请选择区县"))
    if formdata is None:
        form.role.data = user.role
        if user.role == "staff":
            form.scope.data = "city" if user.city_wide else "region"
            form.staff_region.data = user.staff_region_code or ""
    return form


def _detail(user, role_form=None, status=200):
    return _no_store(
        render_template(
            "admin/account.html",
            user=user,
            role_form=role_form or _role_form(user),
            action_form=ActionForm(),
            role_names=accounts.ROLE_NAMES,
            regions={r.code: r.name for r in all_regions()},
        ),
        status,
    )


@bp.get("/accounts/<int:user_id>")
@roles_required(*ADMIN_ONLY)
def account_detail(user_id: int):
    user, missing = _account_or_404(user_id)
    return missing or _detail(user)


def _apply(user, **changes):
    """Run one update; a refused change is a flash on the account page (409)."""
    try:
        return accounts.update_account(
            current_user, user, now=utcnow(), ip=request.remote_addr, **changes
        ), None
    except accounts.AccountRefused as exc:
        flash(exc.message, "error")
        return None, _detail(accounts.get_account(user.id), status=409)


@bp.post("/accounts/<int:user_id>/disable", defaults={"disabled": True})
@bp.post("/accounts/<int:user_id>/enable", defaults={"disabled": False})
@roles_required(*ADMIN_ONLY)
def account_disabled(user_id: int, disabled: bool):
    user, missing = _account_or_404(user_id)
    if missing:
        return missing
    if not ActionForm().validate_on_submit():
        return _bad_request("请求已失效，请刷新后重试")
    _, refused = _apply(user, disabled=disabled)
    if refused:
        return refused
    flash(
        "账号已停用，它的所有登录已立即失效" if disabled else "账号已启用",
        "success",
    )
    return redirect(url_for("admin.account_detail", user_id=user_id), 303)


@bp.post("/accounts/<int:user_id>/reset")
@roles_required(*ADMIN_ONLY)
def account_reset(user_id: int):
    user, missing = _account_or_404(user_id)
    if missing:
        return missing
    if not ActionForm().validate_on_submit():
        return _bad_request("请求已失效，请刷新后重试")
    password, refused = _apply(user, reset_password=True)
    if refused:
        return refused
    return _no_store(
        render_template(
            "admin/account_password.html", user=user, password=password, created=False
        )
    )


@bp.post("/accounts/<int:user_id>/role")
@roles_required(*ADMIN_ONLY)
def account_role(user_id: int):
    user, missing = _account_or_404(user_id)
    if missing:
        return missing
    form = _role_form(user, request.form)
    if not form.validate_on_submit():
        return _detail(user, form, 422)
    if user.role == "citizen":
        flash("参赛者账号不能改为组织者、工作人员或管理员", "error")
        return _detail(user, form, 409)
    if not _check_scope_shape(form):
        return _detail(user, form, 422)
    staff = form.role.data == "staff"
    try:
        accounts.update_account(
            current_user,
            user,
            role=form.role.data,
            staff_region=(form.staff_region.data if form.scope.data == "region" else "")
            if staff
            else "",
            city_wide=staff and form.scope.data == "city",
            now=utcnow(),
            ip=request.remote_addr,
        )
    except accounts.AccountInvalid as exc:
        _put_errors(form, exc.fields)
        return _detail(accounts.get_account(user_id), form, 422)
    except accounts.AccountRefused as exc:
        flash(exc.message, "error")
        return _detail(accounts.get_account(user_id), form, 409)
    flash("角色和管辖范围已保存；该账号需重新登录", "success")
    return redirect(url_for("admin.account_detail", user_id=user_id), 303)


@bp.route("/regions", methods=["GET", "POST"])
@roles_required(*ADMIN_ONLY)
def regions():
    form = ActionForm()
    rows = all_regions()
    errors: dict[str, str] = {}
    entered = {r.code: request.form.get(f"pop-{r.code}", "") for r in rows}
    if request.method == "POST":
        if not form.validate_on_submit():
            return _bad_request("请求已失效，请刷新后重试")
        values = {}
        for code, raw in entered.items():
            ok, value = populations.parse_population(raw)
            if ok:
                values[code] = value
            else:
                errors[code] = populations.RANGE_MESSAGE
        if not errors:
            changed = populations.set_populations(
                values, actor=current_user, ip=request.remote_addr, now=utcnow()
            )
            flash(f"已保存：{changed} 个区县的人口有变化", "success")
            return redirect(url_for("admin.regions"), 303)
    else:
        entered = {
            r.code: "" if r.population is None else str(r.population) for r in rows
        }
    return render_template(
        "admin/regions.html",
        form=form,
        rows=rows,
        entered=entered,
        errors=errors,
        max_population=populations.MAX_POPULATION,
    ), (422 if errors else 200)


@bp.get("/audit")
@roles_required(*AUDIT_READERS)
def audit_log():
    f, problems = audit.parse_filter(request.args, current_app.config["QUIZ_TIMEZONE"])
    page = parse_int(request.args.get("page") or "1", lo=1, hi=MAX_DB_INT // PAGE)
    if page is None:
        problems["page"] = "页码无效"
    found = (
        audit.search(f, page=page, per_page=PAGE)
        if not problems
        else audit.EventPage([], 0, 1, PAGE)
    )
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "admin/audit.html",
        found=found,
        problems=problems,
        args=args,
        labels=audit.ACTION_LABELS,
        action_label=audit.action_label,
        outcome_label=audit.outcome_label,
        actor_text=audit.actor_text,
    ), (422 if problems else 200)
