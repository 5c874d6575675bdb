"""The organizer and admin contest API: list, create, read, edit under the
freezing rules, disqualify; roles, CSRF and per-field errors."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Attempt, AuditEvent, Contest
from tests.conftest import Api

GRACE = 5


class AdminApi(Api):
    def patch(self, path, body):
        return self.client.patch(path, json=body, headers={"X-CSRFToken": self.token()})


@pytest.fixture
def admin_api(client):
    return AdminApi(client)


@pytest.fixture
def organizer(make_user):
    return make_user(role="organizer", name="组织者")


@pytest.fixture
def as_organizer(admin_api, organizer, make_bank):
    make_bank()
    admin_api.login(organizer)
    return admin_api


def iso(dt):
    return dt.isoformat()


def new_contest_body(**over):
    now = utcnow()
    body = {
        "title": "2024 科普竞赛",
        "description": "每人每天可答三次。",
        "starts_at": iso(now + timedelta(days=1)),
        "ends_at": iso(now + timedelta(days=8)),
        "time_limit_s": 600,
        "type_counts": {"single": 4, "multiple": 3, "judge": 3},
        "category_quotas": {"health": 2},
        "points": 10,
        "attempts_per_day": 2,
        "multiple_scoring": "exact",
        "certificate": {"excellent_min": 90},
    }
    body.update(over)
    return body


def test_create_read_list(as_organizer, app):
    r = as_organizer.post("/api/v1/admin/contests", new_contest_body())
    assert r.status_code == 201, r.get_json()
    c = r.get_json()
    assert set(c) == {
        "id", "title", "description", "starts_at", "ends_at", "time_limit_s",
        "questions_per_attempt", "type_counts", "category_quotas", "points",
        "attempts_per_day", "multiple_scoring", "certificate", "status", "frozen",
    }  # fmt: skip
    assert c["questions_per_attempt"] == 10 and c["points"] == 10
    assert c["certificate"] == {"excellent_min": 90}
    assert c["status"] == "upcoming" and c["frozen"] is False
    assert c["starts_at"].endswith("+08:00")
    assert as_organizer.get(f"/api/v1/admin/contests/{c['id']}").get_json() == c
    items = as_organizer.get("/api/v1/admin/contests").get_json()["items"]
    assert [i["id"] for i in items] == [c["id"]]
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "contest_create")
        )
        assert event.object.startswith(f"contest:{c['id']} ")


@pytest.mark.parametrize(
    "over, field",
    [
        ({"title": ""}, "title"),
        ({"title": 5}, "title"),
        ({"starts_at": "2023-09-17 00:00"}, "starts_at"),  # no offset
        ({"starts_at": "next monday"}, "starts_at"),
        ({"time_limit_s": 0}, "time_limit_s"),
        ({"time_limit_s": True}, "time_limit_s"),
        ({"points": "5"}, "points"),
        ({"attempts_per_day": 10**12}, "attempts_per_day"),
        ({"type_counts": {"single": -1}}, "type_counts"),
        ({"type_counts": {"essay": 3}}, "type_counts"),
        ({"type_counts": {"single": 150}}, "type_counts.single"),
        ({"category_quotas": {"cooking": 1}}, "category_quotas.cooking"),
        ({"category_quotas": ["health"]}, "category_quotas"),
        ({"multiple_scoring": "partial"}, "multiple_scoring"),
        ({"certificate": {"excellent_min": 101}}, "certificate.excellent_min"),
        ({"certificate": 80}, "certificate"),
        ({"questions_per_attempt": 20}, "questions_per_attempt"),
        ({"score": 100}, "score"),
    ],
)
def test_create_field_errors(as_organizer, app, over, field):
    r = as_organizer.post("/api/v1/admin/contests", new_contest_body(**over))
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "invalid" and error["message"]
    assert field in error["fields"], error
    with app.app_context():
        assert db.session.scalar(select(Contest.id)) is None


def test_a_short_category_is_named(admin_api, organizer, make_bank):
    make_bank(per_type=(2, 1, 1))  # 4 questions per category
    admin_api.login(organizer)
    body = new_contest_body(category_quotas={"health": 5, "safety": 4})
    r = admin_api.post("/api/v1/admin/contests", body)
    assert r.status_code == 422
    fields = r.get_json()["error"]["fields"]
    assert set(fields) == {"category_quotas.health"}
    assert "health" in fields["category_quotas.health"]
    body["category_quotas"] = {"health": 4}
    assert admin_api.post("/api/v1/admin/contests", body).status_code == 201


def test_window_and_missing_fields(as_organizer):
    now = utcnow()
    body = new_contest_body(ends_at=iso(now), starts_at=iso(now + timedelta(days=1)))
    r = as_organizer.post("/api/v1/admin/contests", body)
    assert r.status_code == 422 and "ends_at" in r.get_json()["error"]["fields"]
    r = as_organizer.post("/api/v1/admin/contests", {"title": "x"})
    assert set(r.get_json()["error"]["fields"]) >= {"starts_at", "ends_at"}
    r = as_organizer.client.post(
        "/api/v1/admin/contests",
        data="[]",
        content_type="application/json",
        headers={"X-CSRFToken": as_organizer.token()},
    )
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_json"


def test_edit_before_and_after_the_first_attempt(as_organizer, make_user, app):
    now = utcnow()
    body = new_contest_body(starts_at=iso(now - timedelta(hours=1)))
    cid = as_organizer.post("/api/v1/admin/contests", body).get_json()["id"]
    path = f"/api/v1/admin/contests/{cid}"
    r = as_organizer.patch(path, {"points": 5, "type_counts": {"single": 10}})
    assert r.status_code == 422  # 90 is above the new full score of 50
    assert "certificate.excellent_min" in r.get_json()["error"]["fields"]
    r = as_organizer.patch(
        path,
        {
            "points": 5,
            "type_counts": {"single": 10},
            "certificate": {"excellent_min": 45},
        },
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["questions_per_attempt"] == 10
    assert r.get_json()["points"] == 5
    # A citizen starts: scoring rules freeze.
    citizen = make_user(name="市民")
    with app.app_context():
        svc.start_attempt(citizen, db.session.get(Contest, cid), now=now, grace_s=GRACE)
    assert as_organizer.get(path).get_json()["frozen"] is True
    r = as_organizer.patch(path, {"points": 10, "title": "新标题"})
    assert r.status_code == 409
    error = r.get_json()["error"]
    assert error["code"] == "rule_frozen" and set(error["fields"]) == {"points"}
    assert as_organizer.get(path).get_json()["title"] == "2024 科普竞赛"
    # Same value is no change; live fields stay editable.
    later = now + timedelta(days=20)
    r = as_organizer.patch(
        path,
        {
            "points": 5,
            "title": "新标题",
            "ends_at": iso(later),
            "attempts_per_day": 5,
            "certificate": {"excellent_min": 40},
        },
    )
    assert r.status_code == 200, r.get_json()
    c = r.get_json()
    assert (c["title"], c["attempts_per_day"]) == ("新标题", 5)
    assert c["certificate"]["excellent_min"] == 40
    r = as_organizer.patch(path, {"ends_at": iso(now - timedelta(minutes=1))})
    assert r.status_code == 422 and "ends_at" in r.get_json()["error"]["fields"]
    r = as_organizer.patch(path, {"certificate": {"excellent_min": 51}})
    assert r.status_code == 422
    assert "certificate.excellent_min" in r.get_json()["error"]["fields"]
    with app.app_context():
        edits = db.session.scalars(
            select(AuditEvent.object).where(AuditEvent.action == "contest_edit")
        ).all()
    assert len(edits) == 2 and "ends_at" in edits[1]


def test_unknown_contest_and_attempt(as_organizer):
    assert as_organizer.get("/api/v1/admin/contests/999").status_code == 404
    r = as_organizer.patch("/api/v1/admin/contests/999", {"title": "x"})
    assert r.status_code == 404
    r = as_organizer.post("/api/v1/admin/attempts/999/disqualify", {"reason": "x"})
    assert r.status_code == 404
    big = "/api/v1/admin/contests/99999999999999999999"
    assert as_organizer.get(big).status_code == 404


@pytest.fixture
def finished_attempt(app, make_open_contest, make_user):
    contest = make_open_contest()
    citizen = make_user(name="王答题")
    with app.app_context():
        c = db.session.get(Contest, contest.id)
        attempt, _ = svc.start_attempt(
            citizen, c, now=utcnow(), grace_s=GRACE, rng=random.Random(1)
        )
        svc.submit_attempt(attempt.id, citizen, now=utcnow(), grace_s=GRACE)
        return attempt.id, citizen


def test_disqualify(admin_api, make_user, finished_attempt, app):
    attempt_id, citizen = finished_attempt
    admin = make_user(role="admin", name="管理员")
    admin_api.login(admin)
    path = f"/api/v1/admin/attempts/{attempt_id}/disqualify"
    r = admin_api.post(path, {"reason": ""})
    assert r.status_code == 422 and "reason" in r.get_json()["error"]["fields"]
    r = admin_api.post(path, {})
    assert r.status_code == 422 and "reason" in r.get_json()["error"]["fields"]
    r = admin_api.post(path, {"reason": "代答"})
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["changed"] is True and out["disqualified"]["reason"] == "代答"
    r = admin_api.post(path, {"reason": "代答"})
    assert r.status_code == 200 and r.get_json()["changed"] is False
    with app.app_context():
        assert db.session.get(Attempt, attempt_id).rank_key is None
    # The citizen sees it in the result object.
    admin_api.client.post(
        "/api/v1/auth/logout", headers={"X-CSRFToken": admin_api.token()}
    )
    admin_api.login(citizen)
    result = admin_api.get(f"/api/v1/attempts/{attempt_id}").get_json()["result"]
    assert result["disqualified"]["reason"] == "代答"
    assert admin_api.get("/api/v1/me/attempts").get_json()["best"] is None


def test_disqualify_an_open_attempt_is_409(
    admin_api, organizer, app, make_open_contest, make_user
):
    contest = make_open_contest()
    citizen = make_user(name="王答题")
    with app.app_context():
        attempt, _ = svc.start_attempt(
            citizen, db.session.get(Contest, contest.id), now=utcnow(), grace_s=GRACE
        )
        attempt_id = attempt.id
    admin_api.login(organizer)
    r = admin_api.post(
        f"/api/v1/admin/attempts/{attempt_id}/disqualify", {"reason": "代答"}
    )
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "attempt_open"


ENDPOINTS = [
    ("get", "/api/v1/admin/contests"),
    ("post", "/api/v1/admin/contests"),
    ("get", "/api/v1/admin/contests/1"),
    ("patch", "/api/v1/admin/contests/1"),
    ("post", "/api/v1/admin/attempts/1/disqualify"),
]


@pytest.mark.parametrize("method, path", ENDPOINTS)
@pytest.mark.parametrize("role", ["citizen", "staff"])
def test_citizens_and_staff_are_forbidden(admin_api, make_user, role, method, path):
    admin_api.login(make_user(role=role))
    r = (
        admin_api.get(path)
        if method == "get"
        else getattr(admin_api, method)(path, {"title": "x", "reason": "x"})
    )
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_anonymous_is_401(admin_api, method, path):
    r = admin_api.get(path) if method == "get" else getattr(admin_api, method)(path, {})
    assert r.status_code == 401


@pytest.mark.parametrize("method, path", [e for e in ENDPOINTS if e[0] != "get"])
def test_unsafe_requests_need_the_csrf_header(
    admin_api, organizer, finished_attempt, app, method, path
):
    admin_api.login(organizer)
    r = getattr(admin_api.client, method)(path, json={"title": "x", "reason": "x"})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "csrf_failed"
    r = getattr(admin_api.client, method)(
        path, json={"reason": "x"}, headers={"X-CSRFToken": "forged"}
    )
    assert r.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Attempt.disqualified_at)) is None
        assert (
            db.session.scalar(
                select(AuditEvent.id).where(
                    AuditEvent.action.in_(["contest_create", "disqualify"])
                )
            )
            is None
        )
