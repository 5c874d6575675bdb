"""Account pages, sessions, rate limits, headers and role checks."""

from __future__ import annotations

import re

import pytest

from quiz_app import create_app
from quiz_app.config import Config
from quiz_app.extensions import db
from quiz_app.models import User
from tests.conftest import TEST_PASSWORD


def csrf_from(html: str) -> str:
    """The token of a page: WTForms' hidden field or our own hidden inputs."""
    m = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', html
    ) or re.search(r'type="hidden" name="csrf_token" value="([^"]+)"', html)
    return m.group(1)


def form_token(client, path):
    return csrf_from(client.get(path).get_data(as_text=True))


def test_register_page_shows_field_errors_and_creates_nothing(client, app):
    token = form_token(client, "/register")
    r = client.post(
        "/register",
        data={
            "csrf_token": token,
            "name": "张三",
            "phone": "1381234",
            "region": "lunan",
            "password": "kexue-2023",
            "password2": "kexue-2024",
            "privacy": "y",
        },
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "两次输入的密码不一致" in html
    with app.app_context():
        assert db.session.query(User).count() == 0


def test_register_then_logout_then_login(client, app):
    token = form_token(client, "/register")
    r = client.post(
        "/register",
        data={
            "csrf_token": token,
            "name": "张三明",
            "phone": "13812345678",
            "region": "qianan",
            "password": "kexue-2023",
            "password2": "kexue-2023",
            "public_ranking": "y",
            "privacy": "y",
        },
        follow_redirects=True,
    )
    assert "注册成功" in r.get_data(as_text=True)
    with app.app_context():
        user = db.session.query(User).one()
        assert user.region_code == "qianan" and user.public_ranking
        assert user.password_hash.startswith("$argon2id$")  # a memory-hard KDF
    token = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/me").status_code == 302  # back to the login page
    token = form_token(client, "/login")
    r = client.post(
        "/login",
        data={"csrf_token": token, "phone": "13812345678", "password": "kexue-2023"},
    )
    assert r.status_code == 302


def test_logout_needs_post_with_csrf(client, make_user, api):
    api.login(make_user())
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/me").status_code == 200


def test_login_redirect_is_same_site_only(client, make_user):
    user = make_user()
    token = form_token(client, "/login")
    r = client.post(
        "/login?next=//evil.example/x",
        data={"csrf_token": token, "phone": user.phone, "password": TEST_PASSWORD},
    )
    assert r.headers["Location"] == "/"


def test_login_is_rate_limited_per_phone(api, make_user):
    user = make_user()
    codes = [
        api.post(
            "/api/v1/auth/login", {"phone": user.phone, "password": "wrong-pw"}
        ).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429
    refused = api.post(
        "/api/v1/auth/login", {"phone": user.phone, "password": "wrong-pw"}
    )
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 300
    # Another phone from the same address is not locked out.
    other = make_user()
    assert (
        api.post(
            "/api/v1/auth/login", {"phone": other.phone, "password": TEST_PASSWORD}
        ).status_code
        == 200
    )


def test_security_headers(client):
    r = client.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Referrer-Policy"] == "same-origin"


def test_production_cookies_are_secure(database_url, redis_server):
    app = create_app(
        Config,
        SECRET_KEY="production-secret",
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=redis_server.connection_url,
        RATELIMIT_STORAGE_URI=redis_server.connection_url,
    )
    client = app.test_client()
    r = client.get("/api/v1/csrf", base_url="https://localhost")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "max-age=31536000" in r.headers["Strict-Transport-Security"]
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(
    "path",
    [
        "/admin/questions",
        "/admin/questions/export.csv",
        "/staff/",
        "/staff/regions.csv",
    ],
)
def test_citizens_cannot_open_organizer_or_staff_pages(api, client, make_user, path):
    assert client.get(path).status_code == 302  # anonymous: to login
    api.login(make_user())
    assert client.get(path).status_code == 403


def test_staff_cannot_open_bank_pages(api, client, make_user):
    api.login(make_user(role="staff"))
    assert client.get("/admin/questions").status_code == 403
    assert client.get("/staff/").status_code == 200


def test_error_pages_are_generic(client):
    r = client.get("/no/such/page")
    assert r.status_code == 404
    html = r.get_data(as_text=True)
    assert "页面不存在" in html and "Traceback" not in html


def test_register_page_reports_every_bad_field_at_once(client, app):
    token = form_token(client, "/register")
    r = client.post(
        "/register", data={"csrf_token": token, "name": "李", "phone": "123"}
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    for message in (
        "请填写 2-20 个字的真实姓名",
        "请填写 11 位中国大陆手机号",
        "请选择所在区县",
        "请设置密码",
        "请先同意个人信息收集说明",
    ):
        assert message in html


@pytest.mark.parametrize("hops, expected_ip", [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_forwarded_address_is_trusted_only_behind_a_configured_proxy(
    database_url, redis_server, make_user, hops, expected_ip
):
    """Behind nginx (TRUSTED_PROXY_HOPS=1) the client's address comes from
    X-Forwarded-For; without a proxy that header is the client's to forge and
    must not move it to another rate-limit bucket or into the audit log."""
    from quiz_app.config import TestConfig
    from quiz_app.models import AuditEvent

    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=database_url,
        REDIS_URL=redis_server.connection_url,
        RATELIMIT_STORAGE_URI=redis_server.connection_url,
        TRUSTED_PROXY_HOPS=hops,
    )
    user = make_user()
    client = app.test_client()
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    r = client.post(
        "/api/v1/auth/login",
        json={"phone": user.phone, "password": "not-the-password"},
        headers={"X-CSRFToken": token, "X-Forwarded-For": "203.0.113.9"},
    )
    assert r.status_code == 401
    with app.app_context():
        ips = [e.ip for e in db.session.query(AuditEvent).filter_by(action="login")]
        db.session.remove()
        db.engine.dispose()
    assert ips == [expected_ip]


def test_login_limits_fall_back_to_memory_while_the_limiter_redis_is_down(
    api, make_user, redis_server
):
    """Reliability case: the limiter's storage down → logins still work (no 500) and
    the per-phone limit is still applied, counted in per-process memory."""
    from quiz_app.auth import limits
    from quiz_app.extensions import limiter

    user, other = make_user(), make_user()
    redis_server.stop()
    try:
        codes = [
            api.post(
                "/api/v1/auth/login", {"phone": user.phone, "password": "wrong-pw"}
            ).status_code
            for _ in range(11)
        ]
        ok = api.post(
            "/api/v1/auth/login", {"phone": other.phone, "password": TEST_PASSWORD}
        ).status_code
    finally:
        redis_server.start()
        # Later tests start from a live storage and an empty fallback, as
        # Flask-Limiter's own periodic recovery check would leave them.
        limiter.reset()
        limiter._fallback_storage.reset()
        limiter._storage_dead = False
        limits._fallback_until = 0.0
        limits._fallback.storage.reset()
    assert codes == [401] * 10 + [429]
    assert ok == 200


@pytest.mark.parametrize("lookalike", ["１３８１２３４５６７８", "𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖"])
def test_unicode_digits_do_not_register_a_second_account(api, client, app, lookalike):
    body = {
        "name": "李小红",
        "region": "fengrun",
        "password": "huaxue-2023",
        "public_ranking": False,
    }
    assert (
        api.post("/api/v1/auth/register", {**body, "phone": "13812345678"}).status_code
        == 201
    )
    client.delete_cookie("session")
    r = api.post("/api/v1/auth/register", {**body, "phone": lookalike})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "phone_taken"
    token = form_token(client, "/register")
    r = client.post(
        "/register",
        data={
            "csrf_token": token,
            "name": "李小红",
            "phone": lookalike,
            "region": "fengrun",
            "password": "huaxue-2023",
            "password2": "huaxue-2023",
            "privacy": "y",
        },
    )
    assert r.status_code == 422 and "该手机号已注册" in r.get_data(as_text=True)
    with app.app_context():
        assert [u.phone for u in db.session.query(User)] == ["13812345678"]
    # The same number typed with a Chinese input method logs in to that account.
    r = api.post("/api/v1/auth/login", {"phone": lookalike, "password": "huaxue-2023"})
    assert r.status_code == 200 and r.get_json()["user"]["phone"] == "13812345678"


@pytest.mark.parametrize("path", ["/me", "/login", "/api/v1/me/attempts"])
def test_a_foreign_host_header_is_refused(client, path):
    r = client.get(path, headers={"Host": "evil.example"})
    assert r.status_code == 400
    assert "evil.example" not in r.headers.get("Location", "")
    if path.startswith("/api/"):
        assert r.get_json()["error"]["message"]
    else:
        assert "请求有误" in r.get_data(as_text=True)
    # The configured names still work, with or without a port.
    for host in ("localhost", "127.0.0.1:8000"):
        assert client.get(path, headers={"Host": host}).status_code in (200, 302, 401)
