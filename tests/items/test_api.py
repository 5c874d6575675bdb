"""GET /api/v1/admin/contests/<id>/items and the organizer pages, through the
client: roles, filters, sorting, pages, and regrade/disqualification showing
in the figures."""

from __future__ import annotations

import math

import pytest

from quiz_app.extensions import db
from quiz_app.models import Attempt
from tests.conftest import Api

from .test_services import correct_key


def url(contest_id, query=""):
    return f"/api/v1/admin/contests/{contest_id}/items{query}"


@pytest.fixture
def organizer(api, make_user):
    user = make_user(role="organizer")
    api.login(user)
    return user


def by_id(body):
    return {(i["id"], i["revision"]): i for i in body["items"]}


def test_organizer_gets_the_hand_computed_figures(seeded, api, organizer):
    contest, _users, _ids, _now = seeded
    r = api.get(url(contest.id))
    assert r.status_code == 200
    body = r.get_json()
    assert body["discrimination_method"] == "corrected_point_biserial"
    assert body["attempts_counted"] == 6
    assert body["refreshed_at"].endswith("+08:00")  # ISO 8601 with an offset
    assert body["thresholds"]["min_exposures"] == 5
    assert body["thresholds"]["top_group_min_other_correct"] == 2
    items = by_id(body)
    q1 = items[("health-001", 1)]
    assert set(q1) >= {
        "id", "revision", "category", "type", "exposures", "answered",
        "facility", "discrimination", "options", "flags",
    }  # fmt: skip
    assert (q1["category"], q1["type"], q1["exposures"], q1["answered"]) == (
        "health",
        "single",
        6,
        6,
    )
    assert q1["facility"] == round(4 / 6, 4)
    assert q1["discrimination"] == round(2 / math.sqrt(40), 4)
    assert q1["options"] == {"A": 0.6667, "B": 0.1667, "C": 0.1667, "D": 0.0}
    q3 = items[("health-003", 1)]
    assert q3["discrimination"] == round(-10 / math.sqrt(232), 4)
    assert q3["flags"] == ["suspect_key"] and q3["key"] == ["C"]
    assert items[("health-002", 1)]["answered"] == 5


def test_filters_sort_and_pages(seeded, api, organizer):
    contest, *_ = seeded
    flagged = api.get(url(contest.id, "?flag=suspect_key")).get_json()
    assert [i["id"] for i in flagged["items"]] == ["health-003"]
    assert flagged["total"] == 1
    none = api.get(url(contest.id, "?category=safety")).get_json()
    assert none["items"] == [] and none["total"] == 0
    by_disc = api.get(url(contest.id, "?sort=-discrimination")).get_json()
    assert [i["id"] for i in by_disc["items"]] == [
        "health-001",
        "health-002",
        "health-003",
    ]
    asc = api.get(url(contest.id, "?sort=discrimination")).get_json()
    assert asc["items"][0]["id"] == "health-003"
    page2 = api.get(url(contest.id, "?per_page=2&page=2")).get_json()
    assert (page2["pages"], page2["page"], page2["total"]) == (2, 2, 3)
    assert [i["id"] for i in page2["items"]] == ["health-003"]


@pytest.mark.parametrize(
    "query, field",
    [
        ("?flag=nope", "flag"),
        ("?sort=stem", "sort"),
        ("?page=0", "page"),
        ("?per_page=999", "per_page"),
        ("?page=%C2%B2", "page"),
        ("?order=up", "order"),
    ],
)
def test_bad_parameters_are_422_with_the_field(seeded, api, organizer, query, field):
    contest, *_ = seeded
    r = api.get(url(contest.id, query))
    assert r.status_code == 422
    assert field in r.get_json()["error"]["fields"]


