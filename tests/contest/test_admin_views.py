"""Organizer pages through the client: home, contest list, create, clone, edit
under the freezing rules, disqualify; roles and CSRF."""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Attempt, AuditEvent, Contest
from tests.auth.test_views import csrf_from

GRACE = 5


@pytest.fixture
def organizer_client(client, api, make_user, make_bank):
    make_bank()
    api.login(make_user(role="organizer", name="组织者"))
    return client


def form_of(html: str) -> dict[str, str]:
    """The posted values of the page's contest form (enabled inputs only)."""
    data = {"csrf_token": csrf_from(html)}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or "disabled" in tag or name.group(1) == "csrf_token":
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S
    ):
        data[name] = body.strip()
    if 'name="multiple_scoring"' in html and "disabled" not in re.search(
        r'<select[^>]*name="multiple_scoring"[^>]*>', html
    ).group(0):
        data["multiple_scoring"] = "exact"
    return data


def error_next_to(html: str, field: str) -> str:
    """The error text inside the field's own wrapper."""
    block = re.search(
        r'<div class="field has-error[^"]*">\s*<label for="'
        + re.escape(field)
        + r'".*?</div>',
        html,
        re.S,
    )
    assert block, f"no error next to {field}"
    return " ".join(re.findall(r'<p class="error">(.*?)</p>', block.group(0)))


def test_create_with_a_short_category_then_fix(organizer_client, app):
    html = organizer_client.get("/admin/contests/new").get_data(as_text=True)
    data = form_of(html)
    assert data["single"] == "10" and data["points"] == "5"
    data.update(title="2024 竞赛", single="4", multiple="3", judge="3")
    data["quota_health"] = "15"
    r = organizer_client.post("/admin/contests/new", data=data)
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "分类配额之和不能超过" in page
    data["quota_health"] = "9"
    data["single"] = "30"
    r = organizer_client.post("/admin/contests/new", data=data)
    assert r.status_code == 422
    assert "题型 single" in error_next_to(r.get_data(as_text=True), "single")
    with app.app_context():
        assert db.session.scalar(select(Contest.id)) is None
    data["single"] = "4"
    r = organizer_client.post("/admin/contests/new", data=data)
    assert r.status_code == 422  # 80 is above the full score of 50
    assert "0 到 50" in error_next_to(r.get_data(as_text=True), "excellent_min")
    data["excellent_min"] = "40"
    r = organizer_client.post("/admin/contests/new", data=data)
    assert r.status_code == 302
    with app.app_context():
        c = db.session.scalar(select(Contest))
        assert c.title == "2024 竞赛" and c.category_quotas == {"health": 9}
        assert c.questions_per_attempt == 10 and c.starts_at.hour == 16  # 00:00 +8
        assert db.session.scalar(
            select(AuditEvent.id).where(AuditEvent.action == "contest_create")
        )
    listing = organizer_client.get("/admin/contests").get_data(as_text=True)
    assert "2024 竞赛" in listing and "未开始（1）" in listing


def test_category_shortage_shows_next_to_its_quota(client, api, make_user, make_bank):
    make_bank(per_type=(2, 1, 1))
    api.login(make_user(role="admin"))
    data = form_of(client.get("/admin/contests/new").get_data(as_text=True))
    data.update(title="配额", single="4", multiple="3", judge="3", quota_safety="5")
    data["excellent_min"] = "40"
    r = client.post("/admin/contests/new", data=data)
    assert r.status_code == 422
    assert "分类 safety 需要 5 题" in error_next_to(
        r.get_data(as_text=True), "quota_safety"
    )


def test_clone_prefills_rules_with_a_new_window(organizer_client, make_contest):
    src = make_contest(title="原竞赛", attempts_per_day=2, time_limit_s=600)
    html = organizer_client.get(f"/admin/contests/new?clone={src.id}").get_data(
        as_text=True
    )
    data = form_of(html)
    assert data["title"] == "原竞赛（副本）"
    assert (data["single"], data["time_limit_s"], data["attempts_per_day"]) == (
        "4",
        "600",
        "2",
    )
    assert data["starts_at"].endswith("T00:00")
    assert organizer_client.get("/admin/contests/new?clone=999").status_code == 404


@pytest.fixture
def running(app, make_open_contest, make_user):
    contest = make_open_contest(days=3)
    citizen = make_user(name="王答题")
    with app.app_context():
        c = db.session.get(Contest, contest.id)
        attempt, _ = svc.start_attempt(
            citizen, c, now=utcnow(), grace_s=GRACE, rng=random.Random(1)
        )
        svc.submit_attempt(attempt.id, citizen, now=utcnow(), grace_s=GRACE)
    return contest, citizen, attempt.id


