"""Odd numbers in requests (non-ASCII digits, ids beyond 64 bits) are a 4xx."""

from __future__ import annotations

import pytest

from quiz_app.auth.services import session_principal
from quiz_app.params import MAX_DB_INT, parse_int
from tests.auth.test_views import csrf_from

HUGE = str(2**64 + 1)  # beyond SQLite's INTEGER: the driver used to overflow


@pytest.fixture
def contest(make_open_contest):
    return make_open_contest()


def start(api, make_user):
    api.login(make_user())
    r = api.post("/api/v1/attempts", {})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def assert_json_error(r, status):
    assert r.status_code == status, r.get_data(as_text=True)
    error = r.get_json()["error"]
    assert error["code"] and error["message"]


@pytest.mark.parametrize("raw", ["²", "1²", "١٠", "-1", "0", "101", " 5", "5.0", HUGE])
def test_leaderboard_limit_must_be_ascii_1_to_100(client, contest, raw):
    r = client.get("/api/v1/leaderboard", query_string={"limit": raw})
    assert_json_error(r, 400)
    assert r.get_json()["error"]["code"] == "bad_limit"


def test_leaderboard_limit_in_range_still_works(client, contest):
    r = client.get("/api/v1/leaderboard?limit=100")
    assert r.status_code == 200 and r.get_json()["entries"] == []


@pytest.mark.parametrize("raw", ["²", "12²", "٣", HUGE, "99999999999"])
def test_parse_int_takes_only_ascii_digits_in_range(raw):
    assert parse_int(raw, lo=0, hi=MAX_DB_INT) is None
    assert parse_int("42", lo=0, hi=MAX_DB_INT) == 42
    assert parse_int(str(MAX_DB_INT), lo=0, hi=MAX_DB_INT) == MAX_DB_INT


def test_session_claim_with_odd_digits_is_no_session():
    assert session_principal("²:token") is None
    assert session_principal(HUGE + ":token") is None
    assert session_principal("7:token").id == 7


@pytest.mark.parametrize("attempt_id", [HUGE, str(MAX_DB_INT + 1), "²"])
def test_api_attempt_ids_beyond_the_column_are_404(api, make_user, contest, attempt_id):
    attempt = start(api, make_user)
    base = f"/api/v1/attempts/{attempt_id}"
    assert_json_error(api.get(base), 404)
    assert_json_error(api.put(base + "/answers/1", {"choices": ["A"]}), 404)
    assert_json_error(api.post(base + "/submit"), 404)
    mine = f"/api/v1/attempts/{attempt['id']}"
    r = api.put(f"{mine}/answers/{HUGE}", {"choices": ["A"]})
    assert_json_error(r, 404)
    # Nothing changed: the attempt is still open with no answers.
    after = api.get(mine).get_json()
    assert after["status"] == "open" and after["answers"] == {}


@pytest.mark.parametrize("path", ["/quiz/{}", "/quiz/{}/result"])
def test_page_attempt_ids_beyond_the_column_are_404(
    api, client, make_user, contest, path
):
    start(api, make_user)
    r = client.get(path.format(HUGE))
    assert r.status_code == 404
    assert "页面不存在" in r.get_data(as_text=True)


def test_page_form_posts_with_huge_ids_are_404(api, client, make_user, contest):
    start(api, make_user)
    token = csrf_from(client.get("/").get_data(as_text=True))
    for action in ("save", "submit"):
        r = client.post(f"/quiz/{HUGE}/{action}", data={"csrf_token": token})
        assert r.status_code == 404


@pytest.mark.parametrize("cid", [2**64, 2**63, MAX_DB_INT + 1, 0, -5, 1.5, "1", True])
def test_contest_id_out_of_range_or_not_integer_is_422(api, make_user, contest, cid):
    api.login(make_user())
    r = api.post("/api/v1/attempts", {"contest_id": cid})
    assert_json_error(r, 422)
    assert api.get("/api/v1/me/attempts").get_json()["attempts"] == []


def test_unknown_contest_id_in_range_is_404(api, make_user, contest):
    api.login(make_user())
    assert_json_error(api.post("/api/v1/attempts", {"contest_id": MAX_DB_INT}), 404)


@pytest.mark.parametrize("version", [2**64, 2**63, MAX_DB_INT + 1, -1, 0.5, "0"])
def test_answer_version_out_of_range_is_422(api, make_user, contest, version):
    attempt = start(api, make_user)
    url = f"/api/v1/attempts/{attempt['id']}/answers/1"
    r = api.put(url, {"choices": ["A"], "version": version})
    assert_json_error(r, 422)
    assert api.get(f"/api/v1/attempts/{attempt['id']}").get_json()["answers"] == {}


@pytest.mark.parametrize("page", [HUGE, "²", "0", "-1", "abc"])
def test_bank_page_number_is_bounded(api, client, make_user, page):
    api.login(make_user(role="organizer"))
    r = client.get("/admin/questions", query_string={"page": page})
    assert r.status_code == 400
    assert "页码无效" in r.get_data(as_text=True)


def test_bank_page_number_in_range_still_works(api, client, make_user):
    api.login(make_user(role="organizer"))
    assert client.get("/admin/questions?page=2").status_code == 200
    assert client.get("/admin/questions").status_code == 200


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_leaderboard_day_at_the_calendar_edges_is_400_even_from_sql(
    client, contest, redis_server, day
):
    # With Redis stopped the board is computed in SQL, from the day's bounds
    # in UTC, which do not exist for the first and last days of the calendar.
    redis_server.stop()
    try:
        r = client.get("/api/v1/leaderboard", query_string={"scope": f"day:{day}"})
    finally:
        redis_server.start()
    assert_json_error(r, 400)
    assert r.get_json()["error"]["code"] == "bad_scope"


def test_leaderboard_day_in_the_contest_still_works(client, contest):
    r = client.get("/api/v1/leaderboard?scope=day:2023-09-18")
    assert r.status_code == 200 and r.get_json()["entries"] == []
