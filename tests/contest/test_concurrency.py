"""Races on PostgreSQL: parallel starts, submits, registrations and saves."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from quiz_app.extensions import db
from quiz_app.models import Attempt, AttemptAnswer, User
from tests.conftest import Api

pytestmark = pytest.mark.postgres_only
N = 20


def run_parallel(fn, n=N):
    """Run fn(i) in n threads released together; returns results in order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def work(i):
        try:
            barrier.wait(timeout=10)
            results[i] = fn(i)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return results


def logged_in_clients(app, user, n=N):
    """n clients sharing one login (like tabs of one browser)."""
    first = Api(app.test_client())
    first.login(user)
    token = first.token()
    cookie = first.client.get_cookie("session").value
    out = [(first, token)]
    for _ in range(n - 1):
        api = Api(app.test_client())
        api.client.set_cookie("session", cookie)
        out.append((api, token))
    return out


@pytest.fixture
def contest(make_open_contest):
    return make_open_contest()


def test_parallel_starts_make_one_attempt(app, make_user, contest):
    user = make_user()
    clients = logged_in_clients(app, user)

    def start(i):
        api, token = clients[i]
        r = api.client.post("/api/v1/attempts", json={}, headers={"X-CSRFToken": token})
        return r.status_code, r.get_json().get("id")

    results = run_parallel(start)
    statuses = sorted(s for s, _ in results)
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201}, statuses
    assert len({aid for _, aid in results}) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(Attempt.id))) == 1
        assert db.session.scalar(select(func.count(AttemptAnswer.id))) == 10


def test_parallel_submits_score_once(app, make_user, contest):
    user = make_user()
    clients = logged_in_clients(app, user)
    api, token = clients[0]
    aid = api.client.post(
        "/api/v1/attempts", json={}, headers={"X-CSRFToken": token}
    ).get_json()["id"]
    api.client.put(
        f"/api/v1/attempts/{aid}/answers/1",
        json={"choices": ["A"]},
        headers={"X-CSRFToken": token},
    )

    def submit(i):
        c, t = clients[i]
        r = c.client.post(f"/api/v1/attempts/{aid}/submit", headers={"X-CSRFToken": t})
        return r.status_code, r.get_data(as_text=True)

    results = run_parallel(submit)
    assert {s for s, _ in results} == {200}
    assert len({body for _, body in results}) == 1  # every response identical
    with app.app_context():
        att = db.session.get(Attempt, aid)
        assert att.finish_kind == "submitted" and att.rank_key is not None


def test_parallel_registrations_same_phone_make_one_user(app):
    clients = [Api(app.test_client()) for _ in range(N)]
    tokens = [c.token() for c in clients]
    body = {
        "phone": "13700000000",
        "name": "王五",
        "region": "lubei",
        "password": "kexue-2023",
        "public_ranking": False,
    }

    def register(i):
        return (
            clients[i]
            .client.post(
                "/api/v1/auth/register", json=body, headers={"X-CSRFToken": tokens[i]}
            )
            .status_code
        )

    statuses = run_parallel(register)
    assert statuses.count(201) == 1 and set(statuses) <= {201, 409}, statuses
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 1


def test_parallel_saves_against_submit_lose_nothing(app, make_user, contest):
    """Every save acknowledged with 200 is part of the scored attempt."""
    user = make_user()
    clients = logged_in_clients(app, user, n=11)
    api, token = clients[0]
    data = api.client.post(
        "/api/v1/attempts", json={}, headers={"X-CSRFToken": token}
    ).get_json()
    aid = data["id"]

    def act(i):
        c, t = clients[i]
        if i == 10:
            r = c.client.post(
                f"/api/v1/attempts/{aid}/submit", headers={"X-CSRFToken": t}
            )
        else:
            r = c.client.put(
                f"/api/v1/attempts/{aid}/answers/{i + 1}",
                json={"choices": ["A"]},
                headers={"X-CSRFToken": t},
            )
        return r.status_code

    statuses = run_parallel(act, n=11)
    assert statuses[10] == 200
    saved = {i + 1 for i, s in enumerate(statuses[:10]) if s == 200}
    assert all(s in (200, 409) for s in statuses[:10])
    with app.app_context():
        rows = db.session.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == aid)
        ).all()
        answered = {r.position for r in rows if r.choices}
        scored = {r.position for r in rows if r.is_correct is not None}
    assert answered == saved
    assert scored == set(range(1, 11))  # every item was scored after the last save
