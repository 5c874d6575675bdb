"""Rate limits: per address (Flask-Limiter), failed logins per phone and answers
per account (the `limits` library under Flask-Limiter, called directly). Each
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

log = logging.getLogger(__name__)
# While the limiter's Redis is unreachable, the limits counted here are kept
# per process in memory for a few seconds instead of waiting on a dead socket.
_fallback = FixedWindowRateLimiter(MemoryStorage())
_fallback_until = 0.0
FALLBACK_S = 5.0


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


def _user_key() -> str:
    """Per account, from the cookie's claim alone (no database round trip)."""
    principal = session_principal(session.get("_user_id"))
    if principal is not None:
        return f"user:{principal.id}"
    return get_remote_address()


def _cfg(name: str):
    return lambda: current_app.config[name]


@lru_cache(maxsize=8)
def _item(text: str) -> RateLimitItem:
    return parse(text)


def _hit(item: RateLimitItem, key: tuple[str, ...], cost: int = 1) -> bool:
    """One atomic counter step through the strategy and storage Flask-Limiter
    uses, or the per-process fallback while that storage is unreachable.
    A negative cost gives places back."""
    global _fallback_until
    strategy = limiter.limiter if time.monotonic() >= _fallback_until else _fallback
    try:
        return strategy.hit(item, *key, cost=cost)
    except Exception:  # the limiter's Redis is down or slow
        log.warning("rate limit storage unreachable; in memory for %ss", FALLBACK_S)
        _fallback_until = time.monotonic() + FALLBACK_S
        return _fallback.hit(item, *key, cost=cost)


def note_login_failure() -> None:
    """Called by a login view when the password check failed: only such
    requests keep their place in the per-phone counters."""
    g.login_failed = True


def _phone_limits(view):
    """Failed logins per phone and client network (/24, /64), so a rival who
    knows the number can use up the limit only for their own network, and per
    phone from every network together (the looser cap). Each attempt takes a
    place in both counters before the password is checked, atomically, so
    parallel guesses cannot overrun the limit; the place is given back unless
    the check failed, so a correct login never spends the limit."""

    @wraps(view)
    def limited(*args, **kwargs):
        config = current_app.config
        if request.method != "POST" or not config.get("RATELIMIT_ENABLED", True):
            return view(*args, **kwargs)
        prefix, phone = config["RATELIMIT_KEY_PREFIX"], _phone_key()
        counters = [
            (
                _item(config["LOGIN_LIMIT_PER_PHONE"]),
                (prefix, f"{phone}|net:{client_network()}", "login-phone-net"),
            ),
            (
                _item(config["LOGIN_LIMIT_PER_PHONE_GLOBAL"]),
                (prefix, phone, "login-phone"),
            ),
        ]
        taken = []
        for item, key in counters:
            allowed = _hit(item, key)
            taken.append((item, key))
            if not allowed:
                for it, k in taken:
                    _hit(it, k, cost=-1)
                raise TooManyRequests(retry_after=item.get_expiry())
        try:
            return view(*args, **kwargs)
        finally:
            if not g.get("login_failed"):
                for item, key in taken:
                    _hit(item, key, cost=-1)

    return limited


# Shared limits: one counter per action whether the page or the API is used
# (a per-route limit would give each door its own allowance).
_login_ip = limiter.shared_limit(
    _cfg("LOGIN_LIMIT_PER_IP"),
    scope="login-ip",
    key_func=get_remote_address,
    methods=["POST"],
)
_register_ip = limiter.shared_limit(
    _cfg("REGISTER_LIMIT_PER_IP"),
    scope="register-ip",
    key_func=get_remote_address,
    methods=["POST"],
)


_verify_ip = limiter.shared_limit(
    _cfg("VERIFY_LIMIT_PER_IP"),
    scope="verify-ip",
    key_func=get_remote_address,
)


# Reset codes: per phone (every request, registered or not, so the limit
# tells nothing) and per address; code checks per address. Each code also
# dies after a few wrong tries (auth.recovery.MAX_TRIES).
_forgot_phone = limiter.shared_limit(
    _cfg("FORGOT_LIMIT_PER_PHONE"),
    scope="forgot-phone",
    key_func=_phone_key,
    methods=["POST"],
)
_forgot_ip = limiter.shared_limit(
    _cfg("FORGOT_LIMIT_PER_IP"),
    scope="forgot-ip",
    key_func=get_remote_address,
    methods=["POST"],
)
_reset_ip = limiter.shared_limit(
    _cfg("RESET_LIMIT_PER_IP"),
    scope="reset-ip",
    key_func=get_remote_address,
    methods=["POST"],
)


def forgot_limits(view):
    return _forgot_ip(_forgot_phone(view))


def reset_limits(view):
    return _reset_ip(view)


def login_limits(view):
    return _login_ip(_phone_limits(view))


def register_limits(view):
    return _register_ip(view)


def verify_limits(view):
    """Certificate look-ups by code, page and API sharing one counter: keeps
    walking the code space slow on top of the codes' 50 bits."""
    return _verify_ip(view)


def account_limit(setting: str, scope: str):
    """A per-account limit (config `setting`, its own counter `scope`): one
    counter hit through the same strategy and storage Flask-Limiter uses,
    without its per-request route resolution (a quarter of an answer save's
    CPU under py-spy)."""

    def decorate(view):
        @wraps(view)
        def limited(*args, **kwargs):
            config = current_app.config
            if config.get("RATELIMIT_ENABLED", True):
                item = _item(config[setting])
                key = (config["RATELIMIT_KEY_PREFIX"], _user_key(), scope)
                if not _hit(item, key):
                    raise TooManyRequests(retry_after=item.get_expiry())
            return view(*args, **kwargs)

        return limited

    return decorate


#: Contest answer saves, page and API together.
answer_limit = account_limit("ANSWER_LIMIT_PER_USER", "answer")
#: Practice answers, page and API together (each one reveals a key).
practice_answer_limit = account_limit("PRACTICE_ANSWER_LIMIT_PER_USER", "practice")
