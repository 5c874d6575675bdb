"""Session lifetimes by role, enforced on the user_session row: citizens stay
logged in through the contest week, staff sessions end when idle or old."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from quiz_app.auth import services as accounts
from quiz_app.extensions import db
from quiz_app.models import User, UserSession
from tests.conftest import NOW, Api

DAY = timedelta(days=1)


def cookie_of(app, user) -> str:
    with app.app_context():
        row = accounts.start_session(db.session.get(User, user.id), now=NOW)
        return f"{user.id}:{row.token}"


def use(app, cookie, now) -> bool:
    """One request at `now`: is the session live? Records the use if so."""
    loaded = accounts.load_session(cookie, now=now, config=app.config)
    if loaded is None:
        return False
    accounts.touch_session(loaded.session_id, loaded.last_seen_at, now=now)
    return True


def test_citizen_still_logged_in_after_six_days_of_daily_use(app, ctx, make_user):
    cookie = cookie_of(app, make_user())
    for day in range(1, 7):
        assert use(app, cookie, NOW + day * DAY), day


def test_citizen_logged_out_after_more_than_eight_idle_days(app, ctx, make_user):
    cookie = cookie_of(app, make_user())
    assert use(app, cookie, NOW + 8 * DAY - timedelta(minutes=1))
    fresh = cookie_of(app, make_user())
    assert not use(app, fresh, NOW + 8 * DAY + timedelta(minutes=1))


@pytest.mark.parametrize("role", ["staff", "organizer", "admin"])
def test_staff_logged_out_after_thirty_idle_minutes(app, ctx, make_user, role):
    cookie = cookie_of(app, make_user(role=role))
    assert use(app, cookie, NOW + timedelta(minutes=29))
    assert not use(app, cookie, NOW + timedelta(minutes=29 + 31))


def test_staff_session_ends_after_eight_hours_even_when_busy(app, ctx, make_user):
    cookie = cookie_of(app, make_user(role="staff"))
    for minutes in range(10, 8 * 60, 10):
        assert use(app, cookie, NOW + timedelta(minutes=minutes)), minutes
    assert not use(app, cookie, NOW + timedelta(hours=8, minutes=5))


def test_lifetimes_follow_the_configuration(app, ctx, make_user):
    config = {**app.config, "STAFF_SESSION_IDLE_S": 60}
    cookie = cookie_of(app, make_user(role="staff"))
    loaded = accounts.load_session(
        cookie, now=NOW + timedelta(seconds=61), config=config
    )
    assert loaded is None


def age_sessions(app, user, idle: timedelta, age: timedelta | None = None):
    """Make every session of `user` look last used `idle` ago (from now)."""
    from quiz_app.clock import utcnow

    now = utcnow()
    with app.app_context():
        db.session.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id)
            .values(last_seen_at=now - idle, created_at=now - (age or idle))
        )
        db.session.commit()


def test_idle_staff_is_asked_to_log_in_again(app, make_user):
    staff = make_user(role="staff")
    api = Api(app.test_client())
    api.login(staff)
    assert api.get("/api/v1/stats/regions").status_code == 200
    age_sessions(app, staff, idle=timedelta(minutes=31))
    assert api.get("/api/v1/stats/regions").status_code == 401
    assert api.client.get("/staff/").status_code == 302  # to the login page


def test_citizen_back_after_six_days_is_still_logged_in(app, make_user):
    citizen = make_user()
    api = Api(app.test_client())
    api.login(citizen)
    age_sessions(app, citizen, idle=timedelta(days=6), age=timedelta(days=6))
    assert api.get("/api/v1/me/attempts").status_code == 200


def test_login_cookie_survives_a_browser_restart(app, make_user):
    api = Api(app.test_client())
    r = api.login(make_user())
    cookie = next(
        h for h in r.headers.getlist("Set-Cookie") if h.startswith("session=")
    )
    assert "Expires=" in cookie


def _session_cookies(response) -> list[str]:
    return [
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")
    ]


def test_cookie_is_resent_only_when_the_use_is_recorded(app, make_user):
    """An ordinary request sends no Set-Cookie (nothing to re-sign); once the
    recorded use is older than the touch interval, the request that records
    it also renews the cookie's expiry, which stays past the idle limit."""
    citizen = make_user()
    api = Api(app.test_client())
    api.login(citizen)
    api.get("/api/v1/me/attempts")  # settles the CSRF token and protection id
    r = api.get("/api/v1/me/attempts")
    assert r.status_code == 200
    assert _session_cookies(r) == []
    age_sessions(app, citizen, idle=timedelta(seconds=accounts.SESSION_TOUCH_S + 5))
    r = api.get("/api/v1/me/attempts")
    assert r.status_code == 200
    (renewed,) = _session_cookies(r)
    assert "Expires=" in renewed
    assert (
        app.permanent_session_lifetime.total_seconds()
        >= app.config["CITIZEN_SESSION_IDLE_S"] + accounts.SESSION_TOUCH_S
    )
    # Recorded now: the next request needs no new cookie.
    assert _session_cookies(api.get("/api/v1/me/attempts")) == []
