"""Admin API of the question bank: roles, CSRF, 422 field errors, 409, regrade."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Attempt, AuditEvent, Contest, Question, User
from tests.bank.test_editing import BAD, GOOD

BASE = "/api/v1/admin/questions"


def patch(api, path, body):
    return api.client.patch(path, json=body, headers={"X-CSRFToken": api.token()})


@pytest.fixture
def organizer(api, make_user, make_bank):
    make_bank()
    user = make_user(role="organizer", name="李组织")
    api.login(user)
    return user


@pytest.mark.parametrize("role", ["citizen", "staff"])
def test_citizens_and_staff_get_403_everywhere(api, app, make_user, make_bank, role):
    make_bank()
    api.login(make_user(role=role))
    calls = [
        api.get(BASE),
        api.get(BASE + "/health-001"),
        api.post(BASE, GOOD),
        patch(api, BASE + "/health-001", {"answer": "C"}),
        api.post(BASE + "/health-001/regrade", {"contest_id": 1}),
        api.get(BASE + "/health-001/regrade?contest_id=1"),
    ]
    for r in calls:
        assert r.status_code == 403, r.get_json()
        assert r.get_json()["error"]["code"] == "forbidden"
    assert db_answer(app, "health-001") == "A"


def db_answer(app, ext_id):
    with app.app_context():
        q = db.session.scalar(select(Question).where(Question.ext_id == ext_id))
        return q.answer


def test_anonymous_gets_401(client, make_bank):
    make_bank()
    assert client.get(BASE).status_code == 401


def test_list_filters_search_and_pages(api, organizer):
    r = api.get(BASE + "?per_page=5")
    data = r.get_json()
    assert r.status_code == 200
    assert (data["total"], data["page"], data["pages"]) == (42, 1, 9)
    assert [q["id"] for q in data["items"]][:2] == ["health-001", "health-002"]
    q = data["items"][0]
    assert set(q) == {
        "id", "category", "type", "difficulty", "stem", "options", "answer",
        "explanation", "source", "group", "active", "revision",
    }  # fmt: skip
    judge = api.get(BASE + "?type=judge&category=safety").get_json()
    assert judge["total"] == 4
    assert all(i["answer"] in ("正确", "错误") for i in judge["items"])
    assert all(i["options"] == [] for i in judge["items"])
    assert api.get(BASE + "?q=science 第3题").get_json()["total"] == 1
    assert api.get(BASE + "?q=SAFETY-00").get_json()["total"] == 9
    assert api.get(BASE + "?q=100%").get_json()["total"] == 0
    assert api.get(BASE + "?page=9&per_page=5").get_json()["items"][-1]["id"] == (
        "science-014"
    )
    patch(api, BASE + "/health-001", {"active": False})
    assert api.get(BASE + "?active=false").get_json()["total"] == 1
    assert api.get(BASE + "?active=true").get_json()["total"] == 41


@pytest.mark.parametrize(
    "query, field",
    [
        ("type=essay", "type"),
        ("active=maybe", "active"),
        ("page=0", "page"),
        ("per_page=1000", "per_page"),
        ("difficulty=9", "difficulty"),
    ],
)
def test_bad_list_arguments_are_422(api, organizer, query, field):
    r = api.get(f"{BASE}?{query}")
    assert r.status_code == 422
    assert field in r.get_json()["error"]["fields"]


def test_create_get_and_409(api, organizer):
    r = api.post(BASE, GOOD)
    assert r.status_code == 201, r.get_json()
    q = r.get_json()
    assert (q["id"], q["revision"], q["answer"], q["group"]) == (
        "health-900",
        1,
        "B",
        None,
    )
    assert q["options"] == GOOD["options"]
    assert q["revisions"][0]["by"] == "李组织"
    again = api.post(BASE, GOOD)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "exists"
    got = api.get(BASE + "/health-900").get_json()
    assert got["stem"] == GOOD["stem"] and len(got["revisions"]) == 1
    assert api.get(BASE + "/nope-1").status_code == 404


@pytest.mark.parametrize("changes, field", BAD)
def test_create_refuses_what_the_import_refuses(api, organizer, changes, field):
    r = api.post(BASE, {**GOOD, **changes})
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [field]
    assert api.get(BASE + "/" + GOOD["id"]).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"options": "A,B"}, "options"),
        ({"difficulty": True}, "difficulty"),
        ({"stem": 5}, "stem"),
        ({"active": "no"}, "active"),
        ({"id": "health-999"}, "id"),
        ({"score": 1}, "score"),
    ],
)
def test_patch_refuses_wrong_json_types(api, organizer, body, field):
    r = patch(api, BASE + "/health-001", body)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["error"]["fields"]
    assert api.get(BASE + "/health-001").get_json()["revision"] == 1


def test_patch_key_adds_revision_in_place_does_not(api, organizer):
    r = patch(api, BASE + "/health-001", {"answer": "C"})
    assert r.status_code == 200, r.get_json()
    q = r.get_json()
    assert (q["answer"], q["revision"]) == ("C", 2)
    assert [v["number"] for v in q["revisions"]] == [2, 1]
    assert q["revisions"][0]["by"] == "李组织" and q["revisions"][1]["by"] is None
    q = patch(api, BASE + "/health-001", {"difficulty": 3, "group": "g1"}).get_json()
    assert (q["difficulty"], q["group"], q["revision"]) == (3, "g1", 2)
    q = patch(api, BASE + "/health-001", {"active": False}).get_json()
    assert q["active"] is False and q["revision"] == 2
    assert patch(api, BASE + "/nope", {"answer": "B"}).status_code == 404


def test_unsafe_requests_need_the_csrf_header(api, app, organizer):
    r = api.client.post(BASE, json=GOOD)
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "csrf_failed"
    r = api.client.patch(BASE + "/health-001", json={"answer": "C"})
    assert r.status_code == 400
    r = api.client.post(BASE + "/health-001/regrade", json={"contest_id": 1})
    assert r.status_code == 400
    assert db_answer(app, "health-001") == "A"


def test_bodies_must_be_objects(api, organizer):
    r = api.client.post(
        BASE,
        data="[]",
        headers={"X-CSRFToken": api.token(), "Content-Type": "application/json"},
    )
    assert r.status_code == 400


def test_regrade_counts_then_rescores(api, organizer, make_user, make_contest, app):
    with app.app_context():
        contest = make_contest(
            starts_at=utcnow() - timedelta(days=1), ends_at=utcnow() + timedelta(days=2)
        )
        citizen = make_user(name="王选手")
        c = db.session.get(Contest, contest.id)
        now = utcnow()
        attempt, _ = svc.start_attempt(
            db.session.get(User, citizen.id),
            c,
            now=now,
            grace_s=5,
            rng=random.Random(1),
        )
        items = svc.attempt_items(attempt)
        single = next(ans for ans, rev in items if rev.type == "single")
        ext_id = single.question.ext_id
        for ans, rev in items:
            shown = svc.to_display(ans.option_order, rev.answer)
            svc.save_answer(attempt.id, citizen, ans.position, shown, now=now)
        svc.submit_attempt(
            attempt.id, citizen, now=now + timedelta(seconds=30), grace_s=5
        )
        aid = attempt.id
        before = db.session.get(Attempt, aid).score
        db.session.remove()
    old = api.get(BASE + f"/{ext_id}").get_json()["answer"]
    new = "B" if old != "B" else "C"
    assert (
        api.get(BASE + f"/{ext_id}/regrade?contest_id={contest.id}").get_json()[
            "attempts_affected"
        ]
        == 0
    )
    patch(api, BASE + f"/{ext_id}", {"answer": new})
    preview = api.get(BASE + f"/{ext_id}/regrade?contest_id={contest.id}").get_json()
    assert preview == {
        "attempts_affected": 1,
        "attempts_skipped": 0,
        "revision": 2,
        "scores_changed": 1,  # the dry run says what the regrade below does
    }
    r = api.post(BASE + f"/{ext_id}/regrade", {"contest_id": contest.id})
    assert r.status_code == 200
    assert r.get_json() == {
        "attempts_rescored": 1,
        "scores_changed": 1,
        "attempts_skipped": 0,
    }
    with app.app_context():
        assert db.session.get(Attempt, aid).score == before - 10
        assert (
            db.session.scalars(
                select(AuditEvent.action).order_by(AuditEvent.id.desc())
            ).first()
            == "regrade"
        )
    bad = api.post(BASE + f"/{ext_id}/regrade", {"contest_id": "x"})
    assert bad.status_code == 422 and "contest_id" in bad.get_json()["error"]["fields"]
    assert api.post(BASE + f"/{ext_id}/regrade", {"contest_id": 999}).status_code == 404
