"""SQLite transaction modes: reads never wait for the write lock, writes never
fail with "database is locked", slow imports block nobody."""

from __future__ import annotations

import io
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from quiz_app.bank import staging as bank_staging
from quiz_app.bank.services import sync_categories
from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Attempt, Contest, Question, User
from tests.auth.test_views import csrf_from
from tests.conftest import Api, bank_rows, rows_to_csv

sqlite_only = pytest.mark.sqlite_only


def start_expired_attempt(app, user, contest) -> int:
    """An attempt started long enough ago that its time ran out, still open."""
    with app.app_context():
        attempt, _ = svc.start_attempt(
            db.session.get(User, user.id),
            db.session.get(Contest, contest.id),
            now=utcnow() - timedelta(minutes=20),
            grace_s=5,
        )
        return attempt.id


def first_single(attempt_json) -> tuple[str, list[str]]:
    q = next(q for q in attempt_json["questions"] if q["type"] == "single")
    url = f"/api/v1/attempts/{attempt_json['id']}/answers/{q['position']}"
    return url, [o["key"] for o in q["options"]]


def test_answer_saves_stay_fast_while_an_import_parses(
    app, monkeypatch, make_open_contest, make_user
):
    """An organizer's upload that takes seconds to parse holds no lock: citizens'
    answer saves, pages and logins in the meantime answer well within a second."""
    make_open_contest()
    citizen, other = make_user(), make_user()
    api = Api(app.test_client())
    api.login(citizen)
    url, keys = first_single(api.post("/api/v1/attempts", {}).get_json())

    organizer = app.test_client()
    Api(organizer).login(make_user(role="organizer"))
    token = csrf_from(organizer.get("/admin/questions").get_data(as_text=True))

    # The parse blocks until the citizens are done (at most 5 s): a parse that
    # held the write lock would make every save below wait that long.
    parsing, release = threading.Event(), threading.Event()
    real_read_table = bank_staging.read_table

    def slow_read_table(data, filename):
        parsing.set()
        release.wait(timeout=5)
        return real_read_table(data, filename)

    monkeypatch.setattr(bank_staging, "read_table", slow_read_table)
    upload = rows_to_csv(bank_rows())
    outcome = {}

    def organizer_imports():
        r = organizer.post(
            "/admin/questions/import",
            data={"csrf_token": token, "file": (io.BytesIO(upload), "bank.csv")},
            content_type="multipart/form-data",
        )
        outcome["status"] = r.status_code
        outcome["preview"] = r.headers.get("Location")

    importer = threading.Thread(target=organizer_imports)
    importer.start()
    try:
        assert parsing.wait(timeout=10)
        timings = []
        for choice in keys:
            t0 = time.perf_counter()
            r = api.put(url, {"choices": [choice]})
            timings.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.get_data(as_text=True)
        t0 = time.perf_counter()
        assert api.get("/").status_code == 200
        assert Api(app.test_client()).login(other).status_code == 200
        timings.append(time.perf_counter() - t0)
        still_parsing = not release.is_set()
    finally:
        release.set()
        importer.join(timeout=30)
    assert still_parsing  # every request above ran during the parse
    assert max(timings) < 1.0, timings
    assert outcome["status"] == 303  # to the preview
    r = organizer.post(outcome["preview"] + "/confirm", data={"csrf_token": token})
    assert r.status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Question.id))) == 42


@sqlite_only
def test_a_get_that_expires_an_attempt_never_upgrades_a_stale_read(
    app, make_open_contest, make_user, database_url
):
    """GET runs deferred; when it must finish an attempt whose time ran out, it
    starts over as a write transaction. Without that, another writer's commit
    between its first read and its write fails the upgrade (SQLITE_BUSY_SNAPSHOT,
    "database is locked", which busy_timeout does not wait out)."""
    contest = make_open_contest()
    user = make_user()
    attempt_id = start_expired_attempt(app, user, contest)
    with app.test_request_context(f"/api/v1/attempts/{attempt_id}", method="GET"):
        app.preprocess_request()
        me = db.session.get(User, user.id)  # the request's first read: a snapshot
        other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=5)
        # Another writer commits (a no-op UPDATE would not count: SQLite skips it).
        other.execute('UPDATE "user" SET name = ? WHERE id = ?', ("李四", user.id))
        other.commit()
        other.close()
        attempt = svc.get_attempt(attempt_id, me, now=utcnow(), grace_s=5)
        assert attempt.finish_kind == "expired"
    with app.app_context():
        assert db.session.get(Attempt, attempt_id).finished_at is not None


