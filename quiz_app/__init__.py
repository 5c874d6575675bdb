"""The contest platform: create_app builds the Flask application."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import redis_keys
from .clock import iso
from .config import Config
from .extensions import csrf, db, limiter, login_manager, migrate, redis_client
from .params import BoundedIntConverter

log = logging.getLogger(__name__)


def create_app(config: type[Config] | None = None, **overrides: Any) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config or Config)
    app.config.update(overrides)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", redis_keys.RATE_LIMIT_PREFIX)
    app.json = ContestJSONProvider(app)
    # Every <int:...> route (any blueprint's) takes only ids the database can hold.
    app.url_map.converters["int"] = BoundedIntConverter
    register_extensions(app)
    register_template_helpers(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_commands(app)
    hops = app.config.get("TRUSTED_PROXY_HOPS", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    return app


class ContestJSONProvider(DefaultJSONProvider):
    """Datetimes as ISO 8601 with the contest zone's offset."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return iso(o, current_app.config["QUIZ_TIMEZONE"])
        return super().default(o)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("ensure_ascii", False)
        return super().dumps(obj, **kwargs)


def register_template_helpers(app: Flask) -> None:
    tz = ZoneInfo(app.config["QUIZ_TIMEZONE"])

    @app.template_filter("localtime")
    def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(tz).strftime(fmt) if value else ""

    @app.template_filter("duration")
    def duration(ms: int | None) -> str:
        if ms is None:
            return ""
        minutes, seconds = divmod(int(ms) // 1000, 60)
        return f"{minutes}分{seconds:02d}秒" if minutes else f"{seconds}秒"


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    # Every limit here is a route decorator, and a decorated view checks its
    # own limits. Flask-Limiter's before_request hook would only look for
    # application-wide limits (there are none) and cost ~190 µs on every
    # request, a third of /healthz (measured in process).
    app.before_request_funcs[None] = [
        f
        for f in app.before_request_funcs.get(None, [])
        if getattr(f, "__self__", None) is not limiter
    ]
    redis_client.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = "basic"
    from .auth.services import load_session_user

    login_manager.user_loader(load_session_user)

    @login_manager.unauthorized_handler
    def unauthorized():
        from flask import redirect, url_for

        if request.path.startswith("/api/"):
            return api_error(401, "not_logged_in", "请先登录")
        return redirect(url_for("auth.login", next=request.full_path))

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout and BEGIN IMMEDIATE: two writers wait, never fail."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):  # pragma: no cover - driver hook
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event decide
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):  # pragma: no cover - driver hook
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def register_blueprints(app: Flask) -> None:
    from . import api, auth, bank, contest, leaderboard, stats

    app.register_blueprint(auth.bp)
    app.register_blueprint(contest.bp)
    app.register_blueprint(leaderboard.bp)
    app.register_blueprint(bank.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")


def api_error(status: int, code: str, message: str):
    resp = jsonify({"error": {"code": code, "message": message}})
    resp.status_code = status
    return resp


HTTP_MESSAGES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限访问",
    404: "页面不存在",
    405: "不支持该请求方法",
    409: "请求与当前状态冲突",
    413: "上传的文件太大",
    422: "提交的数据无效",
    429: "操作太频繁，请稍后再试",
    500: "服务器出错了",
    503: "服务暂时不可用，请稍后再试",
}


def register_error_handlers(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path.startswith("/api/")

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if wants_json():
            return api_error(400, "csrf_failed", "安全校验失败，请刷新页面后重试")
        return render_template(
            "error.html", code=400, message="页面已过期或安全校验失败，请返回刷新后重试"
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        message = HTTP_MESSAGES.get(code, "请求未能完成")
        if wants_json():
            slug = (exc.name or "error").lower().replace(" ", "_")
            resp = api_error(code, slug, message)
        else:
            resp = app.make_response(
                (render_template("error.html", code=code, message=message), code)
            )
        if isinstance(exc, RateLimitExceeded):
            # The limit's whole window: an upper bound that needs no Redis call
            # (per-request X-RateLimit headers are off; see config).
            resp.headers["Retry-After"] = str(exc.limit.limit.get_expiry())
        elif retry_after := dict(exc.get_headers()).get("Retry-After"):
            resp.headers["Retry-After"] = retry_after
        return resp

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        from sqlalchemy.exc import InterfaceError, OperationalError

        error_id = secrets.token_hex(4)
        log.exception(
            "unhandled error %s on %s %s", error_id, request.method, request.path
        )
        db.session.rollback()
        if isinstance(exc, (OperationalError, InterfaceError)):
            code, message = 503, HTTP_MESSAGES[503]
        else:
            code, message = 500, HTTP_MESSAGES[500]
        message = f"{message}（错误编号 {error_id}）"
        if wants_json():
            return api_error(
                code, "server_error" if code == 500 else "unavailable", message
            )
        return render_template("error.html", code=code, message=message), code


def register_security_headers(app: Flask) -> None:
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        "form-action 'self'"
    )

    @app.after_request
    def headers(resp):
        h = resp.headers
        h.setdefault("Content-Security-Policy", csp)
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("COOKIE_SECURE"):
            h.setdefault(
                "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
            )
        if not request.path.startswith("/static/"):
            # Pages and API answers are personal or live: never cache them.
            h.setdefault("Cache-Control", "no-store")
        return resp


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)
