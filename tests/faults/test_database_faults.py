"""PostgreSQL faults: every app connection killed mid-contest."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from quiz_app.extensions import db
from tests.conftest import Api

pytestmark = pytest.mark.postgres_only


@pytest.fixture(autouse=True)
def fresh_pool_afterwards(app):
    """The killed backends may still sit in the pool: later tests start clean."""
    yield
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def kill_app_connections(app) -> int:
    """Terminate every other backend of the test database, as a failover or an
    administrator's pg_terminate_backend would."""
    with app.app_context():
        url = db.engine.url
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    admin.dispose()
    return killed


def test_killed_connections_give_503_then_recover_without_partial_writes(
    app, client, make_open_contest, make_user
):
    make_open_contest(days=1)
    citizen = make_user()
    api = Api(client)
    api.login(citizen)
    attempt = api.post("/api/v1/attempts", {}).get_json()
    q = next(q for q in attempt["questions"] if q["type"] == "single")
    keys = [o["key"] for o in q["options"]]
    url = f"/api/v1/attempts/{attempt['id']}/answers/{q['position']}"
    assert api.put(url, {"choices": [keys[0]]}).status_code == 200

    assert kill_app_connections(app) >= 1
    # Each request either succeeds or gets the generic 503 in JSON (never a
    # 500); the pool drops the dead connections and recovers by itself.
    codes = []
    for choice in (keys[1], keys[2], keys[3], keys[1]):
        r = api.put(url, {"choices": [choice]})
        codes.append(r.status_code)
        assert r.status_code in (200, 503), r.get_data(as_text=True)
        if r.status_code == 503:
            body = r.get_json()["error"]
            assert body["code"] == "unavailable" and "服务暂时不可用" in body["message"]
        else:
            last_ok = choice
    assert codes[-1] == 200 and codes.count(503) <= 2

    # Nothing half-written: the stored answer is the last acknowledged one, and
    # the attempt is still one open attempt that submits and scores normally.
    shown = api.get(f"/api/v1/attempts/{attempt['id']}").get_json()
    assert shown["answers"][str(q["position"])] == [last_ok]
    assert shown["status"] == "open"
    result = api.post(f"/api/v1/attempts/{attempt['id']}/submit", {})
    assert result.status_code == 200
    assert result.get_json()["status"] == "submitted"


def test_killed_connections_during_pages_give_a_chinese_503_page(
    app, client, make_open_contest
):
    make_open_contest(days=1)
    assert client.get("/").status_code == 200
    kill_app_connections(app)
    codes = []
    for _ in range(3):
        r = client.get("/")
        codes.append(r.status_code)
        assert r.status_code in (200, 503)
        if r.status_code == 503:
            assert "服务暂时不可用" in r.get_data(as_text=True)
    assert codes[-1] == 200
