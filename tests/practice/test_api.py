"""Practice JSON API: shapes, keys only in feedback, cap, ownership, limits."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from quiz_app.contest.answers import to_display
from quiz_app.extensions import db
from quiz_app.models import PracticeItem, QuestionRevision


@pytest.fixture
def bank(make_open_contest):
    return make_open_contest()


def start(api, user=None):
    if user is not None:
        api.login(user)
    r = api.post("/api/v1/practice", {})
    assert r.status_code in (200, 201), r.get_json()
    return r


def key_of(app, round_id, position) -> list[str]:
    with app.app_context():
        row = db.session.execute(
            select(PracticeItem.option_order, QuestionRevision.answer)
            .join(QuestionRevision, QuestionRevision.id == PracticeItem.revision_id)
            .where(PracticeItem.round_id == round_id, PracticeItem.position == position)
        ).one()
        return to_display(row.option_order, row.answer)


def test_start_gives_questions_without_keys_and_resumes(api, make_user, bank):
    r = start(api, make_user())
    assert r.status_code == 201
    data = r.get_json()
    assert set(data) == {
        "id",
        "practice",
        "started_at",
        "size",
        "answered",
        "correct",
        "finished",
        "left_today",
        "questions",
    }
    assert data["practice"] is True and data["size"] == 5
    assert data["left_today"] == 25 and data["answered"] == 0
    q = data["questions"][0]
    assert set(q) == {"position", "type", "stem", "options", "feedback"}
    assert q["feedback"] is None and q["options"][0]["key"] == "A"
    text = json.dumps(data, ensure_ascii=False)
    for secret in ("解析", "测试来源", "correct_choices", "explanation", '"answer"'):
        assert secret not in text
    # An unfinished round is resumed, not drawn again.
    again = api.post("/api/v1/practice", {})
    assert again.status_code == 200 and again.get_json()["id"] == data["id"]


def test_answer_gives_feedback_once_and_the_first_answer_stands(
    api, app, make_user, bank
):
    data = start(api, make_user()).get_json()
    url = f"/api/v1/practice/{data['id']}/answers/1"
    key = key_of(app, data["id"], 1)
    wrong = ["B"] if key != ["B"] else ["A"]
    r = api.put(url, {"choices": wrong})
    assert r.status_code == 200
    fb = r.get_json()
    assert fb["is_correct"] is False and fb["correct_choices"] == key
    assert fb["choices"] == wrong and fb["repeated"] is False
    assert "解析" in fb["explanation"] and fb["source"] == "测试来源"
    again = api.put(url, {"choices": key}).get_json()
    assert again["is_correct"] is False and again["choices"] == wrong
    assert again["repeated"] is True

    view = api.get(f"/api/v1/practice/{data['id']}").get_json()
    assert view["answered"] == 1 and view["correct"] == 0
    assert view["questions"][0]["feedback"]["correct_choices"] == key
    assert [q["feedback"] for q in view["questions"][1:]] == [None] * 4
    assert "correct_choices" not in json.dumps(view["questions"][1:])


def test_finishing_a_round_and_starting_the_next(api, app, make_user, bank):
    data = start(api, make_user()).get_json()
    for q in data["questions"]:
        key = key_of(app, data["id"], q["position"])
        url = f"/api/v1/practice/{data['id']}/answers/{q['position']}"
        assert api.put(url, {"choices": key}).get_json()["is_correct"] is True
    view = api.get(f"/api/v1/practice/{data['id']}").get_json()
    assert view["finished"] is True and view["correct"] == 5
    nxt = api.post("/api/v1/practice", {})
    assert nxt.status_code == 201 and nxt.get_json()["id"] != data["id"]
    assert nxt.get_json()["left_today"] == 20


def test_the_daily_cap_answers_429_in_chinese(api, make_user, config, bank):
    config(PRACTICE_DAILY_CAP=5)
    data = start(api, make_user()).get_json()
    for q in data["questions"]:
        url = f"/api/v1/practice/{data['id']}/answers/{q['position']}"
        assert api.put(url, {"choices": ["A"]}).status_code == 200
    r = api.post("/api/v1/practice", {})
    assert r.status_code == 429
    err = r.get_json()["error"]
    assert err["code"] == "practice_daily_cap"
    assert err["message"] == "今天的 5 道练习题已用完，明天再来练习吧"


def test_another_citizens_round_is_404(api, client, make_user, bank):
    data = start(api, make_user()).get_json()
    api.post("/api/v1/auth/logout")
    api.login(make_user())
    assert api.get(f"/api/v1/practice/{data['id']}").status_code == 404
    r = api.put(f"/api/v1/practice/{data['id']}/answers/1", {"choices": ["A"]})
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    assert api.get("/api/v1/practice/99999999999").status_code == 404


@pytest.mark.parametrize(
    "body, status",
    [
        ({"choices": "A"}, 422),
        ({"choices": [1]}, 422),
        ({"choices": []}, 422),
        ({"choices": ["Z"]}, 422),
        ([], 400),
    ],
)
def test_bad_answers_are_4xx_and_reveal_nothing(api, make_user, bank, body, status):
    data = start(api, make_user()).get_json()
    r = api.put(f"/api/v1/practice/{data['id']}/answers/1", body)
    assert r.status_code == status and "error" in r.get_json()
    assert "correct_choices" not in r.get_data(as_text=True)
    missing = api.put(f"/api/v1/practice/{data['id']}/answers/9", {"choices": ["A"]})
    assert missing.status_code == 404
    view = api.get(f"/api/v1/practice/{data['id']}").get_json()
    assert view["answered"] == 0


def test_roles_login_and_csrf(api, client, make_user, bank):
    assert client.post("/api/v1/practice", json={}).status_code == 400  # no CSRF
    assert api.post("/api/v1/practice", {}).status_code == 401
    api.login(make_user(role="organizer", name="组织者"))
    r = api.post("/api/v1/practice", {})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


def test_answers_are_rate_limited_per_account(api, make_user, config, bank):
    config(PRACTICE_ANSWER_LIMIT_PER_USER="2 per minute")
    data = start(api, make_user()).get_json()
    for pos in (1, 2):
        url = f"/api/v1/practice/{data['id']}/answers/{pos}"
        assert api.put(url, {"choices": ["A"]}).status_code == 200
    r = api.put(f"/api/v1/practice/{data['id']}/answers/3", {"choices": ["A"]})
    assert r.status_code == 429 and r.headers["Retry-After"] == "60"
    assert api.get(f"/api/v1/practice/{data['id']}").get_json()["answered"] == 2


def test_practice_does_not_touch_attempts_or_boards(api, make_user, bank):
    data = start(api, make_user()).get_json()
    for q in data["questions"]:
        url = f"/api/v1/practice/{data['id']}/answers/{q['position']}"
        api.put(url, {"choices": ["A"]})
    mine = api.get("/api/v1/me/attempts").get_json()
    assert mine == {"attempts": [], "best": None, "attempts_left_today": 3}
    board = api.get("/api/v1/leaderboard").get_json()
    assert board["entries"] == [] and board["total"] == 0 and board["me"] is None
