"""Privacy through the client: consent on the API and the /me page, the data
page and download, deletion, the large-text cookie."""

from __future__ import annotations

import json
import re

from sqlalchemy import select

from quiz_app.extensions import db
from quiz_app.models import User
from tests.conftest import TEST_PASSWORD
from tests.privacy.conftest import board_names


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_consent_api_changes_the_public_board_and_page(api, finished):
    public = api.client.application.test_client()
    assert board_names(api) == ["张*明"]
    api.login(finished)
    assert api.get("/api/v1/me/consent").get_json()["public_ranking"] is True

    r = api.client.put(
        "/api/v1/me/consent",
        json={"public_ranking": False},
        headers={"X-CSRFToken": api.token()},
    )
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["public_ranking"] is False
    assert re.fullmatch(r".*T.*\+08:00", body["public_ranking_at"])
    page = public.get("/leaderboard").get_data(as_text=True)
    assert "匿名参赛者" in page and "张*明" not in page
    assert [
        e["name"] for e in public.get("/api/v1/leaderboard").get_json()["entries"]
    ] == ["匿名参赛者"]

    r = api.client.put(
        "/api/v1/me/consent",
        json={"public_ranking": True},
        headers={"X-CSRFToken": api.token()},
    )
    assert r.get_json()["public_ranking"] is True
    assert "张*明" in public.get("/leaderboard").get_data(as_text=True)


def test_consent_api_refuses_bad_input_and_strangers(api, finished, make_user):
    r = api.client.put(
        "/api/v1/me/consent", json={}, headers={"X-CSRFToken": api.token()}
    )
    assert r.status_code == 401
    api.login(finished)
    headers = {"X-CSRFToken": api.token()}
    for bad in ({"public_ranking": "yes"}, {"public_ranking": 1}, {}):
        r = api.client.put("/api/v1/me/consent", json=bad, headers=headers)
        assert r.status_code == 422
        assert "public_ranking" in r.get_json()["error"]["fields"]
    r = api.client.put("/api/v1/me/consent", data="[", headers=headers)
    assert r.status_code == 400
    # no CSRF header
    r = api.client.put("/api/v1/me/consent", json={"public_ranking": False})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"
    assert api.get("/api/v1/me/consent").get_json()["public_ranking"] is True
    api.post("/api/v1/auth/logout")
    staff = make_user(role="staff")
    api.login(staff)
    r = api.client.put(
        "/api/v1/me/consent",
        json={"public_ranking": True},
        headers={"X-CSRFToken": api.token()},
    )
    assert r.status_code == 403


def test_consent_form_on_my_page(client, api, finished):
    api.login(finished)
    me = client.get("/me").get_data(as_text=True)
    assert "排行榜显示：<strong>张*明</strong>" in me
    r = client.post(
        "/me/consent", data={"public_ranking": "0", "csrf_token": csrf_of(me)}
    )
    assert r.status_code == 303
    me = client.get("/me").get_data(as_text=True)
    assert "排行榜显示：<strong>匿名参赛者</strong>" in me
    assert "已撤回同意" in me
    # an unknown value changes nothing
    client.post("/me/consent", data={"public_ranking": "x", "csrf_token": csrf_of(me)})
    assert api.get("/api/v1/me/consent").get_json()["public_ranking"] is False
    # without the token: refused
    r = client.post("/me/consent", data={"public_ranking": "1"})
    assert r.status_code == 400


def test_data_page_and_download_list_what_is_stored(client, api, finished):
    api.login(finished)
    page = client.get("/me/data")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    for needle in ("张三明", "13812345678", "路南区", "答题记录（1）", "证书（1）"):
        assert needle in text
    assert page.headers["Cache-Control"].startswith("no-store")
    r = client.get("/me/data.json")
    assert r.status_code == 200
    assert r.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(r.get_data(as_text=True))
    assert data["account"]["phone"] == "13812345678"
    assert data["attempts"][0]["score"] == 40
    assert api.get("/api/v1/me/data").get_json() == data
    api.post("/api/v1/auth/logout")
    assert client.get("/me/data").status_code == 302
    assert api.get("/api/v1/me/data").status_code == 401


