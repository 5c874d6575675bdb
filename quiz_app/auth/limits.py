"""Rate limits: per address and per phone (Flask-Limiter), per account on the
answer path (the `limits` library under Flask-Limiter, called directly). Each
limit is one counter for its action, whether it comes through a page or the API."""

from __future__ import annotations

import ipaddress
import logging
import time
from functools import lru_cache, wraps

from flask import current_app, g, request, session
from flask_limiter.util import get_remote_address
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import TooManyRequests

from ..extensions import limiter
from .services import normalize_phone, session_principal


def _phone_key() -> str:
    data = request.get_json(silent=True) if request.is_json else request.form
    phone = data.get("phone") if isinstance(data, dict) or hasattr(data, "get") else ""
    return "phone:" + normalize_phone(phone if isinstance(phone, str) else "")[:20]


def client_network(address: str | None = None) -> str:
    """The client's /24 (IPv4) or /64 (IPv6): one home, office or carrier pool."""
    address = address or get_remote_address() or ""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _phone_network_key() -> str:
    return f"{_phone_key()}|net:{client_network()}"


def _user_key() -> str:
    """Per account, from the cookie's claim alone (no database round trip)."""
    principal = session_principal(session.get("_user_id"))
    if principal is not None:
        return f"user:{principal.id}"
    return get_remote_address()


def _cfg(name: str):
    return lambda: current_app.config[name]


def note_login_failure() -> None:
    """Called by a login view when the password check failed: only such
    requests count against the per-phone limits (see _failed)."""
    g.login_failed = True


def _failed(_response) -> bool:
    return bool(g.get("login_failed"))


# Shared limits: one counter per action whether the page or the API is used
# (a per-route limit would give each door its own allowance). The per-phone
# limits count failed password checks only, so a correct login never spends
# them, and the tight one is keyed by phone and client network: someone who
# knows a rival's number can exhaust it only for their own network. The loose
# one caps guesses at a phone from every network together.
_login_ip = limiter.shared_limit(
    _cfg("LOGIN_LIMIT_PER_IP"),
    scope="login-ip",
    key_func=get_remote_address,
    methods=["POST"],
)
_login_phone = limiter.shared_limit(
    _cfg("LOGIN_LIMIT_PER_PHONE"),
    scope="login-phone-net",
    key_func=_phone_network_key,
    methods=["POST"],
    deduct_when=_failed,
)
_login_phone_global = limiter.shared_limit(
    _cfg("LOGIN_LIMIT_PER_PHONE_GLOBAL"),
    scope="login-phone",
    key_func=_phone_key,
    methods=["POST"],
    deduct_when=_failed,
)
_register_ip = limiter.shared_limit(
    _cfg("REGISTER_LIMIT_PER_IP"),
    scope="register-ip",
    key_func=get_remote_address,
    methods=["POST"],
)
log = logging.getLogger(__name__)
# While the limiter's Redis is unreachable, the answer limit is counted per
# process in memory for a few seconds instead of waiting on a dead socket.
_fallback = FixedWindowRateLimiter(MemoryStorage())
_fallback_until = 0.0
FALLBACK_S = 5.0


def login_limits(view):
    return _login_ip(_login_phone(_login_phone_global(view)))


def register_limits(view):
    return _register_ip(view)


@lru_cache(maxsize=8)
def _item(text: str) -> RateLimitItem:
    return parse(text)


def answer_limit(view):
    """Per account on the hottest endpoint: one counter hit through the same
    strategy and storage Flask-Limiter uses, without its per-request route
    resolution (a quarter of an answer save's CPU under py-spy)."""

    @wraps(view)
    def limited(*args, **kwargs):
        global _fallback_until
        config = current_app.config
        if config.get("RATELIMIT_ENABLED", True):
            item = _item(config["ANSWER_LIMIT_PER_USER"])
            key = (config["RATELIMIT_KEY_PREFIX"], _user_key(), "answer")
            strategy = limiter.limiter
            if time.monotonic() < _fallback_until:
                strategy = _fallback
            try:
                allowed = strategy.hit(item, *key)
            except Exception:  # the limiter's Redis is down or slow
                log.warning(
                    "answer limit storage unreachable; in memory for %ss", FALLBACK_S
                )
                _fallback_until = time.monotonic() + FALLBACK_S
                allowed = _fallback.hit(item, *key)
            if not allowed:
                raise TooManyRequests(retry_after=item.get_expiry())
        return view(*args, **kwargs)

    return limited
