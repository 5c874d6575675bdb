"""Certificate pages: the citizen's certificate, its PNG, the public verify page."""

from __future__ import annotations

import io
from zoneinfo import ZoneInfo

from flask import current_app, render_template, send_file, url_for
from flask_login import current_user

from ..auth.decorators import roles_required
from ..auth.limits import verify_limits
from ..clock import utcnow
from ..contest import services as contests
from ..db import begin_write
from . import bp
from . import services as svc
from .image import qr_code, render_png


def my_certificate() -> svc.CertificateView:
    """The current user's certificate of the current contest, issued on first
    use (a GET that may write, hence begin_write). Raises NoCertificate."""
    now = utcnow()
    contest = contests.current_contest(now)
    if contest is None:
        raise svc.NoCertificate()
    begin_write()
    return svc.issue_certificate(current_user.id, contest, now=now)


def verify_url(view: svc.CertificateView) -> str:
    return url_for("certificate.verify", code=view.code, _external=True)


@bp.get("/me/certificate")
@roles_required("citizen")
def page():
    try:
        view = my_certificate()
    except svc.NoCertificate as exc:
        return render_template("certificate/none.html", message=exc.message), 404
    url = verify_url(view)
    return render_template(
        "certificate/page.html",
        cert=view,
        verify_url=url,
        qr_src=qr_code(url).png_data_uri(scale=4, border=2),
        issuer=svc.ISSUER,
    )


@bp.get("/me/certificate.png")
@roles_required("citizen")
def image():
    try:
        view = my_certificate()
    except svc.NoCertificate as exc:
        return render_template("certificate/none.html", message=exc.message), 404
    tz = ZoneInfo(current_app.config["QUIZ_TIMEZONE"])
    png = render_png(view, verify_url(view), tz)
    return send_file(
        io.BytesIO(png),
        mimetype="image/png",
        as_attachment=True,
        download_name=f"科普竞赛证书-{view.code}.png",
    )


@bp.get("/verify/<code>")
@verify_limits
def verify(code: str):
    try:
        view = svc.verify(code)
    except svc.UnknownCode as exc:
        return render_template("error.html", code=404, message=exc.message), 404
    return render_template("certificate/verify.html", cert=view, issuer=svc.ISSUER)
