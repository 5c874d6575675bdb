"""Edits reach every process within seconds: two real gunicorn processes with
warm caches see a contest edit and a question revision made elsewhere."""

from __future__ import annotations

import time

import pytest

from quiz_app.bank.services import import_file
from quiz_app.clock import utcnow
from quiz_app.contest.services import update_contest
from tests.conftest import bank_rows, rows_to_csv
from tests.faults.test_process_faults import Browser, LiveServer

#: the epoch is read every 2 s; allow for a slow, busy CI machine
REACH_S = 4.0


@pytest.fixture
def two_servers(app, database_url, redis_server, tmp_path):
    servers = [
        LiveServer(database_url, redis_server.connection_url, tmp_path / f"g{i}.log")
        for i in range(2)
    ]
    for s in servers:
        s.start()
    yield servers
    for s in servers:
        s.close()


def wait_until(check, seconds: float) -> float:
    """Seconds until check() held; fails after `seconds`."""
    t0 = time.monotonic()
    while not check():
        assert time.monotonic() - t0 < seconds, "edit not seen in time"
        time.sleep(0.1)
    return time.monotonic() - t0


def stems(attempt: dict) -> set[str]:
    return {q["stem"] for q in attempt["questions"]}


def test_edits_reach_every_process_within_seconds(
    app, two_servers, make_open_contest, make_user
):
    contest = make_open_contest(days=1, attempts_per_day=50)
    phones = []
    for server in two_servers:
        phone = Browser(server.base)
        phone.login(make_user().phone)
        phones.append(phone)
        # Warm every cache: the contest, the pool and the texts.
        assert phone.call("GET", "/api/v1/contest")[1]["title"] == "测试竞赛"
        status, attempt = phone.call("POST", "/api/v1/attempts", {})
        assert status == 201, attempt
        phone.open = attempt
        assert all("（修订）" not in s for s in stems(attempt))
    # A third citizen holds an attempt across the edit.
    holder = Browser(two_servers[1].base)
    holder.login(make_user().phone)
    status, held = holder.call("POST", "/api/v1/attempts", {})
    assert status == 201, held

    with app.app_context():
        update_contest(contest.id, {"title": "改名后的竞赛"}, now=utcnow())
        rows = bank_rows()
        for row in rows[1:]:
            row[4] += "（修订）"
        import_file(rows_to_csv(rows), "bank.csv", now=utcnow())

    for phone in phones:
        wait_until(
            lambda p=phone: p.call("GET", "/api/v1/contest")[1]["title"]
            == "改名后的竞赛",
            REACH_S,
        )

        def draws_new_revision(p=phone) -> bool:
            status, result = p.call(
                "POST", f"/api/v1/attempts/{p.open['id']}/submit", {}
            )
            assert status == 200, result
            status, attempt = p.call("POST", "/api/v1/attempts", {})
            assert status == 201, attempt
            p.open = attempt
            return all(s.endswith("（修订）") for s in stems(attempt))

        wait_until(draws_new_revision, REACH_S)

    # The attempt that was open during the edit keeps the text it drew.
    status, again = holder.call("GET", f"/api/v1/attempts/{held['id']}")
    assert status == 200 and again["questions"] == held["questions"]
    assert all(not s.endswith("（修订）") for s in stems(again))
