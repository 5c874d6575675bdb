"""Certificate pages and API through the client: holder, public, limits."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from quiz_app.extensions import db
from quiz_app.models import Certificate
from tests.certificate.conftest import my_code


def test_my_certificate_json_is_full_and_public_one_masked(api, finished):
    api.login(finished)
    mine = api.get("/api/v1/me/certificate").get_json()
    assert set(mine) >= {
        "code",
        "contest",
        "name",
        "region",
        "band",
        "score",
        "issued_at",
    }
    assert mine["name"] == "张三明"
    assert (mine["region"], mine["region_name"]) == ("lunan", "路南区")
    assert (mine["band"], mine["score"]) == ("excellent", 40)
    assert mine["contest"] == "2023年唐山市公民科学素质知识网络竞赛"
    assert re.fullmatch(r".*T.*\+08:00", mine["issued_at"])
    # asking again gives the same certificate
    assert api.get("/api/v1/me/certificate").get_json() == mine

    api.post("/api/v1/auth/logout")
    public = api.client.get(f"/api/v1/certificates/{mine['code']}")
    assert public.status_code == 200
    body = public.get_json()
    assert body["name"] == "张*明"
    assert {k: body[k] for k in ("code", "band", "score", "region")} == {
        k: mine[k] for k in ("code", "band", "score", "region")
    }
    text = public.get_data(as_text=True)
    assert "张三明" not in text and finished.phone not in text
    assert "user_id" not in body and "phone" not in body
    # typed from paper: lower case, grouped
    typed = f"{mine['code'][:5].lower()}-{mine['code'][5:]}"
    assert api.client.get(f"/api/v1/certificates/{typed}").get_json() == body


def test_no_certificate_before_a_finished_attempt(api, app, contest, citizen):
    api.login(citizen)
    r = api.get("/api/v1/me/certificate")
    assert r.status_code == 404
    assert r.get_json()["error"]["code"] == "no_certificate"
    page = api.client.get("/me/certificate")
    assert page.status_code == 404 and "完成一次答题后即可获得证书" in page.text
    assert api.client.get("/me/certificate.png").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count(Certificate.id))) == 0


@pytest.mark.parametrize("code", ["ABCDEFGHJK", "zz", "x" * 300, "%E5%BC%A0"])
def test_unknown_code_is_404(client, contest, code):
    r = client.get(f"/api/v1/certificates/{code}")
    assert r.status_code == 404
    assert r.get_json()["error"]["code"] == "unknown_certificate"
    page = client.get(f"/verify/{code}")
    assert page.status_code == 404 and "没有找到这个证书编号" in page.text


def test_roles_and_login(client, api, make_user, contest):
    assert client.get("/api/v1/me/certificate").status_code == 401
    r = client.get("/me/certificate")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    api.login(make_user(role="organizer"))
    assert api.get("/api/v1/me/certificate").status_code == 403
    assert api.client.get("/me/certificate").status_code == 403


def test_verify_is_rate_limited_per_address_page_and_api_together(
    client, api, finished, config
):
    api.login(finished)
    code = my_code(api)
    config(VERIFY_LIMIT_PER_IP="3 per minute")
    here = {"REMOTE_ADDR": "198.51.100.7"}
    codes = [
        client.get(f"/verify/{code}", environ_base=here).status_code,
        client.get(f"/api/v1/certificates/{code}", environ_base=here).status_code,
        client.get("/verify/ABCDEFGHJK", environ_base=here).status_code,
        client.get(f"/api/v1/certificates/{code}", environ_base=here).status_code,
    ]
    assert codes == [200, 200, 404, 429]
    limited = client.get(f"/api/v1/certificates/{code}", environ_base=here)
    assert limited.get_json()["error"]["code"] == "too_many_requests"
    assert int(limited.headers["Retry-After"]) > 0
    assert client.get(f"/verify/{code}", environ_base=here).status_code == 429
    # another address has its own counter
    other = {"REMOTE_ADDR": "203.0.113.5"}
    assert client.get(f"/verify/{code}", environ_base=other).status_code == 200


def test_certificate_page_verify_page_and_links(api, finished):
    api.login(finished)
    page = api.client.get("/me/certificate")
    assert page.status_code == 200
    html = page.text
    code = my_code(api)
    assert "优秀证书" in html and "张三明" in html and "路南区" in html
    assert "唐山市科学技术协会" in html
    assert f"{code[:5]}-{code[5:]}" in html
    assert f"http://localhost/verify/{code}" in html
    assert 'src="data:image/png;base64,' in html
    assert "<script>" not in html  # the print button's script is a file
    assert page.headers["Cache-Control"] == "no-store"

    me = api.client.get("/me").text
    assert 'href="/me/certificate"' in me
    attempt_id = api.get("/api/v1/me/attempts").get_json()["attempts"][0]["id"]
    result = api.client.get(f"/quiz/{attempt_id}/result").text
    assert 'href="/me/certificate"' in result

    api.post("/api/v1/auth/logout")
    public = api.client.get(f"/verify/{code}")
    assert public.status_code == 200
    assert "张*明" in public.text and "张三明" not in public.text
    assert "路南区" in public.text and "优秀" in public.text
    assert finished.phone not in public.text


def test_favicon_is_served_and_linked(client):
    with client.get("/favicon.ico") as r:
        assert r.status_code == 200
        assert r.data[:4] == b"\x00\x00\x01\x00"  # ICO header
    with client.get("/static/favicon.ico") as r:
        assert r.status_code == 200
    assert 'rel="icon"' in client.get("/").text
