"""JSON API v1 contract: shapes, errors, CSRF, roles, secrecy of answers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Attempt, Question, User
from tests.conftest import TEST_PASSWORD


@pytest.fixture
def open_contest(make_open_contest):
    return make_open_contest()


@pytest.fixture
def citizen(make_user):
    return make_user()


def started(api, citizen):
    api.login(citizen)
    r = api.post("/api/v1/attempts", {})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def correct_letters(app, attempt_id, position):
    with app.app_context():
        att = db.session.get(Attempt, attempt_id)
        ans = att.answers[position - 1]
        q = db.session.get(Question, ans.question_id)
        return svc.to_display(ans.option_order, q.answer)


def test_csrf_endpoint_and_regions(client):
    assert client.get("/api/v1/csrf").get_json()["csrf_token"]
    regions = client.get("/api/v1/regions").get_json()
    assert len(regions) == 19
    assert {"code": "lunan", "name": "路南区", "kind": "district"} in regions
    assert {r["code"] for r in regions} >= {
        "gaoxin",
        "haigang",
        "lutai",
        "hangu",
        "shizhi",
    }


def test_unsafe_request_without_csrf_is_refused(client, open_contest, citizen):
    r = client.post(
        "/api/v1/auth/login", json={"phone": citizen.phone, "password": TEST_PASSWORD}
    )
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "csrf_failed"
    r = client.post(
        "/api/v1/auth/login",
        json={"phone": citizen.phone, "password": TEST_PASSWORD},
        headers={"X-CSRFToken": "forged"},
    )
    assert r.status_code == 400


def test_register_logs_in_and_validates(api, app):
    body = {
        "phone": "13912345678",
        "name": "李小红",
        "region": "fengrun",
        "password": "huaxue-2023",
        "public_ranking": True,
    }
    r = api.post("/api/v1/auth/register", body)
    assert r.status_code == 201
    user = r.get_json()["user"]
    assert user["region"] == "fengrun" and user["role"] == "citizen"
    assert api.get("/api/v1/me/attempts").status_code == 200
    # Same phone again: 409, still one user.
    r = api.post("/api/v1/auth/register", body)
    assert r.status_code == 409
    with app.app_context():
        assert db.session.query(User).filter_by(phone="13912345678").count() == 1


@pytest.mark.parametrize(
    "field, value",
    [
        ("phone", "12345"),
        ("phone", "23912345678"),
        ("phone", ""),
        ("name", ""),
        ("name", "<script>"),
        ("name", "a" * 40),
        ("region", "beijing"),
        ("region", ""),
        ("password", "123"),
        ("password", "123456"),
    ],
)
def test_register_rejects_bad_fields(api, app, field, value):
    body = {
        "phone": "13912345678",
        "name": "李小红",
        "region": "fengrun",
        "password": "huaxue-2023",
        "public_ranking": False,
        field: value,
    }
    r = api.post("/api/v1/auth/register", body)
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["field"] == field and err["message"]
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_posted_role_is_ignored(api, app):
    r = api.post(
        "/api/v1/auth/register",
        {
            "phone": "13912345670",
            "name": "赵六",
            "region": "lunan",
            "password": "huaxue-2023",
            "role": "admin",
            "score": 100,
        },
    )
    assert r.status_code == 201
    assert r.get_json()["user"]["role"] == "citizen"


@pytest.mark.parametrize("payload", ["not json", "[1, 2]", "null"])
def test_bad_json_is_400(api, payload):
    r = api.client.post(
        "/api/v1/auth/login",
        data=payload,
        content_type="application/json",
        headers={"X-CSRFToken": api.token()},
    )
    assert r.status_code == 400
    assert r.get_json()["error"]["code"]


def test_wrong_password_is_401(api, citizen):
    r = api.post(
        "/api/v1/auth/login", {"phone": citizen.phone, "password": "nope-nope"}
    )
    assert r.status_code == 401


def test_logout_makes_the_old_cookie_useless(api, client, citizen, open_contest):
    api.login(citizen)
    cookie = client.get_cookie("session").value
    assert api.get("/api/v1/me/attempts").status_code == 200
    assert api.post("/api/v1/auth/logout").status_code == 204
    client.set_cookie("session", cookie)  # replay the cookie from before logout
    assert api.get("/api/v1/me/attempts").status_code == 401


def test_contest_endpoint(client, open_contest):
    data = client.get("/api/v1/contest").get_json()
    assert data["status"] == "open"
    assert data["questions_per_attempt"] == 10
    assert data["time_limit_s"] == 900
    assert datetime.fromisoformat(data["starts_at"]).utcoffset() == timedelta(hours=8)


def test_attempt_shape_hides_answers_until_finished(api, citizen, open_contest):
    data = started(api, citizen)
    assert data["status"] == "open" and data["result"] is None
    assert 899 <= data["remaining_s"] <= 900
    assert len(data["questions"]) == 10
    for q in data["questions"]:
        assert set(q) == {"position", "type", "stem", "options"}
        for opt in q["options"]:
            assert set(opt) == {"key", "text"}
    raw = json.dumps(data, ensure_ascii=False)
    for secret in ("correct", "explanation", "解析", "score", 'answer":"', "source"):
        assert secret not in raw
    # The quiz page does not leak them either.
    page = api.get(f"/quiz/{data['id']}").get_data(as_text=True)
    assert "解析" not in page and "测试来源" not in page and "正确答案" not in page


def test_start_again_returns_the_open_attempt(api, citizen, open_contest):
    first = started(api, citizen)
    r = api.post("/api/v1/attempts", {})
    assert r.status_code == 200
    assert r.get_json()["id"] == first["id"]


def test_answer_save_and_resume(api, app, client, citizen, open_contest):
    data = started(api, citizen)
    q = next(q for q in data["questions"] if q["type"] == "multiple")
    r = api.put(
        f"/api/v1/attempts/{data['id']}/answers/{q['position']}",
        {"choices": ["C", "A"]},
    )
    assert r.status_code == 200
    body = r.get_json()
    assert body["saved"] is True and isinstance(body["remaining_s"], int)
    # A new login (another device) resumes the same attempt with the answer.
    client.delete_cookie("session")
    api.login(citizen)
    again = api.get(f"/api/v1/attempts/{data['id']}").get_json()
    assert again["answers"][str(q["position"])] == ["A", "C"]
    assert again["remaining_s"] <= data["remaining_s"]


@pytest.mark.parametrize(
    "body, status",
    [
        ({"choices": ["Z"]}, 422),
        ({"choices": "A"}, 422),
        ({}, 422),
        ({"choices": [1]}, 422),
        ({"choices": ["A"], "version": "x"}, 422),
    ],
)
def test_bad_answers_are_refused(api, citizen, open_contest, body, status):
    data = started(api, citizen)
    r = api.put(f"/api/v1/attempts/{data['id']}/answers/1", body)
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == "invalid_choice"


def test_unknown_position_is_404(api, citizen, open_contest):
    data = started(api, citizen)
    assert (
        api.put(
            f"/api/v1/attempts/{data['id']}/answers/99", {"choices": ["A"]}
        ).status_code
        == 404
    )


def test_stale_tab_write_is_409(api, citizen, open_contest):
    data = started(api, citizen)
    url = f"/api/v1/attempts/{data['id']}/answers/1"
    assert api.put(url, {"choices": ["A"], "version": 0}).status_code == 200
    r = api.put(url, {"choices": ["B"], "version": 0})
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "stale_answer"


def test_submit_scores_and_repeats_identically(api, app, citizen, open_contest):
    data = started(api, citizen)
    for q in data["questions"]:
        letters = correct_letters(app, data["id"], q["position"])
        assert (
            api.put(
                f"/api/v1/attempts/{data['id']}/answers/{q['position']}",
                {"choices": letters},
            ).status_code
            == 200
        )
    r = api.post(f"/api/v1/attempts/{data['id']}/submit")
    assert r.status_code == 200
    result = r.get_json()
    assert result["score"] == result["max_score"] == 100
    assert result["correct"] == 10
    assert len(result["review"]) == 10
    item = result["review"][0]
    assert {
        "position",
        "stem",
        "options",
        "choices",
        "correct_choices",
        "is_correct",
        "explanation",
    } <= set(item)
    assert api.post(f"/api/v1/attempts/{data['id']}/submit").get_json() == result
    # After finishing, the attempt carries the result.
    got = api.get(f"/api/v1/attempts/{data['id']}").get_json()
    assert got["status"] == "submitted" and got["result"]["score"] == 100
    # Answering a finished attempt: 409, nothing changes.
    r = api.put(f"/api/v1/attempts/{data['id']}/answers/1", {"choices": []})
    assert r.status_code == 409
    assert api.post(f"/api/v1/attempts/{data['id']}/submit").get_json() == result


def test_expired_attempt_is_finished_on_access(api, app, citizen, open_contest):
    with app.app_context():
        user = db.session.get(User, citizen.id)
        from quiz_app.models import Contest

        contest = db.session.get(Contest, open_contest.id)
        attempt, _ = svc.start_attempt(
            user, contest, now=utcnow() - timedelta(minutes=20), grace_s=5
        )
        aid = attempt.id
    api.login(citizen)
    r = api.put(f"/api/v1/attempts/{aid}/answers/1", {"choices": ["A"]})
    assert r.status_code == 409
    got = api.get(f"/api/v1/attempts/{aid}").get_json()
    assert got["status"] == "expired"
    assert got["result"]["score"] == 0
    assert got["result"]["finished_at"] == got["deadline"]
    r = api.post(f"/api/v1/attempts/{aid}/submit")
    assert r.status_code == 409


def test_other_citizens_attempt_is_404(
    api, client, app, make_user, citizen, open_contest
):
    data = started(api, citizen)
    client.delete_cookie("session")
    api.login(make_user())
    for aid in (data["id"], data["id"] + 1, data["id"] - 1):
        assert api.get(f"/api/v1/attempts/{aid}").status_code == 404
        assert (
            api.put(f"/api/v1/attempts/{aid}/answers/1", {"choices": ["A"]}).status_code
            == 404
        )
        assert api.post(f"/api/v1/attempts/{aid}/submit").status_code == 404
    assert api.get(f"/quiz/{data['id']}").status_code == 404


def test_anonymous_gets_401(api, open_contest):
    assert api.post("/api/v1/attempts", {}).status_code == 401
    assert api.get("/api/v1/me/attempts").status_code == 401
    assert api.get("/api/v1/attempts/1").status_code == 401


def test_staff_cannot_start_attempts_and_citizen_cannot_see_stats(
    api, client, make_user, citizen, open_contest
):
    api.login(citizen)
    assert api.get("/api/v1/stats/regions").status_code == 403
    client.delete_cookie("session")
    api.login(make_user(role="staff"))
    assert api.post("/api/v1/attempts", {}).status_code == 403


def test_me_attempts(api, citizen, open_contest):
    data = started(api, citizen)
    api.post(f"/api/v1/attempts/{data['id']}/submit")
    me = api.get("/api/v1/me/attempts").get_json()
    assert me["attempts_left_today"] == 2
    assert me["best"]["id"] == data["id"]
    assert me["attempts"][0]["status"] == "submitted"


def test_unknown_paths_and_methods_answer_json(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = client.delete("/api/v1/csrf")
    assert r.status_code in (400, 404, 405) and "error" in r.get_json()


def test_a_known_path_with_the_wrong_method_is_405(client):
    r = client.get("/api/v1/auth/login")
    assert r.status_code == 405
    assert r.get_json()["error"]["code"] == "method_not_allowed"
    assert r.headers["Allow"] == "POST"
    r = client.get("/api/v1/attempts")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    # A GET-only path asked with GET still works; an unknown one is still 404.
    assert client.get("/api/v1/regions").status_code == 200
    assert client.get("/api/v1/auth/nothing").status_code == 404


def test_answer_with_a_revoked_session_is_401(api, client, citizen, open_contest):
    data = started(api, citizen)
    cookie = client.get_cookie("session").value
    token = api.token()
    assert api.post("/api/v1/auth/logout").status_code == 204
    client.set_cookie("session", cookie)
    r = client.put(
        f"/api/v1/attempts/{data['id']}/answers/1",
        json={"choices": ["A"]},
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "not_logged_in"


@pytest.fixture
def answer_limit_3(app):
    old = app.config["ANSWER_LIMIT_PER_USER"]
    app.config["ANSWER_LIMIT_PER_USER"] = "3 per minute"
    yield
    app.config["ANSWER_LIMIT_PER_USER"] = old


def test_answer_saves_are_limited_per_account(
    api, app, client, make_user, open_contest, answer_limit_3
):
    data = started(api, make_user())
    url = f"/api/v1/attempts/{data['id']}/answers/1"
    for choice in ("A", "B", "A"):
        assert api.put(url, {"choices": [choice]}).status_code == 200
    refused = api.put(url, {"choices": ["B"]})
    assert refused.status_code == 429
    assert refused.get_json()["error"]["message"] == "操作太频繁，请稍后再试"
    assert refused.headers["Retry-After"] == "60"
    # The refused write changed nothing.
    assert api.get(f"/api/v1/attempts/{data['id']}").get_json()["answers"]["1"] == ["A"]
    # Another account (same address) is not affected.
    client.delete_cookie("session")
    other = started(api, make_user())
    assert (
        api.put(
            f"/api/v1/attempts/{other['id']}/answers/1", {"choices": ["A"]}
        ).status_code
        == 200
    )


def test_answers_are_saved_and_still_limited_while_the_limiter_redis_is_down(
    api, make_user, open_contest, answer_limit_3, redis_server
):
    from quiz_app.auth import limits

    data = started(api, make_user())
    url = f"/api/v1/attempts/{data['id']}/answers/1"
    redis_server.stop()
    try:
        codes = [api.put(url, {"choices": [c]}).status_code for c in "ABAB"]
    finally:
        redis_server.start()
        limits._fallback_until = 0.0
        limits._fallback.storage.reset()
    # Never a 500 and never a lost answer: counted per process in memory.
    assert codes == [200, 200, 200, 429]
    assert api.get(f"/api/v1/attempts/{data['id']}").get_json()["answers"]["1"] == ["A"]