def test_edit_a_running_contest(client, api, make_user, running, app):
    contest, _, _ = running
    api.login(make_user(role="organizer"))
    url = f"/admin/contests/{contest.id}/edit"
    html = client.get(url).get_data(as_text=True)
    assert "已有人开始答题" in html
    assert re.search(r'<input[^>]*disabled[^>]*name="points"', html)
    assert not re.search(r'<input[^>]*disabled[^>]*name="ends_at"', html)
    data = form_of(html)
    assert "points" not in data and "single" not in data  # disabled: not posted
    later = (contest.ends_at + timedelta(days=2)).astimezone()
    data["ends_at"] = later.strftime("%Y-%m-%dT%H:%M")
    data["title"] = "延长后的竞赛"
    data["description"] = "第一行\n第二行"
    r = client.post(url, data=data)
    assert r.status_code == 302, r.get_data(as_text=True)
    with app.app_context():
        c = db.session.get(Contest, contest.id)
        assert c.title == "延长后的竞赛" and c.ends_at > contest.ends_at
        assert c.points_per_question == contest.points_per_question
        assert c.starts_at == contest.starts_at  # kept to the microsecond
        event = db.session.scalar(
            select(AuditEvent.object).where(AuditEvent.action == "contest_edit")
        )
        assert "ends_at" in event and "starts_at" not in event
    # The citizen home page shows the organizer's text.
    home = client.get("/").get_data(as_text=True)
    assert "延长后的竞赛" in home and "第一行\n第二行" in home
    # A page opened before the first start may still post a frozen rule: 409.
    data = form_of(client.get(url).get_data(as_text=True))
    data["points"] = "7"
    r = client.post(url, data=data)
    assert r.status_code == 409
    assert "已有人开始答题" in error_next_to(r.get_data(as_text=True), "points")
    data.pop("points")
    data["ends_at"] = "2000-01-01T00:00"
    r = client.post(url, data=data)
    assert r.status_code == 422
    assert error_next_to(r.get_data(as_text=True), "ends_at")


def test_disqualify_from_the_attempts_page(client, api, make_user, running, app):
    contest, citizen, attempt_id = running
    organizer = make_user(role="organizer")
    api.login(organizer)
    url = f"/admin/contests/{contest.id}/attempts"
    html = client.get(url, query_string={"q": citizen.phone}).get_data(as_text=True)
    assert f"<td>{attempt_id}</td>" in html and "王答题" in html
    table = html[html.index("<table") :]
    assert citizen.phone not in table and citizen.phone[:3] + "****" in table
    by_id = client.get(url, query_string={"q": str(attempt_id)}).get_data(as_text=True)
    assert "取消此次成绩" in by_id
    token = csrf_from(html)
    post = f"/admin/attempts/{attempt_id}/disqualify"
    r = client.post(post, data={"csrf_token": token, "reason": "  "})
    assert r.status_code == 422
    assert "请填写取消成绩的原因" in error_next_to(
        r.get_data(as_text=True), f"reason-{attempt_id}"
    )
    r = client.post(post, data={"reason": "代答"})  # no CSRF token
    assert r.status_code == 400
    with app.app_context():
        assert db.session.get(Attempt, attempt_id).disqualified_at is None
    r = client.post(post, data={"csrf_token": token, "reason": "代答"})
    assert r.status_code == 302
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "已取消该次成绩" in page and "已取消：代答" in page
    # The citizen sees why, on /me and on the result page.
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    api.login(citizen)
    me = client.get("/me").get_data(as_text=True)
    assert "不计入成绩：代答" in me and "还没有完成的答题" in me
    result = client.get(f"/quiz/{attempt_id}/result").get_data(as_text=True)
    assert "不计入成绩：代答" in result


def test_home_shows_the_current_contest_and_today(client, api, make_user, running):
    contest, _, _ = running
    api.login(make_user(role="admin"))
    html = client.get("/admin/").get_data(as_text=True)
    assert "测试竞赛" in html and "进行中" in html
    assert re.search(r"<dt>开始答题</dt><dd>1</dd>", html)
    assert re.search(r"<dt>完成答题</dt><dd>1</dd>", html)
    assert re.search(r"<dt>参与人数</dt><dd>1</dd>", html)
    for link in ("/admin/questions", "/admin/categories", "/admin/contests"):
        assert f'href="{link}"' in html


PAGES = [
    ("get", "/admin/"),
    ("get", "/admin/contests"),
    ("get", "/admin/contests/new"),
    ("post", "/admin/contests/new"),
    ("get", "/admin/contests/1/edit"),
    ("post", "/admin/contests/1/edit"),
    ("get", "/admin/contests/1/attempts"),
    ("post", "/admin/attempts/1/disqualify"),
]


@pytest.mark.parametrize("method, path", PAGES)
@pytest.mark.parametrize("role", ["citizen", "staff"])
def test_citizens_and_staff_get_403(client, api, make_user, role, method, path):
    api.login(make_user(role=role))
    token = csrf_from(client.get("/").get_data(as_text=True))
    r = getattr(client, method)(path, data={"csrf_token": token})
    assert r.status_code == 403


@pytest.mark.parametrize("method, path", PAGES)
def test_anonymous_goes_to_login(client, method, path):
    if method == "post":
        return  # CSRF answers first (400) for a stranger's post
    r = client.get(path)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_unknown_ids_are_404(client, api, make_user):
    api.login(make_user(role="organizer"))
    assert client.get("/admin/contests/999/edit").status_code == 404
    assert client.get("/admin/contests/999/attempts").status_code == 404
    assert client.get("/admin/contests/99999999999/edit").status_code == 404


def test_edit_page_warns_when_the_bank_shrank(client, api, make_user, running, app):
    """Retired questions can leave a running contest's rules unfillable: the
    edit page says which type is short, next to its input."""
    from quiz_app.bank.services import set_active

    contest, _, _ = running
    with app.app_context():
        for n in range(11, 15):  # every judge question of health
            set_active(f"health-{n:03d}", False, now=utcnow())
        for cat in ("safety", "science"):
            for n in range(11, 15):
                set_active(f"{cat}-{n:03d}", False, now=utcnow())
        svc.clear_pool_cache()
    api.login(make_user(role="organizer"))
    html = client.get(f"/admin/contests/{contest.id}/edit").get_data(as_text=True)
    assert "题型 judge 需要 3 题，题库中可用的只有 0 题" in error_next_to(html, "judge")
