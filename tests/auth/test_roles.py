"""One role check for pages and API: who gets a redirect, a 401, a 403 or in."""

from __future__ import annotations

import pytest

from tests.auth.test_views import csrf_from

API_CITIZEN = [("post", "/api/v1/attempts"), ("get", "/api/v1/me/attempts")]
API_ANY_USER = [
    ("get", "/api/v1/attempts/1"),
    ("post", "/api/v1/attempts/1/submit"),
    ("post", "/api/v1/auth/logout"),
]
API_STAFF = [("get", "/api/v1/stats/regions")]
PAGES_CITIZEN = [("get", "/quiz"), ("post", "/quiz/start")]
PAGES_ANY_USER = [("get", "/quiz/1"), ("get", "/quiz/1/result"), ("get", "/me")]
PAGES_ORGANIZER = [("get", "/admin/questions")]
PAGES_STAFF = [("get", "/staff/"), ("get", "/staff/regions.csv")]


@pytest.fixture
def contest(make_open_contest):
    return make_open_contest()


def call(api, client, method, path):
    if path.startswith("/api/"):
        return api.post(path) if method == "post" else api.get(path)
    if method == "post":
        token = csrf_from(client.get("/login").get_data(as_text=True))
        return client.post(path, data={"csrf_token": token})
    return client.get(path)


@pytest.mark.parametrize(
    "method, path", API_CITIZEN + API_ANY_USER + API_STAFF, ids=lambda v: str(v)
)
def test_api_anonymous_is_json_401(api, client, contest, method, path):
    r = call(api, client, method, path)
    assert r.status_code == 401
    assert r.get_json()["error"] == {"code": "not_logged_in", "message": "请先登录"}


@pytest.mark.parametrize(
    "method, path",
    PAGES_CITIZEN + PAGES_ANY_USER + PAGES_ORGANIZER + PAGES_STAFF,
    ids=lambda v: str(v),
)
def test_pages_anonymous_redirect_to_login(api, client, contest, method, path):
    r = call(api, client, method, path)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize(
    "role, method, path",
    [("staff", *e) for e in API_CITIZEN]
    + [("citizen", *e) for e in API_STAFF]
    + [("organizer", *e) for e in API_STAFF],
    ids=lambda v: str(v),
)
def test_api_wrong_role_is_json_403(
    api, client, make_user, contest, role, method, path
):
    api.login(make_user(role=role, staff_region="lunan" if role == "staff" else None))
    r = call(api, client, method, path)
    assert r.status_code == 403
    assert r.get_json()["error"] == {"code": "forbidden", "message": "没有权限"}


@pytest.mark.parametrize(
    "role, method, path",
    [("staff", *e) for e in PAGES_CITIZEN]
    + [("citizen", *e) for e in PAGES_ORGANIZER + PAGES_STAFF]
    + [("staff", *e) for e in PAGES_ORGANIZER]
    + [("organizer", *e) for e in PAGES_STAFF],
    ids=lambda v: str(v),
)
def test_pages_wrong_role_is_403_page(
    api, client, make_user, contest, role, method, path
):
    api.login(make_user(role=role, staff_region="lunan" if role == "staff" else None))
    r = call(api, client, method, path)
    assert r.status_code == 403
    assert "没有权限访问" in r.get_data(as_text=True)


@pytest.mark.parametrize(
    "role, method, path",
    [("citizen", *e) for e in API_CITIZEN]
    + [("admin", *e) for e in API_STAFF]
    + [("organizer", *e) for e in PAGES_ORGANIZER]
    + [("admin", *e) for e in PAGES_STAFF],
    ids=lambda v: str(v),
)
def test_right_role_gets_in(api, client, make_user, contest, role, method, path):
    api.login(make_user(role=role))
    r = call(api, client, method, path)
    assert r.status_code in (200, 201), r.get_data(as_text=True)[:300]
