"""Per-device sessions: logout ends one device, "log out everywhere" and
disabling end them all, old cookies stay dead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app.auth import services as accounts
from quiz_app.extensions import db
from quiz_app.models import User, UserSession
from tests.auth.test_views import csrf_from
from tests.conftest import NOW, Api


@pytest.fixture
def devices(app, make_user):
    """One citizen logged in on two devices (two clients, two cookies)."""
    user = make_user()
    phone, laptop = Api(app.test_client()), Api(app.test_client())
    phone.login(user)
    laptop.login(user)
    return user, phone, laptop


def logged_in(device: Api) -> bool:
    status = device.get("/api/v1/me/attempts").status_code
    assert status in (200, 401)
    return status == 200


def live_sessions(app, user) -> int:
    with app.app_context():
        return len(
            db.session.scalars(
                select(UserSession).where(
                    UserSession.user_id == user.id, UserSession.revoked.is_(False)
                )
            ).all()
        )


def test_logging_out_ends_only_that_devices_session(app, devices):
    user, phone, laptop = devices
    before = live_sessions(app, user)
    cookie = phone.client.get_cookie("session").value
    assert phone.post("/api/v1/auth/logout").status_code == 204
    assert not logged_in(phone)
    assert logged_in(laptop)
    assert live_sessions(app, user) == before - 1
    phone.client.set_cookie("session", cookie)  # replay the old cookie
    assert not logged_in(phone)


def test_page_logout_ends_only_that_devices_session(devices):
    _, phone, laptop = devices
    cookie = phone.client.get_cookie("session").value
    token = csrf_from(phone.client.get("/").get_data(as_text=True))
    assert phone.client.post("/logout", data={"csrf_token": token}).status_code == 302
    phone.client.set_cookie("session", cookie)
    assert phone.client.get("/me").status_code == 302  # to the login page
    assert not logged_in(phone)
    assert logged_in(laptop)


def test_logout_everywhere_through_the_api_ends_every_session(app, devices):
    user, phone, laptop = devices
    assert phone.post("/api/v1/auth/logout-all").status_code == 204
    assert not logged_in(phone) and not logged_in(laptop)
    assert live_sessions(app, user) == 0
    phone.login(user)  # logging in again starts a fresh session
    assert logged_in(phone) and not logged_in(laptop)


def test_logout_everywhere_from_the_me_page(devices):
    _, phone, laptop = devices
    page = phone.client.get("/me").get_data(as_text=True)
    assert "在所有设备上退出登录" in page
    r = phone.client.post("/logout-all", data={"csrf_token": csrf_from(page)})
    assert r.status_code == 302
    assert not logged_in(phone) and not logged_in(laptop)


def test_logout_everywhere_needs_login_and_csrf(client, api):
    assert api.post("/api/v1/auth/logout-all").status_code == 401
    assert client.post("/logout-all").status_code == 400  # no CSRF token


def test_disabling_an_account_ends_all_its_sessions(app, devices):
    user, phone, laptop = devices
    with app.app_context():
        accounts.set_disabled(db.session.get(User, user.id), True)
    assert not logged_in(phone) and not logged_in(laptop)
    assert live_sessions(app, user) == 0
    with app.app_context():
        accounts.set_disabled(db.session.get(User, user.id), False)
    # Enabling again does not revive the old cookies.
    assert not logged_in(phone) and not logged_in(laptop)
    phone.login(user)
    assert logged_in(phone)


def test_answers_from_the_other_device_still_save_after_one_logs_out(
    app, devices, make_open_contest
):
    """The answer path checks the session inside its own SQL statement."""
    _, phone, laptop = devices
    make_open_contest()
    attempt = phone.post("/api/v1/attempts", {}).get_json()
    url = f"/api/v1/attempts/{attempt['id']}/answers/1"
    cookie, token = phone.client.get_cookie("session").value, phone.token()
    assert phone.post("/api/v1/auth/logout").status_code == 204
    assert laptop.put(url, {"choices": ["A"]}).status_code == 200
    phone.client.set_cookie("session", cookie)
    r = phone.client.put(url, json={"choices": ["B"]}, headers={"X-CSRFToken": token})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "not_logged_in"
    assert laptop.get(f"/api/v1/attempts/{attempt['id']}").get_json()["answers"][
        "1"
    ] == ["A"]


def test_each_login_is_a_new_session_row(app, make_user, api):
    user = make_user()
    api.login(user)
    first = api.client.get_cookie("session").value
    api.login(user)
    assert api.client.get_cookie("session").value != first
    with app.app_context():
        rows = db.session.scalars(
            select(UserSession).where(UserSession.user_id == user.id)
        ).all()
    # make_user's own session plus one per login, each with its own token.
    assert len(rows) == 3 and len({r.token for r in rows}) == 3


def test_last_seen_is_recorded_at_most_every_few_minutes(ctx, make_user):
    user = make_user()
    row = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert row.created_at == row.last_seen_at == NOW
    soon = NOW + timedelta(seconds=accounts.SESSION_TOUCH_S - 1)
    accounts.touch_session(row.id, row.last_seen_at, now=soon)
    db.session.expire_all()
    assert db.session.get(UserSession, row.id).last_seen_at == NOW
    later = NOW + timedelta(seconds=accounts.SESSION_TOUCH_S)
    accounts.touch_session(row.id, row.last_seen_at, now=later)
    db.session.expire_all()
    assert db.session.get(UserSession, row.id).last_seen_at == later


def test_requests_record_the_sessions_last_use(app, api, make_user):
    user = make_user()
    api.login(user)
    with app.app_context():
        row = db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id)
            .order_by(UserSession.id.desc())
        ).first()
        row.last_seen_at = row.created_at - timedelta(hours=1)
        db.session.commit()
        stale = row.last_seen_at
    assert api.get("/api/v1/me/attempts").status_code == 200
    with app.app_context():
        assert db.session.get(UserSession, row.id).last_seen_at > stale
