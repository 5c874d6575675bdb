"""Citizen pages about their own data: consent, what is stored, deletion."""

from __future__ import annotations

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, logout_user

from ..auth.decorators import roles_required
from ..clock import utcnow
from . import bp
from . import services as privacy
from .forms import DeleteAccountForm


@bp.post("/me/consent")
@roles_required("citizen")
def consent():
    """Give or withdraw the ranking consent (form value public_ranking=1|0)."""
    value = request.form.get("public_ranking")
    if value not in ("0", "1"):
        flash("请选择是否在排行榜上显示", "error")
        return redirect(url_for("contest.me")), 303
    privacy.set_ranking_consent(
        current_user, value == "1", now=utcnow(), ip=request.remote_addr
    )
    if value == "1":
        flash("已同意：排行榜上显示您的姓氏（如 张*明）和区县", "success")
    else:
        flash("已撤回同意：排行榜上您将显示为“匿名参赛者”", "success")
    return redirect(url_for("contest.me") + "#privacy", 303)


@bp.get("/me/data")
@roles_required("citizen")
def data_page():
    data = privacy.personal_data(current_user)
    return render_template("privacy/data.html", data=data)


@bp.get("/me/data.json")
@roles_required("citizen")
def data_download():
    data = privacy.personal_data(current_user)
    body = current_app.json.dumps(data, indent=2)
    return (
        body,
        200,
        {
            "Content-Type": "application/json; charset=utf-8",
            "Content-Disposition": 'attachment; filename="my-data.json"',
        },
    )


@bp.route("/me/delete", methods=["GET", "POST"])
@roles_required("citizen")
def delete():
    form = DeleteAccountForm()
    if form.validate_on_submit():
        try:
            privacy.delete_account(
                current_user, form.password.data, now=utcnow(), ip=request.remote_addr
            )
        except privacy.PrivacyError as exc:
            form.password.errors.append(exc.message)
        else:
            logout_user()
            session.clear()
            flash(
                "账号已注销：姓名和手机号已删除，成绩仅以匿名方式保留用于统计",
                "success",
            )
            return redirect(url_for("contest.index"), 303)
    status = 422 if form.errors else 200
    return render_template("privacy/delete.html", form=form), status
