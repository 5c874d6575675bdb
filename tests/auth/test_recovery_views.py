"""Getting back in through the API and the pages: forgot/reset, the staff
hotline reset (scoped), and the forced password change."""

from __future__ import annotations

import re
import time

import pytest

from quiz_app.auth import recovery
from tests.auth.test_views import csrf_from
from tests.conftest import TEST_PASSWORD, Api

NEW = "xin-mima-2023"


class Outbox:
    """Stands in as the app's SMS sender and keeps what it was asked to send."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def send(self, phone, message):
        self.sent.append((phone, message))

    def code_for(self, phone, timeout=5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for to, message in reversed(self.sent):
                if to == phone:
                    return re.search(r"\d{6}", message).group(0)
            time.sleep(0.01)
        raise AssertionError(f"no SMS to {phone}")


@pytest.fixture
def outbox(app):
    saved = app.extensions["sms_sender"]
    app.extensions["sms_sender"] = box = Outbox()
    yield box
    app.extensions["sms_sender"] = saved


def forgot(api, phone, ip="127.0.0.1"):
    return api.client.post(
        "/api/v1/auth/forgot",
        json={"phone": phone},
        headers={"X-CSRFToken": api.token()},
        environ_base={"REMOTE_ADDR": ip},
    )


# API -----------------------------------------------------------------------


def test_forgot_answers_alike_for_known_and_unknown_phones(api, make_user, outbox):
    user = make_user(phone="13900000001")
    known, unknown = forgot(api, user.phone), forgot(api, "13900000002")
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    outbox.code_for(user.phone)
    time.sleep(0.1)
    assert [to for to, _ in outbox.sent] == [user.phone]


def test_reset_through_the_api_ends_sessions_and_the_new_password_works(
    app, api, make_user, outbox
):
    user = make_user()
    other_device = Api(app.test_client())
    other_device.login(user)
    assert forgot(api, user.phone).status_code == 202
    code = outbox.code_for(user.phone)
    r = api.post(
        "/api/v1/auth/reset", {"phone": user.phone, "code": code, "password": NEW}
    )
    assert r.status_code == 200 and r.get_json() == {"reset": True}
    assert other_device.get("/api/v1/me/attempts").status_code == 401
    again = api.post(
        "/api/v1/auth/reset", {"phone": user.phone, "code": code, "password": NEW}
    )
    assert again.status_code == 400  # single use
    assert (
        api.post(
            "/api/v1/auth/login", {"phone": user.phone, "password": TEST_PASSWORD}
        ).status_code
        == 401
    )
    api.login(user, password=NEW)


def test_reset_rejections_are_identical_for_unknown_phones(api, make_user, outbox):
    user = make_user(phone="13900000001")
    forgot(api, user.phone)
    outbox.code_for(user.phone)
    bodies = []
    for phone in (user.phone, "13900000002"):
        r = api.post(
            "/api/v1/auth/reset", {"phone": phone, "code": "000000", "password": NEW}
        )
        bodies.append((r.status_code, r.get_json()))
    assert bodies[0] == bodies[1]
    assert bodies[0][0] == 400 and bodies[0][1]["error"]["code"] == "bad_code"


@pytest.mark.parametrize(
    "path, payload",
    [
        ("/api/v1/auth/forgot", {"phone": 13900000001}),
        ("/api/v1/auth/forgot", {"phone": "12345"}),
        ("/api/v1/auth/reset", {"phone": "13900000001", "code": 123456}),
        ("/api/v1/auth/reset", {"phone": "13900000001", "code": "1", "password": 1}),
    ],
)
def test_bad_api_input_is_a_422(api, path, payload):
    r = api.post(path, payload)
    assert r.status_code == 422 and "error" in r.get_json()


def test_forgot_limited_per_phone_for_unknown_phones_too(api, config, outbox):
    config(FORGOT_LIMIT_PER_PHONE="2 per minute")
    codes = [forgot(api, "13900000009").status_code for _ in range(3)]
    assert codes == [202, 202, 429]
    assert forgot(api, "13900000008").status_code == 202


def test_forgot_limited_per_address_across_phones(api, config, outbox):
    config(FORGOT_LIMIT_PER_IP="3 per minute")
    codes = [
        forgot(api, f"1390000001{i}", ip="198.51.100.7").status_code for i in range(4)
    ]
    assert codes == [202, 202, 202, 429]
    assert forgot(api, "13900000019", ip="203.0.113.5").status_code == 202


def test_page_and_api_share_the_forgot_counter(api, client, config, outbox):
    config(FORGOT_LIMIT_PER_PHONE="2 per minute")
    assert forgot(api, "13900000009").status_code == 202
    token = csrf_from(client.get("/forgot").get_data(as_text=True))
    r = client.post("/forgot", data={"csrf_token": token, "phone": "13900000009"})
    assert r.status_code == 302
    r = client.post("/forgot", data={"csrf_token": token, "phone": "13900000009"})
    assert r.status_code == 429


def test_forgot_without_csrf_is_refused(client):
    r = client.post("/api/v1/auth/forgot", json={"phone": "13900000001"})
    assert r.status_code == 400 and "error" in r.get_json()


# Pages ---------------------------------------------------------------------


def test_page_flow_forgot_reset_login(client, make_user, outbox):
    user = make_user()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert "忘记密码" in client.get("/login").get_data(as_text=True)
    r = client.post("/forgot", data={"csrf_token": token, "phone": user.phone})
    assert r.status_code == 302 and r.headers["Location"].endswith("/forgot/reset")
    page = client.get("/forgot/reset").get_data(as_text=True)
    assert "如果该手机号已注册" in page and f'value="{user.phone}"' in page
    code = outbox.code_for(user.phone)
    data = {"csrf_token": token, "phone": user.phone, "password": NEW, "password2": NEW}
    r = client.post("/forgot/reset", data={**data, "code": "000000"})
    assert r.status_code == 422 and "验证码不正确或已失效" in r.get_data(as_text=True)
    r = client.post("/forgot/reset", data={**data, "code": code})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    r = client.post(
        "/login", data={"csrf_token": token, "phone": user.phone, "password": NEW}
    )
    assert r.status_code == 302


def test_forgot_page_same_answer_for_unknown_phone(client, make_user, outbox):
    user = make_user(phone="13900000001")
    token = csrf_from(client.get("/forgot").get_data(as_text=True))
    answers = []
    for phone in (user.phone, "13900000002"):
        r = client.post("/forgot", data={"csrf_token": token, "phone": phone})
        answers.append((r.status_code, r.headers["Location"]))
        answers.append(
            client.get("/forgot/reset").get_data(as_text=True).replace(phone, "PHONE")
        )
    assert answers[0] == answers[2] and answers[1] == answers[3]


def test_forgot_page_bad_phone_is_a_422_in_chinese(client):
    token = csrf_from(client.get("/forgot").get_data(as_text=True))
    r = client.post("/forgot", data={"csrf_token": token, "phone": "12345"})
    assert r.status_code == 422 and "11 位" in r.get_data(as_text=True)


# Staff hotline reset ---------------------------------------------------------


def staff_client(app, staff):
    api = Api(app.test_client())
    api.login(staff)
    return api.client


def test_region_staff_find_and_reset_their_own_citizen(app, make_user):
    citizen = make_user(region="lunan", name="李秀英")
    client = staff_client(app, make_user(role="staff", staff_region="lunan"))
    page = client.get(f"/staff/citizens?phone={citizen.phone}")
    assert page.status_code == 200 and "李秀英" in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    r = client.post(
        f"/staff/citizens/{citizen.id}/reset-password", data={"csrf_token": token}
    )
    assert r.status_code == 200
    temp = re.search(r'id="temp-password">(\d{8})<', r.get_data(as_text=True))
    assert temp and Api(app.test_client()).login(citizen, password=temp.group(1))


def test_region_staff_get_403_for_another_regions_citizen(app, make_user):
    citizen = make_user(region="lubei")
    client = staff_client(app, make_user(role="staff", staff_region="lunan"))
    assert client.get(f"/staff/citizens?phone={citizen.phone}").status_code == 403
    token = csrf_from(client.get("/staff/citizens").get_data(as_text=True))
    r = client.post(
        f"/staff/citizens/{citizen.id}/reset-password", data={"csrf_token": token}
    )
    assert r.status_code == 403
    Api(app.test_client()).login(citizen)  # the password did not change


def test_city_wide_staff_reset_any_region(app, make_user):
    citizen = make_user(region="qianan")
    client = staff_client(app, make_user(role="staff", city_wide=True))
    token = csrf_from(client.get("/staff/citizens").get_data(as_text=True))
    r = client.post(
        f"/staff/citizens/{citizen.id}/reset-password", data={"csrf_token": token}
    )
    assert r.status_code == 200


def test_staff_lookup_edge_cases(app, make_user):
    staff = make_user(role="staff", city_wide=True)
    client = staff_client(app, staff)
    r = client.get("/staff/citizens?phone=13900009999")
    assert r.status_code == 200 and "未找到" in r.get_data(as_text=True)
    assert client.get("/staff/citizens?phone=abc").status_code == 422
    token = csrf_from(client.get("/staff/citizens").get_data(as_text=True))
    # staff accounts are not reset from here; unknown ids are 404
    for uid in (staff.id, 999_999):
        r = client.post(
            f"/staff/citizens/{uid}/reset-password", data={"csrf_token": token}
        )
        assert r.status_code == 404
    r = client.post(f"/staff/citizens/{staff.id}/reset-password")
    assert r.status_code == 400  # no CSRF token


def test_citizens_and_organizers_cannot_reach_the_hotline_page(app, make_user):
    for role in ("citizen", "organizer"):
        client = staff_client(app, make_user(role=role))
        assert client.get("/staff/citizens").status_code == 403


# Forced change -------------------------------------------------------------


def test_temp_password_login_must_change_before_anything_else(app, make_user):
    citizen = make_user(region="lunan")
    staff = staff_client(app, make_user(role="staff", staff_region="lunan"))
    token = csrf_from(staff.get("/staff/citizens").get_data(as_text=True))
    page = staff.post(
        f"/staff/citizens/{citizen.id}/reset-password", data={"csrf_token": token}
    ).get_data(as_text=True)
    temp = re.search(r'id="temp-password">(\d{8})<', page).group(1)

    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post(
        "/login", data={"csrf_token": token, "phone": citizen.phone, "password": temp}
    )
    assert r.headers["Location"].endswith("/change-password")
    assert client.get("/me").headers["Location"].endswith("/change-password")
    api = Api(client)
    r = api.get("/api/v1/me/attempts")
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "password_change_required"
    form = client.get("/change-password").get_data(as_text=True)
    assert "临时密码" in form and 'name="current_password"' not in form
    token = csrf_from(form)  # logging in started a fresh session
    r = client.post(
        "/change-password",
        data={"csrf_token": token, "password": "123456", "password2": "123456"},
    )
    assert r.status_code == 422
    r = client.post(
        "/change-password",
        data={"csrf_token": token, "password": NEW, "password2": NEW},
    )
    assert r.status_code == 302
    assert client.get("/me").status_code == 200
    assert api.get("/api/v1/me/attempts").status_code == 200
    Api(app.test_client()).login(citizen, password=NEW)


def test_ordinary_change_asks_for_the_current_password(app, make_user):
    citizen = make_user()
    api = Api(app.test_client())
    api.login(citizen)
    client = api.client
    token = csrf_from(client.get("/change-password").get_data(as_text=True))
    data = {"csrf_token": token, "password": NEW, "password2": NEW}
    r = client.post("/change-password", data={**data, "current_password": "nope"})
    assert r.status_code == 422 and "当前密码不正确" in r.get_data(as_text=True)
    r = client.post(
        "/change-password", data={**data, "current_password": TEST_PASSWORD}
    )
    assert r.status_code == 302
    Api(app.test_client()).login(citizen, password=NEW)


def test_forced_change_through_the_api(app, make_user):
    citizen = make_user(region="lunan")
    staff = staff_client(app, make_user(role="staff", city_wide=True))
    token = csrf_from(staff.get("/staff/citizens").get_data(as_text=True))
    page = staff.post(
        f"/staff/citizens/{citizen.id}/reset-password", data={"csrf_token": token}
    ).get_data(as_text=True)
    temp = re.search(r'id="temp-password">(\d{8})<', page).group(1)
    api = Api(app.test_client())
    api.login(citizen, password=temp)
    assert api.get("/api/v1/me/attempts").status_code == 403
    r = api.post("/api/v1/auth/change-password", {"password": "123456"})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "password"
    r = api.post("/api/v1/auth/change-password", {"password": 5})
    assert r.status_code == 422
    r = api.post("/api/v1/auth/change-password", {"password": NEW})
    assert r.status_code == 200 and r.get_json() == {"changed": True}
    assert api.get("/api/v1/me/attempts").status_code == 200
    r = api.post(  # now the current password is asked for
        "/api/v1/auth/change-password",
        {"current_password": "wrong", "password": "third-pass-1"},
    )
    assert r.status_code == 422
    assert r.get_json()["error"]["field"] == "current_password"


def test_code_ttl_constant_is_ten_minutes():
    assert recovery.CODE_TTL.total_seconds() == 600


def test_a_slow_webhook_gateway_does_not_slow_the_answer(app, api, make_user):
    """Through the real webhook sender and a real local receiver that takes a
    second to answer: a registered phone's answer comes as fast as an unknown
    one's, so timing does not tell which phones have accounts."""
    from quiz_app.auth.sms import WebhookSender
    from tests.auth.test_sms import running_receiver

    saved = app.extensions["sms_sender"]
    with running_receiver() as server:
        server.delay = 1.0
        app.extensions["sms_sender"] = WebhookSender(server.url, timeout_s=3)
        try:
            user = make_user(phone="13900000001")
            forgot(api, "13900000003")  # warm up
            timings = {}
            for phone in (user.phone, "13900000002"):
                started = time.monotonic()
                assert forgot(api, phone).status_code == 202
                timings[phone] = time.monotonic() - started
            assert max(timings.values()) < 0.5, timings
            deadline = time.monotonic() + 5
            while not server.got and time.monotonic() < deadline:
                time.sleep(0.02)
            assert server.got[0]["body"]["phone"] == user.phone
            assert re.search(r"\d{6}", server.got[0]["body"]["message"])
        finally:
            app.extensions["sms_sender"] = saved
