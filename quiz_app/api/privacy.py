"""JSON API v1, personal data: ranking consent, what is stored, deletion."""

from __future__ import annotations

from flask import jsonify, request, session
from flask_login import current_user, logout_user

from .. import api_error
from ..auth.decorators import roles_required
from ..clock import utcnow
from ..privacy import services as privacy
from . import bp
from .views import body


@bp.errorhandler(privacy.PrivacyError)
def privacy_error(exc: privacy.PrivacyError):
    if exc.status != 422:
        code = {403: "forbidden", 409: "conflict"}.get(exc.status, "invalid")
        return api_error(exc.status, code, exc.message)
    error = {
        "code": "invalid",
        "message": exc.message,
        "fields": {exc.field: exc.message},
    }
    return jsonify({"error": error}), 422


def consent_json(user) -> dict:
    return {
        "public_ranking": user.public_ranking,
        "public_ranking_at": user.public_ranking_at,
    }


@bp.get("/me/consent")
@roles_required("citizen")
def consent_get():
    return jsonify(consent_json(current_user))


@bp.put("/me/consent")
@roles_required("citizen")
def consent_put():
    """{"public_ranking": bool}: give or withdraw the ranking consent."""
    value = body().get("public_ranking")
    if not isinstance(value, bool):
        raise privacy.PrivacyError(
            "public_ranking", "public_ranking 必须是 true 或 false"
        )
    privacy.set_ranking_consent(
        current_user, value, now=utcnow(), ip=request.remote_addr
    )
    return jsonify(consent_json(current_user))


@bp.get("/me/data")
@roles_required("citizen")
def my_data():
    return jsonify(privacy.personal_data(current_user))


@bp.post("/me/delete")
@roles_required("citizen")
def delete_me():
    """{"password"}: delete the account (identity removed, results kept
    anonymously); the session ends. 204."""
    password = body().get("password")
    if not isinstance(password, str) or not password:
        raise privacy.PrivacyError("password", "请填写密码")
    privacy.delete_account(current_user, password, now=utcnow(), ip=request.remote_addr)
    logout_user()
    session.clear()
    return "", 204
