"""Citizen pages, including the plain-form path that works without JavaScript."""

from __future__ import annotations

import re

import pytest

from quiz_app.extensions import db
from quiz_app.models import Attempt
from tests.auth.test_views import csrf_from


@pytest.fixture
def contest(make_open_contest):
    return make_open_contest()


def test_home_shows_rules_and_state(client, contest):
    html = client.get("/").get_data(as_text=True)
    assert "测试竞赛" in html and "竞赛进行中" in html
    assert "每次答题限时 15 分钟" in html and "每人每天最多答题 3 次" in html


def test_plain_form_journey_without_javascript(client, api, app, make_user, contest):
    api.login(make_user())
    token = csrf_from(client.get("/").get_data(as_text=True))
    r = client.post("/quiz/start", data={"csrf_token": token})
    assert r.status_code == 302
    quiz_url = r.headers["Location"]
    html = client.get(quiz_url).get_data(as_text=True)
    assert "剩余时间" in html and "解析" not in html
    positions = sorted(set(int(p) for p in re.findall(r'name="q(\d+)"', html)))
    assert positions == list(range(1, 11))
    token = csrf_from(html)
    form = {"csrf_token": token}
    for pos in positions:
        form[f"q{pos}"] = "A"
    attempt_id = int(quiz_url.rstrip("/").split("/")[-1])
    r = client.post(f"/quiz/{attempt_id}/save", data=form, follow_redirects=True)
    assert "答案已保存" in r.get_data(as_text=True)
    r = client.post(f"/quiz/{attempt_id}/submit", data=form, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "本次得分" in page and "答题回顾" in page and "解析" in page
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.status == "submitted"
        # Display letter A of each item maps back to its first shuffled option.
        assert all(a.choices == a.option_order[0] for a in attempt.answers)
    # My attempts lists it as the best one.
    me = client.get("/me").get_data(as_text=True)
    assert "最好成绩" in me and "今天还可以答题" in me


def test_quiz_pages_need_login_and_ownership(client, api, make_user, contest):
    assert client.get("/quiz").status_code == 302
    assert client.post("/quiz/start").status_code in (302, 400)
    api.login(make_user(role="staff"))
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/quiz/start", data={"csrf_token": token}).status_code == 403