def test_roles_and_unknown_contest(seeded, app, make_user):
    contest, *_ = seeded
    assert app.test_client().get(url(contest.id)).status_code == 401
    for role in ("citizen", "staff"):
        api = Api(app.test_client())
        api.login(make_user(role=role))
        r = api.get(url(contest.id))
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
        assert api.get(f"/admin/contests/{contest.id}/items").status_code == 403
    api = Api(app.test_client())
    api.login(make_user(role="admin"))
    assert api.get(url(contest.id)).status_code == 200
    r = api.get(url(999999))
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_regrade_and_disqualification_show_after_refresh(seeded, app, api, organizer):
    contest, _users, ids, _now = seeded
    assert by_id(api.get(url(contest.id)).get_json())[("health-003", 1)]
    with app.app_context():
        correct_key("health-003", "D")
    dry = api.get(f"/api/v1/admin/questions/health-003/regrade?contest_id={contest.id}")
    assert dry.get_json()["scores_changed"] == 6
    r = api.post(
        "/api/v1/admin/questions/health-003/regrade", {"contest_id": contest.id}
    )
    assert r.status_code == 200, r.get_json()
    items = by_id(api.get(url(contest.id)).get_json())
    assert ("health-003", 1) not in items
    assert items[("health-003", 2)]["facility"] == round(2 / 6, 4)
    assert items[("health-003", 2)]["current_revision"] == 2
    r = api.post(f"/api/v1/admin/attempts/{ids[0]}/disqualify", {"reason": "代答"})
    assert r.status_code == 200
    body = api.get(url(contest.id)).get_json()
    assert body["attempts_counted"] == 5
    assert by_id(body)[("health-001", 1)]["exposures"] == 5
    with app.app_context():
        assert db.session.get(Attempt, ids[0]).disqualified_at is not None


def test_pages(seeded, app, client, organizer, api):
    contest, *_ = seeded
    page = client.get(f"/admin/contests/{contest.id}/items?flag=suspect_key")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "统计更新于" in html and "health-003" in html and "health-001" not in html
    sorted_page = client.get(f"/admin/contests/{contest.id}/items?sort=-facility")
    assert sorted_page.status_code == 200
    assert client.get(f"/admin/contests/{contest.id}/items?flag=x").status_code == 400
    assert client.get("/admin/contests/999999/items").status_code == 404
    q = client.get("/admin/questions/health-003").get_data(as_text=True)
    assert 'id="item-chart-data"' in q and "echarts.min.js" in q
    assert 'id="item-table-' in q and "✓ 正确答案" in q
    home = client.get("/admin/").get_data(as_text=True)
    assert f"/admin/contests/{contest.id}/items" in home
    listing = client.get("/admin/contests").get_data(as_text=True)
    assert f"/admin/contests/{contest.id}/items" in listing
    # A flagged item with a newer revision links to the regrade confirmation.
    regrade = f"/admin/questions/health-003/regrade?contest_id={contest.id}"
    assert regrade not in client.get(f"/admin/contests/{contest.id}/items").text
    with app.app_context():
        correct_key("health-003", "D")
    assert regrade in client.get(f"/admin/contests/{contest.id}/items").text
    confirm = client.get(regrade).get_data(as_text=True)
    assert 'id="regrade-changes">6<' in confirm and "确认重新评分" in confirm


def test_cli_refresh(seeded, app):
    contest, _users, ids, _now = seeded
    runner = app.test_cli_runner()
    out = runner.invoke(args=["items", "refresh", "--contest", str(contest.id)])
    assert out.exit_code == 0, out.output
    assert "6 attempts added, 6 counted" in out.output
    again = runner.invoke(args=["items", "refresh", "--contest", str(contest.id)])
    assert "0 attempts added, 6 counted" in again.output
    full = runner.invoke(args=["items", "refresh", "--full"])
    assert (
        f"contest {contest.id}: rebuilt" in full.output and "6 counted" in full.output
    )
    missing = runner.invoke(args=["items", "refresh", "--contest", "999999"])
    assert missing.exit_code != 0 and "no such contest" in missing.output
