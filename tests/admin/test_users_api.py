"""The admin accounts API (/api/v1/admin/users) against the real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from quiz_app.extensions import db
from quiz_app.models import AuditEvent, User, UserSession
from tests.conftest import TEST_PASSWORD, Api


class AdminApi(Api):
    def patch(self, path, body):
        return self.client.patch(path, json=body, headers={"X-CSRFToken": self.token()})


@pytest.fixture
def admin(make_user):
    return make_user(role="admin", name="赵管理", region="shizhi")


@pytest.fixture
def as_admin(app, admin):
    client = AdminApi(app.test_client())
    client.login(admin)
    return client


def new_staff(as_admin, **extra):
    body = {"name": "孙路南", "phone": "13911112222", "role": "staff"}
    body.update(extra)
    return as_admin.post("/api/v1/admin/users", body)


def events(app, action):
    with app.app_context():
        return list(
            db.session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        )


@pytest.mark.parametrize("role", ["citizen", "staff", "organizer"])
def test_every_endpoint_is_403_below_admin(app, make_user, role):
    user = make_user(role=role)
    client = AdminApi(app.test_client())
    client.login(user)
    assert client.get("/api/v1/admin/users").status_code == 403
    assert client.post("/api/v1/admin/users", {}).status_code == 403
    r = client.patch(f"/api/v1/admin/users/{user.id}", {"disabled": True})
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "forbidden"


def test_anonymous_is_401(client):
    assert client.get("/api/v1/admin/users").status_code == 401


def test_create_staff_for_one_county_and_log_in_with_the_one_time_password(
    app, as_admin, admin
):
    r = new_staff(as_admin, region="lunan")
    assert r.status_code == 201, r.get_json()
    data = r.get_json()
    assert data["user"]["role"] == "staff"
    assert data["user"]["staff_region"] == "lunan"
    assert data["user"]["city_wide"] is False
    assert data["user"]["must_change_password"] is True
    password = data["one_time_password"]
    assert len(password) == 12 and password.isdigit()
    staff = AdminApi(app.test_client())
    r = staff.post("/api/v1/auth/login", {"phone": "13911112222", "password": password})
    assert r.status_code == 200
    # the next login must change the password first
    assert staff.get("/api/v1/stats/regions").status_code in (403, 409)
    [event] = events(app, "account_create")
    assert event.actor_id == admin.id and event.ip == "127.0.0.1"
    assert f"user:{data['user']['id']}" in event.object


def test_create_city_wide_staff_and_organizer(as_admin):
    r = new_staff(as_admin, city_wide=True)
    assert r.status_code == 201
    assert r.get_json()["user"]["city_wide"] is True
    r = as_admin.post(
        "/api/v1/admin/users",
        {"name": "李组织", "phone": "13911113333", "role": "organizer"},
    )
    assert r.status_code == 201
    assert r.get_json()["user"]["staff_region"] is None


@pytest.mark.parametrize(
    "extra, field",
    [
        ({}, "region"),  # staff without a scope: never city-wide by default
        ({"region": "lunan", "city_wide": True}, "region"),
        ({"region": "atlantis"}, "region"),
        ({"phone": "12345"}, "phone"),
        ({"name": "<b>"}, "name"),
        ({"role": "admin"}, "role"),
        ({"role": "citizen"}, "role"),
        ({"city_wide": "yes"}, "city_wide"),
        ({"name": 5}, "name"),
    ],
)
def test_bad_create_is_422_with_the_field_and_changes_nothing(
    app, as_admin, extra, field
):
    r = new_staff(as_admin, **extra)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    with app.app_context():
        taken = db.session.scalar(select(User).where(User.phone == "13911112222"))
        assert taken is None
    assert events(app, "account_create") == []


def test_existing_phone_is_409(as_admin, make_user):
    make_user(phone="13911112222")
    r = new_staff(as_admin, region="lunan")
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "exists"


def test_not_json_is_400(as_admin):
    r = as_admin.client.post(
        "/api/v1/admin/users",
        data="x",
        headers={"X-CSRFToken": as_admin.token()},
    )
    assert r.status_code == 400


def test_csrf_is_required(as_admin):
    r = as_admin.client.post("/api/v1/admin/users", json={"name": "x"})
    assert r.status_code == 400


def test_list_search_filter_and_pages(as_admin, make_user, admin):
    for i in range(5):
        make_user(name=f"王{'一二三四五'[i]}", phone=f"1370000000{i}")
    make_user(role="staff", staff_region="qianan", name="钱迁安", phone="13600000000")
    r = as_admin.get("/api/v1/admin/users")
    data = r.get_json()
    assert data["total"] == 7
    assert data["items"][0]["phone"] == "13600000000"  # newest first, full phone
    assert as_admin.get("/api/v1/admin/users?role=staff").get_json()["total"] == 1
    assert as_admin.get("/api/v1/admin/users?q=王").get_json()["total"] == 5
    assert as_admin.get("/api/v1/admin/users?q=70000000").get_json()["total"] == 5
    assert as_admin.get("/api/v1/admin/users?region=qianan").get_json()["total"] == 1
    page = as_admin.get("/api/v1/admin/users?per_page=3&page=3").get_json()
    assert page["pages"] == 3 and len(page["items"]) == 1
    assert as_admin.get("/api/v1/admin/users?q=%25").get_json()["total"] == 0
    for bad in ("role=boss", "page=0", "page=x", "per_page=1000"):
        r = as_admin.get(f"/api/v1/admin/users?{bad}")
        assert r.status_code == 422, bad


def test_unknown_id_is_404(as_admin):
    r = as_admin.patch("/api/v1/admin/users/99999", {"disabled": True})
    assert r.status_code == 404
    r = as_admin.patch("/api/v1/admin/users/99999999999999", {"disabled": True})
    assert r.status_code == 404


def test_disable_revokes_every_session_at_once(app, as_admin, make_user):
    staff = make_user(role="staff", staff_region="lunan")
    devices = []
    for _ in range(2):
        device = AdminApi(app.test_client())
        device.login(staff)
        assert device.get("/api/v1/stats/regions").status_code == 200
        devices.append(device)
    r = as_admin.patch(f"/api/v1/admin/users/{staff.id}", {"disabled": True})
    assert r.status_code == 200
    assert r.get_json()["user"]["disabled"] is True
    for device in devices:  # the open sessions stop on their next request
        assert device.get("/api/v1/stats/regions").status_code == 401
    with app.app_context():
        live = db.session.scalars(
            select(UserSession).where(
                UserSession.user_id == staff.id, UserSession.revoked.is_(False)
            )
        ).all()
        assert live == []
    r = AdminApi(app.test_client()).post(
        "/api/v1/auth/login", {"phone": staff.phone, "password": TEST_PASSWORD}
    )
    assert r.status_code == 401
    r = as_admin.patch(f"/api/v1/admin/users/{staff.id}", {"disabled": False})
    assert r.get_json()["user"]["disabled"] is False
    AdminApi(app.test_client()).login(staff)
    assert [e.outcome for e in events(app, "account_disable")] == ["ok"]
    assert len(events(app, "account_enable")) == 1


def test_admin_cannot_disable_or_demote_themselves(as_admin, admin, make_user):
    make_user(role="admin", name="钱管理")
    path = f"/api/v1/admin/users/{admin.id}"
    r = as_admin.patch(path, {"disabled": True})
    assert r.status_code == 409
    r = as_admin.patch(path, {"role": "organizer"})
    assert r.status_code == 409
    assert as_admin.get("/api/v1/admin/users?role=admin").get_json()["total"] == 2


def test_the_last_enabled_admin_stays(app, as_admin, admin, make_user):
    other = make_user(role="admin", name="钱管理")
    r = as_admin.patch(f"/api/v1/admin/users/{other.id}", {"disabled": True})
    assert r.status_code == 200
    # `admin` is now the only enabled admin; a second admin client cannot
    # disable it either (other is disabled and cannot log in).
    with app.app_context():
        me = db.session.get(User, admin.id)
        from quiz_app.admin.accounts import AccountRefused, update_account
        from tests.conftest import NOW

        with pytest.raises(AccountRefused):
            update_account(db.session.get(User, other.id), me, disabled=True, now=NOW)
        with pytest.raises(AccountRefused):
            update_account(
                db.session.get(User, other.id), me, role="organizer", now=NOW
            )
        assert not db.session.get(User, admin.id).disabled


def test_citizen_can_be_disabled_and_reset_but_not_made_staff(app, as_admin, make_user):
    citizen = make_user()
    path = f"/api/v1/admin/users/{citizen.id}"
    r = as_admin.patch(path, {"role": "staff", "region": "lunan", "city_wide": False})
    assert r.status_code == 409
    assert as_admin.patch(path, {"disabled": True}).status_code == 200
    assert as_admin.patch(path, {"disabled": False}).status_code == 200
    r = as_admin.patch(path, {"reset_password": True})
    assert r.status_code == 200
    password = r.get_json()["one_time_password"]
    with app.app_context():
        assert db.session.get(User, citizen.id).role == "citizen"
    AdminApi(app.test_client()).login(citizen, password=password)


def test_reset_returns_the_password_once_and_ends_old_sessions(
    app, as_admin, make_user
):
    staff = make_user(role="staff", city_wide=True)
    device = AdminApi(app.test_client())
    device.login(staff)
    path = f"/api/v1/admin/users/{staff.id}"
    r = as_admin.patch(path, {"reset_password": True})
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    password = r.get_json()["one_time_password"]
    assert r.get_json()["user"]["must_change_password"] is True
    assert device.get("/api/v1/stats/regions").status_code == 401
    # never retrievable again: not in the account, the list or the log
    assert "one_time_password" not in as_admin.patch(path, {}).get_json()
    listing = as_admin.get("/api/v1/admin/users").get_data(as_text=True)
    assert password not in listing
    audit = as_admin.get("/api/v1/admin/audit").get_data(as_text=True)
    assert password not in audit
    old = AdminApi(app.test_client()).post(
        "/api/v1/auth/login", {"phone": staff.phone, "password": TEST_PASSWORD}
    )
    assert old.status_code == 401
    AdminApi(app.test_client()).login(staff, password=password)
    [event] = events(app, "account_password_reset")
    assert event.ip == "127.0.0.1"


def test_change_scope_and_role(app, as_admin, make_user):
    organizer = make_user(role="organizer")
    path = f"/api/v1/admin/users/{organizer.id}"
    r = as_admin.patch(path, {"role": "staff"})
    assert r.status_code == 422  # a staff account needs its scope
    r = as_admin.patch(path, {"role": "staff", "region": "lunan", "city_wide": False})
    assert r.status_code == 200
    assert r.get_json()["user"]["staff_region"] == "lunan"
    r = as_admin.patch(path, {"region": None, "city_wide": True})
    assert r.get_json()["user"]["city_wide"] is True
    assert r.get_json()["user"]["staff_region"] is None
    r = as_admin.patch(path, {"region": "lunan", "city_wide": True})
    assert r.status_code == 422
    r = as_admin.patch(path, {"region": "lunan"})
    assert r.status_code == 422
    r = as_admin.patch(path, {"role": "organizer"})
    assert r.get_json()["user"]["staff_region"] is None
    r = as_admin.patch(path, {"score": 100})
    assert r.status_code == 422 and "score" in r.get_json()["error"]["fields"]
    assert len(events(app, "account_role")) == 2
    assert len(events(app, "account_scope")) == 1


def test_two_admins_disabling_each_other_at_once_leave_one_enabled(app, make_user):
    import threading

    first = make_user(role="admin", name="赵管理")
    second = make_user(role="admin", name="钱管理")
    clients = []
    for me in (first, second):
        c = AdminApi(app.test_client())
        c.login(me)
        clients.append(c)
    tokens = [c.token() for c in clients]
    barrier = threading.Barrier(2)
    statuses = {}

    def disable(i, target):
        barrier.wait()
        r = clients[i].client.patch(
            f"/api/v1/admin/users/{target.id}",
            json={"disabled": True},
            headers={"X-CSRFToken": tokens[i]},
        )
        statuses[i] = r.status_code

    threads = [
        threading.Thread(target=disable, args=(0, second)),
        threading.Thread(target=disable, args=(1, first)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    # the loser's own session may already be gone (401) or it was refused (409)
    assert sorted(statuses.values())[0] == 200
    assert sorted(statuses.values())[1] in (401, 409)
    with app.app_context():
        enabled = db.session.scalars(
            select(User).where(User.role == "admin", User.disabled.is_(False))
        ).all()
        assert len(enabled) == 1
