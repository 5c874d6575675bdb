"""Register, log in, log out pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import SecurityError

from .. import api_error
from ..clock import utcnow
from ..regions import all_regions
from . import bp
from . import services as accounts
from .forms import LoginForm, RegisterForm
from .limits import login_limits, note_login_failure, register_limits


@bp.app_errorhandler(SecurityError)
def untrusted_host(_exc: SecurityError):
    """A Host header outside TRUSTED_HOSTS. No URL can be built for such a
    request (Flask has no URL adapter for it), so the answer is self-contained."""
    if request.path.startswith("/api/"):
        return api_error(400, "untrusted_host", "请求的主机名不受信任")
    page = (
        '<!doctype html><html lang="zh-CN"><meta charset="utf-8">'
        "<title>请求有误</title><h1>400</h1><p>请求有误：主机名不受信任</p></html>"
    )
    return page, 400, {"Content-Type": "text/html; charset=utf-8"}


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
        and "\\" not in target
    ):
        return target
    return url_for("contest.index")


@bp.route("/register", methods=["GET", "POST"])
@register_limits
def register():
    form = RegisterForm()
    form.region.choices = [("", "请选择")] + [(r.code, r.name) for r in all_regions()]
    if form.validate_on_submit():
        try:
            user = accounts.register_citizen(
                name=form.name.data,
                phone=form.phone.data,
                region=form.region.data,
                password=form.password.data,
                public_ranking=form.public_ranking.data,
                now=utcnow(),
            )
        except accounts.FieldError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            session.clear()
            login_user(user)
            flash("注册成功，欢迎参加竞赛！", "success")
            return redirect(url_for("contest.index"))
    if form.is_submitted():
        # Show every shape problem at once, not one round trip per field.
        for field, message in accounts.identity_problems(
            form.name.data, form.phone.data
        ):
            errors = getattr(form, field).errors
            if not errors:
                getattr(form, field).errors = [*errors, message]
    status = 422 if any(f.errors for f in form) else 200
    return render_template("auth/register.html", form=form), status


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    form = LoginForm()
    if form.validate_on_submit():
        now = utcnow()
        user = accounts.authenticate(form.phone.data, form.password.data)
        if user is None:
            note_login_failure()
            accounts.audit(
                "login",
                outcome="denied",
                ip=request.remote_addr,
                obj=accounts.normalize_phone(form.phone.data)[:3] + "****",
                now=now,
            )
            form.password.errors.append("手机号或密码不正确")
        else:
            session.clear()
            login_user(user)
            accounts.audit(
                "login", outcome="ok", actor=user, ip=request.remote_addr, now=now
            )
            if user.role in ("organizer", "admin"):
                default = url_for("bank.questions")
            elif user.role == "staff":
                default = url_for("stats.dashboard")
            else:
                default = url_for("contest.index")
            nxt = request.args.get("next")
            return redirect(_safe_next(nxt) if nxt else default)
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    accounts.revoke_sessions(current_user)
    logout_user()
    session.clear()
    flash("您已退出登录", "success")
    return redirect(url_for("contest.index"))