def test_delete_through_the_api(api, finished):
    public = api.client.application.test_client()
    api.login(finished)
    code = api.get("/api/v1/me/certificate").get_json()["code"]
    r = api.post("/api/v1/me/delete", {"password": "not-it-at-all"})
    assert r.status_code == 422
    assert "password" in r.get_json()["error"]["fields"]
    assert api.post("/api/v1/me/delete", {}).status_code == 422
    r = api.post("/api/v1/me/delete", {"password": TEST_PASSWORD})
    assert r.status_code == 204
    # the old cookie is dead, the login is gone, the certificate does not verify
    assert api.get("/api/v1/me/attempts").status_code == 401
    r = api.post(
        "/api/v1/auth/login", {"phone": "13812345678", "password": TEST_PASSWORD}
    )
    assert r.status_code == 401
    assert public.get(f"/api/v1/certificates/{code}").status_code == 404
    assert public.get(f"/verify/{code}").status_code == 404
    assert board_names(api) == ["匿名参赛者"]
    # the number registers again
    r = api.post(
        "/api/v1/auth/register",
        {
            "phone": "13812345678",
            "name": "张三明",
            "region": "lunan",
            "password": TEST_PASSWORD,
            "public_ranking": True,
        },
    )
    assert r.status_code == 201, r.get_json()


def test_delete_page_needs_password_and_confirmation(app, client, api, finished):
    api.login(finished)
    page = client.get("/me/delete")
    assert page.status_code == 200
    token = csrf_of(page.get_data(as_text=True))
    r = client.post("/me/delete", data={"csrf_token": token, "password": TEST_PASSWORD})
    assert r.status_code == 422 and "请先勾选确认" in r.get_data(as_text=True)
    r = client.post(
        "/me/delete",
        data={"csrf_token": token, "password": "wrong-one", "understood": "y"},
    )
    assert r.status_code == 422 and "密码不正确" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, finished.id).deleted_at is None
    r = client.post(
        "/me/delete",
        data={"csrf_token": token, "password": TEST_PASSWORD, "understood": "y"},
    )
    assert r.status_code == 303
    assert "账号已注销" in client.get("/").get_data(as_text=True)
    assert client.get("/me").status_code == 302
    with app.app_context():
        row = db.session.scalar(select(User).where(User.id == finished.id))
        assert row.anonymised and row.phone.startswith("x")


def test_organizer_attempt_list_shows_no_tombstone_as_a_person(
    app, client, api, finished, make_user, contest
):
    api.login(finished)
    api.post("/api/v1/me/delete", {"password": TEST_PASSWORD})
    organizer = make_user(role="organizer", password="organizer-pass-1")
    api.login(organizer, password="organizer-pass-1")
    page = client.get(f"/admin/contests/{contest.id}/attempts?q=1")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "（已注销）" in text and "x0000" not in text and "x00*" not in text


def test_large_text_cookie_sets_the_class_server_side(client):
    home = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in home
    assert 'aria-pressed="false"' in home
    r = client.post(
        "/text-size",
        data={"size": "large", "next": "/leaderboard", "csrf_token": csrf_of(home)},
    )
    assert r.status_code == 303 and r.headers["Location"] == "/leaderboard"
    cookie = r.headers["Set-Cookie"]
    assert "text_size=large" in cookie and "Max-Age=31536000" in cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN" class="large-text">' in page
    assert 'aria-pressed="true"' in page
    # off again; a foreign `next` goes home instead
    r = client.post(
        "/text-size",
        data={"size": "normal", "next": "//evil.example/", "csrf_token": csrf_of(page)},
    )
    assert r.headers["Location"] == "/"
    assert '<html lang="zh-CN">' in client.get("/").get_data(as_text=True)
    # without CSRF: refused
    assert client.post("/text-size", data={"size": "large"}).status_code == 400
