"""Getting back in: forgotten password by SMS code, password change (forced
after a staff reset), and the staff hotline page that issues one-time
passwords."""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user

from ..clock import utcnow
from ..errors import api_error
from ..extensions import db
from ..models import User
from . import bp, recovery
from . import services as accounts
from .decorators import roles_required
from .forms import ChangePasswordForm, FindCitizenForm, ForgotForm, ResetForm
from .limits import forgot_limits, reset_limits
from .sms import dispatch

SENT_MESSAGE = "如果该手机号已注册，验证码已通过短信发出，10 分钟内有效"
#: what an account that must change its password may still reach
MUST_CHANGE_OPEN = {
    "auth.change_password",
    "auth.logout",
    "auth.logout_all",
    "static",
    "api.csrf_token",
    "api.logout",
    "api.logout_all",
    "api.change_password",
    "textsize.toggle",
}


@bp.before_app_request
def require_password_change():
    """After a staff reset the account can do nothing but set a new password
    (the flag rides in the session: no database read on every request)."""
    if not session.get("must_change") or request.endpoint in MUST_CHANGE_OPEN:
        return None
    if request.path.startswith("/api/"):
        return api_error(403, "password_change_required", "请先修改密码")
    return redirect(url_for("auth.change_password"))


def send_code(phone: str) -> None:
    """Issue a code if the phone has an account and send it; the caller
    answers the same either way."""
    issued = recovery.request_code(
        phone,
        secret=current_app.config["SECRET_KEY"],
        now=utcnow(),
        ip=request.remote_addr,
    )
    if issued is not None:
        dispatch(
            current_app.extensions["sms_sender"],
            issued.phone,
            recovery.code_message(issued.code),
        )


@bp.route("/forgot", methods=["GET", "POST"])
@forgot_limits
def forgot():
    form = ForgotForm()
    if form.validate_on_submit():
        try:
            send_code(form.phone.data)
        except accounts.FieldError as exc:
            form.phone.errors.append(exc.message)
        else:
            session["reset_phone"] = accounts.normalize_phone(form.phone.data)
            flash(SENT_MESSAGE, "success")
            return redirect(url_for("auth.reset"))
    status = 422 if form.errors else 200
    return render_template("auth/forgot.html", form=form), status


@bp.route("/forgot/reset", methods=["GET", "POST"])
@reset_limits
def reset():
    form = ResetForm()
    if request.method == "GET" and session.get("reset_phone"):
        form.phone.data = session["reset_phone"]
    if form.validate_on_submit():
        try:
            recovery.reset_with_code(
                form.phone.data,
                form.code.data,
                form.password.data,
                secret=current_app.config["SECRET_KEY"],
                now=utcnow(),
                ip=request.remote_addr,
            )
        except recovery.CodeRejected as exc:
            form.code.errors.append(exc.message)
        except accounts.FieldError as exc:
            form.password.errors.append(exc.message)
        else:
            session.pop("reset_phone", None)
            flash("密码已重置，请用新密码登录", "success")
            return redirect(url_for("auth.login"))
    status = 422 if form.errors else 200
    return render_template("auth/reset.html", form=form), status


@bp.route("/change-password", methods=["GET", "POST"])
@roles_required()
def change_password():
    form = ChangePasswordForm()
    forced = current_user.must_change_password
    if form.validate_on_submit():
        try:
            recovery.change_password(
                current_user,
                form.password.data,
                current_password=form.current_password.data,
                keep_token=current_user.session_token,
                now=utcnow(),
                ip=request.remote_addr,
            )
        except accounts.FieldError as exc:
            getattr(form, exc.field).errors.append(exc.message)
        else:
            session.pop("must_change", None)
            flash("密码已修改", "success")
            return redirect(url_for("contest.index"))
    status = 422 if form.errors else 200
    return render_template(
        "auth/change_password.html", form=form, forced=forced
    ), status


@bp.get("/staff/citizens")
@roles_required("staff", "admin")
def find_citizen():
    """Hotline desk: find a citizen by phone within this account's scope."""
    form = FindCitizenForm(request.args)
    citizen, searched = None, False
    if request.args.get("phone") is not None and form.validate():
        searched = True
        try:
            citizen = recovery.find_citizen(current_user, form.phone.data)
        except accounts.FieldError as exc:
            form.phone.errors.append(exc.message)
            searched = False
        except recovery.OutOfScope:
            abort(403)
    status = 422 if form.errors else 200
    return render_template(
        "auth/staff_citizens.html", form=form, citizen=citizen, searched=searched
    ), status


@bp.post("/staff/citizens/<int:user_id>/reset-password")
@roles_required("staff", "admin")
def staff_reset(user_id: int):
    """Issue a one-time password, shown on this response only."""
    citizen = db.session.get(User, user_id)
    if citizen is None or citizen.role != "citizen":
        abort(404)
    try:
        password = recovery.staff_reset_password(
            current_user, citizen, now=utcnow(), ip=request.remote_addr
        )
    except recovery.OutOfScope:
        abort(403)
    return render_template(
        "auth/staff_reset_done.html", citizen=citizen, password=password
    )
