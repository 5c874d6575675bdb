"""Register, log in, log out pages."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from ..clock import utcnow
from ..regions import all_regions
from . import bp
from . import services as accounts
from .decorators import roles_required
from .forms import LoginForm, RegisterForm
from .limits import login_limits, register_limits


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
@roles_required()
def logout():
    accounts.revoke_sessions(current_user)
    logout_user()
    session.clear()
    flash("您已退出登录", "success")
    return redirect(url_for("contest.index"))
