"""Practice pages without JavaScript: plain forms, one answer per post."""

from __future__ import annotations

import re

import pytest

from tests.auth.test_views import csrf_from


@pytest.fixture
def bank(make_open_contest):
    return make_open_contest()


def start_by_form(client, api, user) -> tuple[int, str]:
    api.login(user)
    html = client.get("/practice").get_data(as_text=True)
    r = client.post("/practice", data={"csrf_token": csrf_from(html)})
    assert r.status_code == 302
    round_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    return round_id, client.get(f"/practice/{round_id}").get_data(as_text=True)


def test_the_page_says_it_is_practice_and_links_exist(client, api, make_user, bank):
    api.login(make_user())
    html = client.get("/practice").get_data(as_text=True)
    assert "练习模式，不计入成绩和排名" in html
    assert "今天还可以练习 <strong>30</strong> 道" in html
    assert 'href="/practice"' in client.get("/").get_data(as_text=True)
    assert 'href="/practice"' in client.get("/me").get_data(as_text=True)


def test_a_round_by_plain_forms(client, api, make_user, bank):
    round_id, html = start_by_form(client, api, make_user())
    assert "练习模式，不计入成绩和排名" in html
    assert "解析" not in html and "正确答案" not in html
    for position in range(1, 6):
        action = f"/practice/{round_id}/answers/{position}"
        assert f'action="{action}"' in html
        letter = re.search(r'name="choice" value="([A-F])"', html).group(1)
        r = client.post(action, data={"csrf_token": csrf_from(html), "choice": letter})
        assert r.status_code == 302
        assert r.headers["Location"].endswith(f"/practice/{round_id}?after={position}")
        fb = client.get(r.headers["Location"]).get_data(as_text=True)
        assert "解析：" in fb and "正确答案" in fb and "依据：测试来源" in fb
        assert ("下一题" if position < 5 else "查看本轮小结") in fb
        html = client.get(f"/practice/{round_id}").get_data(as_text=True)
    assert "本轮练习完成" in html and "再练一轮" in html
    assert html.count("解析：") == 5


def test_an_empty_form_asks_for_an_answer(client, api, make_user, bank):
    round_id, html = start_by_form(client, api, make_user())
    r = client.post(
        f"/practice/{round_id}/answers/1",
        data={"csrf_token": csrf_from(html)},
        follow_redirects=True,
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "请先选择答案" in page and "解析：" not in page


def test_pages_refuse_strangers(client, api, make_user, bank):
    round_id, _ = start_by_form(client, api, make_user())
    client.post("/api/v1/auth/logout", headers={"X-CSRFToken": api.token()})
    assert client.get("/practice").status_code == 302  # to the login page
    api.login(make_user())
    assert client.get(f"/practice/{round_id}").status_code == 404
    html = client.get("/practice").get_data(as_text=True)
    r = client.post(
        f"/practice/{round_id}/answers/1",
        data={"csrf_token": csrf_from(html), "choice": "A"},
    )
    assert r.status_code == 404
    assert client.post("/practice", data={}).status_code == 400  # no CSRF token


def test_the_cap_shows_on_the_page(client, api, app, make_user, bank):
    old = app.config["PRACTICE_DAILY_CAP"]
    app.config["PRACTICE_DAILY_CAP"] = 0
    try:
        api.login(make_user())
        html = client.get("/practice").get_data(as_text=True)
        assert "今天的练习题量已用完" in html and "开始练习" not in html
        r = client.post(
            "/practice", data={"csrf_token": csrf_from(html)}, follow_redirects=True
        )
        assert "今天的 0 道练习题已用完" in r.get_data(as_text=True)
    finally:
        app.config["PRACTICE_DAILY_CAP"] = old


def test_practice_without_any_contest(client, api, make_bank, make_user):
    make_bank()
    api.login(make_user())
    assert 'href="/practice"' in client.get("/").get_data(as_text=True)
    r = api.post("/api/v1/practice", {})
    assert r.status_code == 201 and r.get_json()["size"] == 5
