"""Response security headers and which proxies' forwarded headers are trusted."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def register_security_headers(app: Flask) -> None:
    always = [
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
    ]
    if app.config.get("COOKIE_SECURE"):
        always.append(
            ("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        )
    dynamic = [*always, ("Cache-Control", "no-store")]

    @app.after_request
    def headers(resp):
        # A view may set its own value of any of these; the defaults fill the
        # rest. (One pass over the headers: werkzeug's setdefault raises and
        # catches a KeyError per missing header, which cost more than the
        # whole /healthz view.)
        h = resp.headers
        present = {name.lower() for name, _ in h}
        # Pages and API answers are personal or live: never cache them.
        wanted = always if request.path.startswith("/static/") else dynamic
        for name, value in wanted:
            if name.lower() not in present:
                h.add(name, value)
        return resp


def register_proxy_fix(app: Flask) -> None:
    """Trust X-Forwarded-For/-Proto only from the configured number of proxies."""
    hops = app.config.get("TRUSTED_PROXY_HOPS", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