def test_concurrent_writers_never_see_database_is_locked(
    app, make_open_contest, make_user
):
    """GETs that finish attempts whose time ran out, answer saves and submits,
    all at once from many threads: every request succeeds (no 503 from a lock
    error, no 500)."""
    contest = make_open_contest()
    n = 10
    late = [make_user() for _ in range(n // 2)]  # come back after the deadline
    busy = [make_user() for _ in range(n // 2)]  # answering right now
    expired = [start_expired_attempt(app, u, contest) for u in late]
    apis = []
    for u in late + busy:
        a = Api(app.test_client())
        a.login(u)
        apis.append(a)
    opened = [a.post("/api/v1/attempts", {}).get_json() for a in apis[n // 2 :]]
    barrier = threading.Barrier(n)
    failures: list = []

    def late_citizen(a, attempt_id):
        return [a.get(f"/api/v1/attempts/{attempt_id}"), a.get("/api/v1/me/attempts")]

    def busy_citizen(a, att):
        url, keys = first_single(att)
        return [
            a.put(url, {"choices": [keys[0]]}),
            a.put(url, {"choices": [keys[1]]}),
            a.post(f"/api/v1/attempts/{att['id']}/submit", {}),
        ]

    def work(i):
        try:
            barrier.wait(timeout=10)
            if i < n // 2:
                responses = late_citizen(apis[i], expired[i])
            else:
                responses = busy_citizen(apis[i], opened[i - n // 2])
            for r in responses:
                if r.status_code != 200:
                    failures.append((i, r.status_code, r.get_data(as_text=True)))
        except Exception as exc:  # reported below
            failures.append((i, repr(exc)))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures, failures
    with app.app_context():
        rows = db.session.execute(sa.select(Attempt.id, Attempt.finish_kind))
        kinds = dict(rows.tuples().all())
    assert all(kinds[a] == "expired" for a in expired)
    assert all(kinds[o["id"]] == "submitted" for o in opened)


@sqlite_only
def test_reads_take_no_write_lock_but_unsafe_methods_do(app, monkeypatch):
    """A GET's transaction starts deferred; POST/PUT/... and code outside a
    request start BEGIN IMMEDIATE (the write lock comes first, never upgraded)."""
    from quiz_app.db import in_write_transaction

    with app.app_context():
        sync_categories([("health", "卫生健康", "")])
        db.session.commit()
        db.session.scalar(sa.select(sa.func.count(User.id)))
        assert in_write_transaction()
        db.session.rollback()
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    for method, expected in (("GET", False), ("HEAD", False), ("POST", True)):
        with app.test_request_context("/", method=method):
            app.preprocess_request()
            db.session.scalar(sa.select(sa.func.count(User.id)))
            assert in_write_transaction() is expected, method
            db.session.rollback()


@sqlite_only
def test_a_write_that_would_upgrade_a_read_transaction_is_flagged(app, make_user):
    """A GET path that writes without begin_write() is caught in tests (the
    warning is an error under pytest.ini), not under load in production."""
    from quiz_app.db import DeferredWriteWarning, begin_write

    user = make_user()
    with app.test_request_context("/", method="GET"):
        app.preprocess_request()
        db.session.get(User, user.id).name = "王五"
        with pytest.warns(DeferredWriteWarning):
            db.session.commit()
    with app.test_request_context("/", method="GET"):
        app.preprocess_request()
        me = db.session.get(User, user.id)
        begin_write()
        me.name = "赵六"
        db.session.commit()  # no warning: the transaction began IMMEDIATE
    with app.app_context():
        assert db.session.get(User, user.id).name == "赵六"
