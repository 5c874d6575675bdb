"""Large-text mode (大字模式): a cookie, read on the server so every page is
rendered with `<html class="large-text">` from its first byte (no script, no
flash of small text). Works with or without a login."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, request, url_for

bp = Blueprint("textsize", __name__)

COOKIE = "text_size"
LARGE = "large"
#: a year: the choice sticks on this phone until changed
MAX_AGE_S = 365 * 24 * 3600


def large_text() -> bool:
    return request.cookies.get(COOKIE) == LARGE


@bp.app_context_processor
def inject_text_size():
    return {"large_text": large_text()}


def _back(target: str | None) -> str:
    """Only same-site relative paths are followed back."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("contest.index")


@bp.post("/text-size")
def toggle():
    """Switch the mode (form value size=large|normal) and go back."""
    size = request.form.get("size")
    response = redirect(_back(request.form.get("next")), 303)
    if size == LARGE:
        response.set_cookie(
            COOKIE,
            LARGE,
            max_age=MAX_AGE_S,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    else:
        response.delete_cookie(COOKIE, httponly=True, samesite="Lax")
    return response
