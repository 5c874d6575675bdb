"""The contest platform: create_app builds the Flask application."""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, request, url_for

from . import redis_keys
from .config import Config, check_secret_key
from .db import register_database
from .errors import api_error, register_error_handlers
from .extensions import csrf, db, limiter, login_manager, migrate, redis_client
from .params import BoundedIntConverter
from .rendering import register_rendering
from .security import register_proxy_fix, register_security_headers


def create_app(config: type[Config] | None = None, **overrides: Any) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config or Config)
    app.config.update(overrides)
    check_secret_key(app.config)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", redis_keys.RATE_LIMIT_PREFIX)
    # Every <int:...> route (any blueprint's) takes only ids the database can hold.
    app.url_map.converters["int"] = BoundedIntConverter
    register_extensions(app)
    register_database(app)
    register_rendering(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_security_headers(app)
    register_commands(app)
    register_proxy_fix(app)
    return app


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
    from .auth.sms import sender_from_config

    app.extensions["sms_sender"] = sender_from_config(app.config)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录"
    login_manager.session_protection = "basic"
    from .auth.views import load_session_user

    login_manager.user_loader(load_session_user)

    @login_manager.unauthorized_handler
    def unauthorized():
        if request.path.startswith("/api/"):
            return api_error(401, "not_logged_in", "请先登录")
        return redirect(url_for("auth.login", next=request.full_path))


def register_blueprints(app: Flask) -> None:
    from . import (
        admin,
        api,
        auth,
        bank,
        certificate,
        contest,
        items,
        leaderboard,
        practice,
        privacy,
        stats,
        textsize,
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(contest.bp)
    app.register_blueprint(certificate.bp)
    app.register_blueprint(contest.admin_bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(leaderboard.bp)
    app.register_blueprint(bank.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(items.bp)
    app.register_blueprint(practice.bp)
    app.register_blueprint(privacy.bp)
    app.register_blueprint(textsize.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)
