"""Practice races on PostgreSQL: parallel starts draw one round within the
cap, parallel answers to one question record one answer."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from quiz_app.extensions import db
from quiz_app.models import PracticeItem, PracticeRound
from tests.contest.test_concurrency import logged_in_clients, run_parallel

pytestmark = pytest.mark.postgres_only
N = 10


@pytest.fixture
def bank(make_open_contest):
    return make_open_contest()


def test_parallel_starts_draw_one_round(app, make_user, bank):
    clients = logged_in_clients(app, make_user(), n=N)

    def start(i):
        api, token = clients[i]
        r = api.client.post("/api/v1/practice", json={}, headers={"X-CSRFToken": token})
        return r.status_code, r.get_json()["id"]

    results = run_parallel(start, n=N)
    statuses = sorted(s for s, _ in results)
    assert statuses.count(201) == 1 and set(statuses) == {200, 201}, statuses
    assert len({rid for _, rid in results}) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(PracticeRound.id))) == 1
        assert db.session.scalar(select(func.count(PracticeItem.id))) == 5


def test_parallel_answers_to_one_question_record_the_first(app, make_user, bank):
    clients = logged_in_clients(app, make_user(), n=N)
    api, token = clients[0]
    rid = api.client.post(
        "/api/v1/practice", json={}, headers={"X-CSRFToken": token}
    ).get_json()["id"]

    def answer(i):
        api, token = clients[i]
        r = api.client.put(
            f"/api/v1/practice/{rid}/answers/1",
            json={"choices": ["AB"[i % 2]]},
            headers={"X-CSRFToken": token},
        )
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    results = run_parallel(answer, n=N)
    assert [r["repeated"] for r in results].count(False) == 1
    assert len({tuple(r["choices"]) for r in results}) == 1
    assert len({r["is_correct"] for r in results}) == 1
