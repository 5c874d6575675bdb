"""Admin pages: accounts, region populations, the audit log (test client)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app.auth.services import audit
from quiz_app.extensions import db
from quiz_app.models import AuditEvent, Region, User
from tests.auth.test_views import csrf_from
from tests.conftest import NOW, Api


@pytest.fixture
def admin(make_user):
    return make_user(role="admin", name="赵管理", region="shizhi")


@pytest.fixture
def as_admin(app, admin):
    api = Api(app.test_client())
    api.login(admin)
    return api.client


def token(client, path="/admin/accounts/new"):
    return csrf_from(client.get(path).get_data(as_text=True))


@pytest.mark.parametrize("role", ["citizen", "staff", "organizer"])
def test_account_and_population_pages_are_admin_only(app, make_user, role):
    user = make_user(role=role)
    api = Api(app.test_client())
    api.login(user)
    for path in ("/admin/accounts", "/admin/accounts/new", "/admin/regions",
                 f"/admin/accounts/{user.id}"):  # fmt: skip
        assert api.get(path).status_code == 403, path
    r = api.client.post(f"/admin/accounts/{user.id}/disable")
    assert r.status_code in (400, 403)


def test_audit_page_is_for_organizers_and_admins(app, make_user):
    for role, status in (("citizen", 403), ("staff", 403), ("organizer", 200)):
        api = Api(app.test_client())
        api.login(make_user(role=role))
        assert api.get("/admin/audit").status_code == status
        assert api.get("/api/v1/admin/audit").status_code == status


def test_list_shows_full_phones_and_searches(as_admin, make_user):
    make_user(name="王五", phone="13712345678")
    make_user(name="李四", phone="13787654321")
    html = as_admin.get("/admin/accounts?q=王").get_data(as_text=True)
    assert "13712345678" in html and "13787654321" not in html
    html = as_admin.get("/admin/accounts?role=admin").get_data(as_text=True)
    assert "赵管理" in html and "王五" not in html
    assert as_admin.get("/admin/accounts?page=0").status_code == 400
    assert as_admin.get("/admin/accounts?role=boss").status_code == 400


def create(client, **fields):
    data = {"csrf_token": token(client), "name": "孙路南", "phone": "13911112222",
            "role": "staff"}  # fmt: skip
    data.update(fields)
    return client.post("/admin/accounts/new", data=data)


def test_create_form_has_no_scope_chosen_by_default(as_admin):
    html = as_admin.get("/admin/accounts/new").get_data(as_text=True)
    assert 'value="city"' in html
    assert not re.search(r"<input[^>]*checked[^>]*>", html)


@pytest.mark.parametrize(
    "fields, field_id, message",
    [
        ({}, "scope", "请选择管辖一个区县，或全市范围"),
        ({"scope": "region"}, "staff_region", "请选择管辖区县"),
        ({"scope": "city", "phone": "123"}, "phone", "11 位"),
        ({"scope": "city", "name": ""}, "name", "请填写姓名"),
        ({"scope": "city", "role": "admin"}, "role", ""),
    ],
)
def test_bad_create_shows_the_error_beside_the_field_and_changes_nothing(
    app, as_admin, fields, field_id, message
):
    r = create(as_admin, **fields)
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "has-error" in html and message in html
    with app.app_context():
        assert (
            db.session.scalar(select(User).where(User.phone == "13911112222")) is None
        )


def test_duplicate_phone_is_an_error_on_the_phone_field(app, as_admin, make_user):
    make_user(phone="13911112222")
    r = create(as_admin, scope="region", staff_region="lunan")
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    phone_field = html[html.index('for="phone"') : html.index('for="phone"') + 600]
    assert "该手机号已有账号" in phone_field


def test_create_shows_the_one_time_password_once(app, as_admin):
    r = create(as_admin, scope="region", staff_region="lunan")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="one-time-password">(\d+)<', r.get_data(as_text=True))
    assert password
    with app.app_context():
        user = db.session.scalar(select(User).where(User.phone == "13911112222"))
        assert (user.role, user.staff_region_code, user.city_wide) == (
            "staff", "lunan", False)  # fmt: skip
        assert user.must_change_password
        user_id = user.id
    detail = as_admin.get(f"/admin/accounts/{user_id}").get_data(as_text=True)
    assert password.group(1) not in detail


def test_disable_page_ends_the_session_and_guard_rails(app, as_admin, admin, make_user):
    staff = make_user(role="staff", staff_region="lunan")
    device = Api(app.test_client())
    device.login(staff)
    assert device.get("/staff/").status_code == 200
    t = token(as_admin, f"/admin/accounts/{staff.id}")
    r = as_admin.post(f"/admin/accounts/{staff.id}/disable", data={"csrf_token": t})
    assert r.status_code == 303
    assert device.get("/staff/").status_code == 302  # back to the login page
    r = as_admin.post(f"/admin/accounts/{staff.id}/disable", data={})
    assert r.status_code == 400  # no CSRF token
    r = as_admin.post(f"/admin/accounts/{admin.id}/disable", data={"csrf_token": t})
    assert r.status_code == 409
    assert "不能停用自己的账号" in r.get_data(as_text=True)
    r = as_admin.post(f"/admin/accounts/{staff.id}/enable", data={"csrf_token": t})
    assert r.status_code == 303
    with app.app_context():
        assert not db.session.get(User, staff.id).disabled


def test_reset_and_role_pages(app, as_admin, make_user):
    organizer = make_user(role="organizer")
    t = token(as_admin, f"/admin/accounts/{organizer.id}")
    r = as_admin.post(f"/admin/accounts/{organizer.id}/reset", data={"csrf_token": t})
    assert r.status_code == 200 and 'id="one-time-password"' in r.get_data(as_text=True)
    path = f"/admin/accounts/{organizer.id}/role"
    r = as_admin.post(path, data={"csrf_token": t, "role": "staff"})
    assert r.status_code == 422 and "请选择管辖一个区县" in r.get_data(as_text=True)
    r = as_admin.post(path, data={"csrf_token": t, "role": "staff", "scope": "city"})
    assert r.status_code == 303
    with app.app_context():
        user = db.session.get(User, organizer.id)
        assert (user.role, user.city_wide) == ("staff", True)
    citizen = make_user()
    r = as_admin.post(
        f"/admin/accounts/{citizen.id}/role",
        data={"csrf_token": t, "role": "staff", "scope": "city"},
    )
    assert r.status_code == 409
    assert as_admin.get("/admin/accounts/424242").status_code == 404


def population_form(client, **values):
    data = {"csrf_token": token(client, "/admin/regions")}
    data.update({f"pop-{k}": v for k, v in values.items()})
    return data


def test_populations_are_saved_all_or_nothing_and_audited(app, as_admin, admin):
    html = as_admin.get("/admin/regions").get_data(as_text=True)
    assert "路南区" in html and "市直单位" in html
    r = as_admin.post(
        "/admin/regions",
        data=population_form(as_admin, lunan="330,000", lubei="0", guye="abc"),
    )
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert html.count('aria-invalid="true"') == 2
    assert 'value="330,000"' in html  # what was typed stays
    with app.app_context():
        assert db.session.get(Region, "lunan").population is None
    r = as_admin.post(
        "/admin/regions",
        data=population_form(as_admin, lunan="330,000", lubei="20000000"),
    )
    assert r.status_code == 303
    with app.app_context():
        assert db.session.get(Region, "lunan").population == 330_000
        assert db.session.get(Region, "lubei").population == 20_000_000
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "region_population")
        ).all()
        assert {e.actor_id for e in events} == {admin.id} and len(events) == 2
    r = as_admin.post("/admin/regions", data=population_form(as_admin, lubei=""))
    assert r.status_code == 303
    with app.app_context():
        assert db.session.get(Region, "lubei").population is None
        assert db.session.get(Region, "lunan").population is None  # blank too
    r = as_admin.post(
        "/admin/regions", data=population_form(as_admin, lunan="20000001")
    )
    assert r.status_code == 422


def test_audit_log_filters_newest_first_with_labels(app, as_admin, admin, make_user):
    organizer = make_user(role="organizer", name="李组织", phone="13922223333")
    with app.app_context():
        for i, (action, who) in enumerate(
            [("bank_import", organizer), ("contest_edit", organizer),
             ("regrade", admin), ("bank_import", organizer)]
        ):  # fmt: skip
            audit(action, outcome="ok", actor=db.session.get(User, who.id),
                  ip="10.0.0.1", obj=f"n{i}", now=NOW + timedelta(days=i))  # fmt: skip
    api = Api(as_admin)
    data = api.get("/api/v1/admin/audit?action=bank_import").get_json()
    assert [e["object"] for e in data["items"]] == ["n3", "n0"]
    assert data["items"][0]["actor"] == {"id": organizer.id, "name": "李组织",
                                         "role": "organizer"}  # fmt: skip
    by_phone = api.get("/api/v1/admin/audit?actor=13922223333").get_json()
    assert by_phone["total"] == 3
    by_id = api.get(f"/api/v1/admin/audit?actor={admin.id}").get_json()
    # the admin's own login (now) is newer than the regrade (2023)
    assert [e["action"] for e in by_id["items"]] == ["login", "regrade"]
    # NOW is 10:00 on 2023-09-18 in Tangshan: day i is 09-18 + i
    ranged = api.get("/api/v1/admin/audit?since=2023-09-19&until=2023-09-20")
    assert [e["object"] for e in ranged.get_json()["items"]] == ["n2", "n1"]
    assert api.get("/api/v1/admin/audit?actor=13900009999").get_json()["total"] == 0
    for bad in ("since=2023-13-01", "actor=abc", "action=nope",
                "since=2023-09-20&until=2023-09-19", "page=0"):  # fmt: skip
        r = api.get(f"/api/v1/admin/audit?{bad}")
        assert r.status_code == 422, bad
        assert r.get_json()["error"]["fields"]
    html = as_admin.get("/admin/audit?action=bank_import").get_data(as_text=True)
    assert "导入题库" in html and "李组织（组织者）" in html
    assert as_admin.get("/admin/audit?since=bad").status_code == 422


def test_home_and_navigation_link_every_page(as_admin):
    html = as_admin.get("/admin/").get_data(as_text=True)
    for path in ("/admin/accounts", "/admin/regions", "/admin/audit"):
        assert f'href="{path}"' in html, path
