"""Rate limits (Flask-Limiter): per address and per phone/account, from config."""

from __future__ import annotations

from flask import current_app, request, session
from flask_limiter.util import get_remote_address

from ..extensions import limiter
from .services import normalize_phone, session_principal


def _phone_key() -> str:
    data = request.get_json(silent=True) if request.is_json else request.form
    phone = data.get("phone") if isinstance(data, dict) or hasattr(data, "get") else ""
    return "phone:" + normalize_phone(phone if isinstance(phone, str) else "")[:20]


def _user_key() -> str:
    """Per account, from the cookie's claim alone (no database round trip)."""
    principal = session_principal(session.get("_user_id"))
    if principal is not None:
        return f"user:{principal.id}"
    return get_remote_address()


def _cfg(name: str):
    return lambda: current_app.config[name]


_login_ip = limiter.limit(
    _cfg("LOGIN_LIMIT_PER_IP"),
    key_func=get_remote_address,
    scope="login-ip",
    methods=["POST"],
)
_login_phone = limiter.limit(
    _cfg("LOGIN_LIMIT_PER_PHONE"),
    key_func=_phone_key,
    scope="login-phone",
    methods=["POST"],
)
_register_ip = limiter.limit(
    _cfg("REGISTER_LIMIT_PER_IP"),
    key_func=get_remote_address,
    scope="register-ip",
    methods=["POST"],
)
_answer = limiter.limit(
    _cfg("ANSWER_LIMIT_PER_USER"), key_func=_user_key, scope="answer"
)


def login_limits(view):
    return _login_ip(_login_phone(view))


def register_limits(view):
    return _register_ip(view)


def answer_limit(view):
    return _answer(view)
