"""Register, log in, log out pages."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import SecurityError

from .. import api_error
from ..clock import utcnow
from ..extensions import db
from ..regions import all_regions
from . import bp
from . import services as accounts
from .decorators import roles_required
from .forms import LoginForm, RegisterForm
from .limits import login_limits, note_login_failure, register_limits

log = logging.getLogger(__name__)


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


def load_session_user(cookie_id: str):
    """Flask-Login's loader: the live session the cookie names, or None."""
    loaded = accounts.load_session(cookie_id, now=utcnow(), config=current_app.config)
    if loaded is None:
        return None
    g.seen_session = (loaded.session_id, loaded.last_seen_at)
    return loaded.user


@bp.after_app_request
def touch_session(response):
    """Note the session's use after the view has done its work (throttled)."""
    seen = g.pop("seen_session", None)
    if seen is not None:
        try:
            if accounts.touch_session(*seen, now=utcnow()):
                # The cookie's expiry moves with the recorded use (Flask does
                # not re-send an unchanged session: SESSION_REFRESH_EACH_REQUEST
                # is off).
                session.modified = True
        except SQLAlchemyError:  # a bookkeeping write never fails a request
            db.session.rollback()
            log.warning("could not record the last use of session %s", seen[0])
    return response


def log_in(user, now) -> None:
    """A fresh cookie and a new session row for this device (no fixation);
    the page and the API log in through here."""
    session.clear()
    accounts.start_session(user, now=now)
    login_user(user)
    # The cookie outlives a browser restart (a citizen's phone closes tabs);
    # how long the session really lives is checked on its row server-side.
    session.permanent = True
    if user.must_change_password:
        session["must_change"] = True


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
                signup_net=accounts.network_hash(
                    request.remote_addr, current_app.config["SECRET_KEY"]
                ),
                now=utcnow(),
            )
        except accounts.FieldError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            log_in(user, utcnow())
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
            log_in(user, now)
            accounts.audit(
                "login", outcome="ok", actor=user, ip=request.remote_addr, now=now
            )
            if user.role in ("organizer", "admin"):
                default = url_for("bank.questions")
            elif user.role == "staff":
                default = url_for("stats.dashboard")
            else:
                default = url_for("contest.index")
            if user.must_change_password:
                flash("请先设置一个新密码", "success")
                return redirect(url_for("auth.change_password"))
            nxt = request.args.get("next")
            return redirect(_safe_next(nxt) if nxt else default)
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@roles_required()
def logout():
    """End this device's session; the account's other devices stay logged in."""
    accounts.end_session(current_user)
    logout_user()
    session.clear()
    flash("您已退出登录", "success")
    return redirect(url_for("contest.index"))


@bp.post("/logout-all")
@roles_required()
def logout_all():
    """Log out everywhere: every session of this account ends."""
    accounts.end_all_sessions(current_user)
    logout_user()
    session.clear()
    flash("已在所有设备上退出登录", "success")
    return redirect(url_for("contest.index"))
