"""Settings read from the environment, with defaults for the embedded setup."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
log = logging.getLogger(__name__)


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


class ConfigError(RuntimeError):
    """A setting the app cannot run without is missing or wrong."""


def check_secret_key(config: dict) -> None:
    """Production (COOKIE_SECURE) refuses to start without SECRET_KEY. A local
    run without one gets a random key for this process only (sessions end
    with it); `bin/serve` keeps a persistent one in instance/ instead."""
    if config.get("SECRET_KEY"):
        return
    if config.get("COOKIE_SECURE"):
        raise ConfigError(
            "SECRET_KEY is not set. In production (COOKIE_SECURE=1) set SECRET_KEY "
            "to a long random value, the same for every process and host, e.g. "
            "the output of: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    log.warning("SECRET_KEY is not set; using a random key for this process only")
    config["SECRET_KEY"] = secrets.token_hex(32)


def _env_list(name: str, default: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


class Config:
    """Production-leaning defaults; every knob can be set from the environment."""

    #: required in production (see check_secret_key); never generated at import
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'quiz.db'}"
    )
    # No pre-ping (a round trip per request): a dropped connection fails one
    # request with a 503, SQLAlchemy invalidates the pool, the next ones reconnect.
    # The pool keeps at least as many connections as a worker has threads
    # (gunicorn gthread: 4 in bin/serve, 8 in the load runs). Overflow
    # connections are closed when returned, so a pool smaller than the thread
    # count opens and closes a PostgreSQL backend per request under load
    # (measured: ~15 new backends/s at 2,500 citizens with the default 5).
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": _env_bool("DB_POOL_PRE_PING", False),
        "pool_recycle": 1800,
        "pool_size": int(os.environ.get("DB_POOL_SIZE", "10")),
        "max_overflow": int(os.environ.get("DB_MAX_OVERFLOW", "5")),
    }
    # DATABASE_URL points at PgBouncer in transaction pooling: consecutive
    # transactions of one connection may run on different server backends, so
    # psycopg must not prepare statements server-side (it does after 5 runs).
    # Nothing else in the app keeps session state (no SET, LISTEN or advisory
    # locks; FOR UPDATE lives inside one transaction).
    if _env_bool("DB_PGBOUNCER", False):
        SQLALCHEMY_ENGINE_OPTIONS["connect_args"] = {"prepare_threshold": None}
    REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    # Short timeouts: a slow Redis must never hold a worker for long.
    REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT", "0.25"))
    QUIZ_TIMEZONE = os.environ.get("QUIZ_TIMEZONE", "Asia/Shanghai")
    # Seconds of network grace for the final submit only.
    SUBMIT_GRACE_S = int(os.environ.get("QUIZ_SUBMIT_GRACE_S", "5"))
    # How long a leaderboard served from SQL (Redis down) is cached, seconds.
    LEADERBOARD_SQL_CACHE_S = int(os.environ.get("LEADERBOARD_SQL_CACHE_S", "30"))
    # Staff figures: each process keeps a contest's figures this many seconds;
    # the rollups fold new attempts at most this often (docs/architecture.md).
    STATS_CACHE_S = int(os.environ.get("STATS_CACHE_S", "30"))
    STATS_REFRESH_S = int(os.environ.get("STATS_REFRESH_S", "15"))

    # Reverse proxies in front of the app (nginx: 1). Only then are
    # X-Forwarded-For/-Proto trusted, for per-address limits and the audit log;
    # 0 (the default) ignores them, so a client cannot forge its address.
    TRUSTED_PROXY_HOPS = int(os.environ.get("TRUSTED_PROXY_HOPS", "0"))
    # Host names this site answers to (Flask checks the Host header, 400 for
    # any other), so no redirect or absolute URL carries a forged host. A name
    # starting with a dot also admits its subdomains. Production sets its own.
    TRUSTED_HOSTS = _env_list("TRUSTED_HOSTS", "localhost,127.0.0.1")

    # Cookies and sessions.
    COOKIE_SECURE = _env_bool("COOKIE_SECURE", True)
    SESSION_COOKIE_SECURE = COOKIE_SECURE
    SESSION_COOKIE_NAME = "__Host-session" if COOKIE_SECURE else "session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    # Server-side lifetimes, checked on the user_session row at every request:
    # idle (since last use, sliding) and absolute (since login). Citizens keep
    # their phone logged in through the contest week; organizer, staff and
    # admin sessions stay short.
    CITIZEN_SESSION_IDLE_S = int(
        os.environ.get("CITIZEN_SESSION_IDLE_S", str(8 * 24 * 3600))
    )
    CITIZEN_SESSION_MAX_S = int(
        os.environ.get("CITIZEN_SESSION_MAX_S", str(30 * 24 * 3600))
    )
    STAFF_SESSION_IDLE_S = int(os.environ.get("STAFF_SESSION_IDLE_S", "1800"))
    STAFF_SESSION_MAX_S = int(os.environ.get("STAFF_SESSION_MAX_S", "28800"))
    # The cookie only has to outlive the longest server-side idle limit. It is
    # re-sent only when the session row's last use is recorded (at most every
    # 300 s, auth.services.SESSION_TOUCH_S), not on every response: re-signing
    # the cookie cost about a third of a /healthz request, and phones download
    # a Set-Cookie header less often. Hence the 300 s on top of the idle limit.
    SESSION_REFRESH_EACH_REQUEST = False
    PERMANENT_SESSION_LIFETIME = int(
        os.environ.get("SESSION_LIFETIME_S", str(CITIZEN_SESSION_IDLE_S + 300))
    )
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    # Uploads (question bank import).
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_BYTES", str(5 * 1024 * 1024)))

    # Rate limits (Flask-Limiter syntax); generous per address for carrier NAT.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or REDIS_URL
    RATELIMIT_STORAGE_OPTIONS = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}
    # Limiter storage down: fall back to per-process memory (limits then apply
    # per worker) and never turn a Redis fault into a 500.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # X-RateLimit-* headers on every limited response cost two more Redis round
    # trips per request (the window's state), a quarter of an answer save's
    # time under load (py-spy, loadtest/RESULTS.md). A refusal (429) still
    # says Retry-After.
    RATELIMIT_HEADERS_ENABLED = _env_bool("RATELIMIT_HEADERS_ENABLED", False)
    # Failed logins per phone from one client network (/24 or /64), and per
    # phone from all networks together (the loose cap on distributed guessing).
    LOGIN_LIMIT_PER_PHONE = os.environ.get("LOGIN_LIMIT_PER_PHONE", "10 per 5 minutes")
    LOGIN_LIMIT_PER_PHONE_GLOBAL = os.environ.get(
        "LOGIN_LIMIT_PER_PHONE_GLOBAL", "100 per hour"
    )
    LOGIN_LIMIT_PER_IP = os.environ.get("LOGIN_LIMIT_PER_IP", "300 per minute")
    REGISTER_LIMIT_PER_IP = os.environ.get("REGISTER_LIMIT_PER_IP", "120 per minute")
    ANSWER_LIMIT_PER_USER = os.environ.get("ANSWER_LIMIT_PER_USER", "120 per minute")
    # Practice answers per account: a round of five takes a person a minute
    # or more; this only stops scripted key harvesting.
    PRACTICE_ANSWER_LIMIT_PER_USER = os.environ.get(
        "PRACTICE_ANSWER_LIMIT_PER_USER", "30 per minute"
    )

    # Practice (see docs/architecture.md, "Practice"): questions per round, and
    # questions a citizen may draw per day (contest time zone), so practice
    # reveals at most half of what the contest's own reviews do (3 x 20).
    PRACTICE_ROUND_SIZE = int(os.environ.get("PRACTICE_ROUND_SIZE", "5"))
    PRACTICE_DAILY_CAP = int(os.environ.get("PRACTICE_DAILY_CAP", "30"))
    #: certificate look-ups (page and API together) per client address
    VERIFY_LIMIT_PER_IP = os.environ.get("VERIFY_LIMIT_PER_IP", "30 per minute")
    # Password recovery: reset codes asked for per phone and per address, and
    # code checks per address (each code also dies after a few wrong tries).
    FORGOT_LIMIT_PER_PHONE = os.environ.get(
        "FORGOT_LIMIT_PER_PHONE", "3 per 10 minutes;10 per day"
    )
    FORGOT_LIMIT_PER_IP = os.environ.get("FORGOT_LIMIT_PER_IP", "30 per hour")
    RESET_LIMIT_PER_IP = os.environ.get("RESET_LIMIT_PER_IP", "60 per hour")

    # Item statistics (docs/operations.md): a page view refreshes them when
    # older than this, adding at most PAGE_BATCH attempt ids (the CLI has no
    # cap); flags need this many answers (and this many in the top group).
    ITEM_STATS_MAX_AGE_S = int(os.environ.get("ITEM_STATS_MAX_AGE_S", "300"))
    ITEM_STATS_PAGE_BATCH = int(os.environ.get("ITEM_STATS_PAGE_BATCH", "50000"))
    ITEM_STATS_MIN_EXPOSURES = int(os.environ.get("ITEM_STATS_MIN_EXPOSURES", "30"))
    ITEM_STATS_MIN_TOP = int(os.environ.get("ITEM_STATS_MIN_TOP", "10"))

    # SMS: "log" writes messages to the server log; "webhook" POSTs JSON
    # {"phone", "message"} to SMS_WEBHOOK_URL.
    SMS_BACKEND = os.environ.get("SMS_BACKEND", "log")
    SMS_WEBHOOK_URL = os.environ.get("SMS_WEBHOOK_URL", "")
    SMS_WEBHOOK_TIMEOUT_S = float(os.environ.get("SMS_WEBHOOK_TIMEOUT_S", "3"))


class TestConfig(Config):
    """Used by the test suite: real services, isolated names, no secure-cookie need."""

    TESTING = True
    SECRET_KEY = "test-secret"
    STATS_CACHE_S = 0  # every read recomputes: tests see their own writes
    STATS_REFRESH_S = 0
    COOKIE_SECURE = False
    SESSION_COOKIE_SECURE = False
    SESSION_COOKIE_NAME = "session"
    REMEMBER_COOKIE_SECURE = False
