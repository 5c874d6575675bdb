"""Every staff figure against a hand-built contest: best-attempt selection,
the contest time zone's day boundary, the rollup and its unfolded tail,
region scoping on every endpoint, the prize list's tie order and flags."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import openpyxl
import pytest
from sqlalchemy import func, select, update

from quiz_app.clock import utcnow
from quiz_app.extensions import db
from quiz_app.models import (
    Attempt,
    AuditEvent,
    Contest,
    Question,
    Region,
    StatsCursor,
    StatsPending,
    User,
)
from quiz_app.stats import rollup
from quiz_app.stats import services as stats

from .scene import add_attempt, local


@pytest.fixture
def world(app, make_bank, make_contest, make_user):
    """Contest 2023-09-17..19 (local), 10 questions x 10 points.

    lunan:  A  80 (starts 17th 23:58, finishes 18th 00:03), then 90 in 200 s
            B  100 in 400 s, then 100 in 100 s (the shorter one is the best)
            F  100 but disqualified: finished, nobody's best
            H  90 in 200 s finishing with A's second: a full tie with A
    qianan: C  100 in 50 s (too fast: flagged)
            D  one attempt still open (registered 18th 00:10 local)
            E  registered 19th 23:30 local, never played
    """
    make_bank()
    contest = make_contest(
        starts_at=local(17, 0), ends_at=local(20, 0), title="唐山科普竞赛"
    )
    people = {
        key: make_user(region=region, name=name)
        for key, region, name in [
            ("A", "lunan", "张一"),
            ("B", "lunan", "王二"),
            ("C", "qianan", "李三"),
            ("D", "qianan", "赵四"),
            ("E", "qianan", "钱五"),
            ("F", "lunan", "孙六"),
            ("H", "lunan", "周八"),
        ]
    }
    with app.app_context():
        c = db.session.get(Contest, contest.id)
        health, safety = (
            db.session.scalars(
                select(Question).where(Question.category_code == cat).limit(1)
            ).one()
            for cat in ("health", "safety")
        )
        created = {k: datetime(2023, 9, 10, tzinfo=UTC) for k in people}
        created["D"] = local(18, 0, 10)  # the 17th in UTC, the 18th locally
        created["E"] = local(19, 23, 30)
        for key, user in people.items():
            db.session.execute(
                update(User)
                .where(User.id == user.id)
                .values(
                    created_at=created[key],
                    signup_net="n1" if key in "ABEFH" else f"net-{key}",
                )
            )

        def add(key, start, seconds, score, answers, *, finish=True, dq=False):
            return add_attempt(
                c,
                people[key].id,
                start,
                seconds,
                score,
                answers,
                [health, safety],
                finish=finish,
                dq=dq,
            )

        add("A", local(17, 23, 58), 300, 80, (True, False))
        add("A", local(18, 10), 200, 90, (True, True))
        add("B", local(18, 9), 400, 100, (True, False))
        add("B", local(18, 11), 100, 100, (True, True))
        add("C", local(19, 8), 50, 100, (False, False))
        add("D", local(19, 9), 0, 0, (True, True), finish=False)
        add("F", local(19, 10), 120, 100, (True, True), dq=True)
        add("H", local(18, 10), 200, 90, (False, True))
        db.session.get(Region, "lunan").population = 100_000
        db.session.commit()
    return contest, people


def figures(app, contest_id: int, fn, *args, **kw):
    with app.app_context():
        c = db.session.get(Contest, contest_id)
        return fn(c, *args, now=utcnow(), **kw)


def region(app, code):
    with app.app_context():
        r = db.session.get(Region, code)
        db.session.expunge(r)
        return r


LUNAN = {
    "registered": 4,
    "participants": 4,
    "attempts": 6,
    "finished": 6,
    "scored": 3,
    "avg_best_score": 93.3,
    "full_score": 1,
    "full_score_rate": 0.3333,
    "population": 100_000,
    "per_10k": 0.4,
}
QIANAN = {
    "registered": 3,
    "participants": 2,
    "attempts": 2,
    "finished": 1,
    "scored": 1,
    "avg_best_score": 100.0,
    "full_score": 1,
    "full_score_rate": 1.0,
    "population": None,
    "per_10k": None,
}
CITY = {
    "registered": 7,
    "participants": 6,
    "attempts": 8,
    "finished": 7,
    "scored": 4,
    "avg_best_score": 95.0,
    "full_score": 2,
    "full_score_rate": 0.5,
}
DAILY = [
    # A's first attempt starts on the 17th and finishes on the 18th
    {"date": "2023-09-17", "participants": 1, "attempts": 1, "finished": 0},
    {"date": "2023-09-18", "participants": 3, "attempts": 4, "finished": 5},
    {"date": "2023-09-19", "participants": 3, "attempts": 3, "finished": 2},
]


def test_region_figures(app, world):
    contest, _ = world
    with app.app_context():
        regions = [db.session.get(Region, c) for c in ("lunan", "qianan", "gaoxin")]
        rows = stats.region_rows(
            db.session.get(Contest, contest.id), regions, now=utcnow()
        )
    by_code = {r["code"]: r for r in rows}
    assert {k: by_code["lunan"][k] for k in LUNAN} == LUNAN
    assert {k: by_code["qianan"][k] for k in QIANAN} == QIANAN
    assert by_code["gaoxin"]["participants"] == 0
    assert by_code["gaoxin"]["avg_best_score"] is None
    assert by_code["gaoxin"]["full_score_rate"] is None


def test_city_summary_and_days(app, world):
    contest, _ = world
    s = figures(app, contest.id, stats.summary, None)
    assert {k: s["city"][k] for k in CITY} == CITY
    days = figures(app, contest.id, stats.daily, None)
    assert [{k: d[k] for k in DAILY[0]} for d in days] == DAILY
    # D registered at 00:10 on the 18th in Tangshan (the 17th in UTC)
    assert [d["new_registrations"] for d in days] == [0, 1, 1]
    qianan = figures(app, contest.id, stats.daily, region(app, "qianan"))
    assert [(d["participants"], d["attempts"], d["finished"]) for d in qianan] == [
        (0, 0, 0),
        (0, 0, 0),
        (2, 2, 1),
    ]


def test_scores_and_categories(app, world):
    contest, _ = world
    hist = figures(app, contest.id, stats.scores, None)
    assert [h["score"] for h in hist] == list(range(0, 101, 10))
    assert {h["score"]: h["citizens"] for h in hist if h["citizens"]} == {
        90: 2,
        100: 2,
    }
    cats = figures(app, contest.id, stats.categories, None)
    assert [(c["category"], c["answered"], c["correct_rate"]) for c in cats] == [
        ("health", 7, 0.7143),
        ("safety", 7, 0.5714),
    ]
    heat = figures(app, contest.id, stats.categories, None, by_region=True)
    assert {(h["region"], h["category"]): h["correct_rate"] for h in heat} == {
        ("lunan", "health"): 0.8333,
        ("lunan", "safety"): 0.6667,
        ("qianan", "health"): 0.0,
        ("qianan", "safety"): 0.0,
    }


def test_rollup_passes_the_open_attempt_and_folds_its_finish_later(app, world):
    """The refresh moves past D's open attempt (its start folded, the attempt
    remembered as pending) and folds the attempts after it; once D finishes
    its finish is folded too, also when refolded one attempt at a time."""
    contest, people = world
    figures(app, contest.id, stats.summary, None)
    with app.app_context():
        d_id = db.session.scalar(
            select(Attempt.id).where(Attempt.user_id == people["D"].id)
        )
        last = db.session.scalar(select(func.max(Attempt.id)))
        assert d_id < last
        assert rollup.cursor_position(rollup.contest_cursor(contest.id)) == last
        assert db.session.scalars(select(StatsPending.attempt_id)).all() == [d_id]
        db.session.execute(
            update(Attempt)
            .where(Attempt.id == d_id)
            .values(finished_at=local(19, 9, 15), finish_kind="expired", score=0)
        )
        db.session.commit()
    s = figures(app, contest.id, stats.summary, None)
    assert s["city"]["finished"] == CITY["finished"] + 1
    with app.app_context():
        assert rollup.pending_count(contest.id) == 0
        rollup.reset(contest.id)
        db.session.commit()
    saved = rollup.BATCH
    rollup.BATCH = 1
    try:
        with app.app_context():
            c = db.session.get(Contest, contest.id)
            assert rollup.refresh_all(c, now=utcnow()) == 8
    finally:
        rollup.BATCH = saved
    with app.app_context():
        assert rollup.cursor_position(rollup.contest_cursor(contest.id)) == last
    s = figures(app, contest.id, stats.summary, None)
    assert s["city"]["finished"] == CITY["finished"] + 1
    assert s["city"]["participants"] == CITY["participants"]
    cats = figures(app, contest.id, stats.categories, None)
    # D's answers were never scored (expired unmarked here): drawn, not correct
    assert [(c["answered"], c["correct_rate"]) for c in cats] == [
        (8, 0.625),
        (8, 0.5),
    ]


def test_winners_in_board_order_with_flags(app, world):
    contest, people = world
    rows = figures(app, contest.id, lambda c, now: stats.winners(c, None, limit=10))
    assert [r["name"] for r in rows] == ["李三", "王二", "张一", "周八"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["phone"] == people["C"].phone and rows[0]["score"] == 100
    assert rows[0]["flags"] == ["fast_full"]  # 50 s for a full score
    # four accounts of one network in an hour are not flagged yet
    assert all("shared_network" not in r["flags"] for r in rows)
    with app.app_context():
        db.session.execute(
            update(User)
            .where(User.id == people["E"].id)
            .values(created_at=datetime(2023, 9, 10, 0, 30, tzinfo=UTC))
        )
        db.session.commit()
    rows = figures(app, contest.id, lambda c, now: stats.winners(c, None, limit=10))
    assert ["shared_network" in r["flags"] for r in rows] == [False, True, True, True]
    lunan = region(app, "lunan")
    top = figures(app, contest.id, lambda c, now: stats.winners(c, lunan, limit=2))
    assert [(r["rank"], r["name"]) for r in top] == [(1, "王二"), (2, "张一")]


# ----------------------------------------------------------------------- API

ENDPOINTS = [
    "/api/v1/stats/regions",
    "/api/v1/stats/summary",
    "/api/v1/stats/daily",
    "/api/v1/stats/scores",
    "/api/v1/stats/categories",
    "/api/v1/stats/categories?by=region",
    "/api/v1/stats/winners",
]


def test_api_city_staff_figures(api, make_user, world):
    contest, _ = world
    api.login(make_user(role="staff"))
    rows = api.get(f"/api/v1/stats/regions?contest={contest.id}").get_json()
    assert len(rows) == 19
    lunan = next(r for r in rows if r["code"] == "lunan")
    assert {k: lunan[k] for k in LUNAN} == LUNAN
    one = api.get(f"/api/v1/stats/regions?contest={contest.id}&region=qianan")
    assert [r["code"] for r in one.get_json()] == ["qianan"]
    days = api.get(f"/api/v1/stats/daily?contest={contest.id}").get_json()
    assert [{k: d[k] for k in DAILY[0]} for d in days] == DAILY
    summary = api.get(f"/api/v1/stats/summary?contest={contest.id}").get_json()
    assert summary["city"]["avg_best_score"] == 95.0
    assert [c["id"] for c in summary["contests"]] == [contest.id]
    win = api.get(f"/api/v1/stats/winners?contest={contest.id}&limit=2").get_json()
    assert [w["name"] for w in win] == ["李三", "王二"]
    assert set(win[0]) >= {
        "name",
        "phone",
        "region",
        "score",
        "duration_ms",
        "finished_at",
        "attempt_id",
    }


def test_api_defaults_to_the_current_contest(api, make_user, world):
    """Without `contest=` the current contest (here the only one) is used."""
    api.login(make_user(role="staff"))
    rows = api.get("/api/v1/stats/regions").get_json()
    assert next(r for r in rows if r["code"] == "lunan")["attempts"] == 6


@pytest.mark.parametrize("path", ENDPOINTS)
def test_region_staff_never_see_another_region(api, app, make_user, world, path):
    contest, _ = world
    staff = make_user(role="staff", staff_region="qianan")
    api.login(staff)
    sep = "&" if "?" in path else "?"
    r = api.get(f"{path}{sep}contest={contest.id}&region=lunan")
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "forbidden_region"
    mine = api.get(f"{path}{sep}contest={contest.id}")
    assert mine.status_code == 200
    text = mine.get_data(as_text=True)
    for secret in ("路南区", "lunan", "张一", "王二", "周八"):
        assert secret not in text
    with app.app_context():
        denied = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "stats_denied")
        ).all()
        assert denied and denied[0].actor_id == staff.id


def test_region_staff_figures_are_their_own(api, make_user, world):
    contest, _ = world
    api.login(make_user(role="staff", staff_region="qianan"))
    rows = api.get(f"/api/v1/stats/regions?contest={contest.id}").get_json()
    assert [r["code"] for r in rows] == ["qianan"]
    assert {k: rows[0][k] for k in QIANAN} == QIANAN
    s = api.get(f"/api/v1/stats/summary?contest={contest.id}").get_json()
    assert s["region"]["participants"] == 2 and s["city"]["participants"] == 6
    win = api.get(f"/api/v1/stats/winners?contest={contest.id}").get_json()
    assert [w["name"] for w in win] == ["李三"]


@pytest.mark.parametrize(
    "query, status",
    [
        ("contest=abc", 400),
        ("contest=999999", 404),
        ("region=nowhere", 404),
        ("limit=0", 400),
        ("limit=5000", 400),
    ],
)
def test_api_bad_parameters(api, make_user, world, query, status):
    api.login(make_user(role="staff"))
    r = api.get(f"/api/v1/stats/winners?{query}")
    assert r.status_code == status
    assert "error" in r.get_json()


def test_api_roles(api, make_user, world):
    assert api.get("/api/v1/stats/daily").status_code == 401
    api.login(make_user())
    assert api.get("/api/v1/stats/daily").status_code == 403


def test_winners_api_is_audited(api, app, make_user, world):
    api.login(make_user(role="staff"))
    assert api.get("/api/v1/stats/winners").status_code == 200
    with app.app_context():
        ev = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "stats_identity_view")
        ).one()
        assert "winners" in ev.object


# --------------------------------------------------------------- pages, files


def test_region_staff_pages_and_exports_are_scoped(client, api, make_user, world):
    contest, _ = world
    api.login(make_user(role="staff", staff_region="qianan"))
    assert client.get(f"/staff/regions/lunan?contest={contest.id}").status_code == 403
    assert client.get("/staff/?region=lunan").status_code == 403
    assert client.get("/staff/winners?region=lunan").status_code == 403
    assert client.get("/staff/export/people.csv?region=lunan").status_code == 403
    page = client.get(f"/staff/regions/qianan?contest={contest.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "李三" in html and "张一" not in html
    people = client.get("/staff/export/people.csv").data.decode("utf-8-sig")
    assert "李三" in people and "张一" not in people
    assert "迁安市" in people and "路南区" not in people


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_winners_export_rows(client, api, app, make_user, world, fmt):
    contest, people = world
    api.login(make_user(role="staff"))
    r = client.get(f"/staff/export/winners.{fmt}?contest={contest.id}&limit=3")
    assert r.status_code == 200
    if fmt == "csv":
        table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    else:
        ws = openpyxl.load_workbook(io.BytesIO(r.data)).worksheets[0]
        table = [[v for v in row] for row in ws.iter_rows(values_only=True)]
    assert table[0][:2] == ["竞赛", "唐山科普竞赛"]
    assert table[1][:2] == ["范围", "全市"]
    header = table[4]
    assert header[:4] == ["名次", "姓名", "手机号", "区县"]
    body = table[5:]
    assert [row[1] for row in body] == ["李三", "王二", "张一"]
    assert body[0][2] == people["C"].phone
    with app.app_context():
        ev = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "stats_identity_view")
        ).one()
        assert "winners export" in ev.object


def test_county_page_search_and_audit(client, api, app, make_user, world):
    contest, _ = world
    api.login(make_user(role="staff", staff_region="lunan"))
    html = client.get("/staff/regions/lunan?q=王").get_data(as_text=True)
    assert "王二" in html and "张一" not in html
    with app.app_context():
        assert db.session.scalar(select(StatsCursor.name).limit(1)) is not None
        ev = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "stats_identity_view")
        ).one()
        assert "participants page" in ev.object and "region=lunan" in ev.object


def test_cli_refresh_and_reset_give_the_same_figures(app, world):
    contest, _ = world
    before = figures(app, contest.id, stats.summary, None)["city"]
    runner = app.test_cli_runner()
    out = runner.invoke(args=["stats", "refresh", "--reset"])
    assert out.exit_code == 0, out.output
    assert f"contest {contest.id}:" in out.output
    assert figures(app, contest.id, stats.summary, None)["city"] == before
    bad = runner.invoke(args=["stats", "refresh", "--contest", "999"])
    assert bad.exit_code != 0 and "no such contest" in bad.output


def test_far_behind_rollups_say_the_figures_are_incomplete(app, config, world):
    """Right after a bulk load the cursor is far behind: a read folds at most
    TAIL_LIMIT attempts itself and says the figures are not complete."""
    contest, _ = world
    config(STATS_REFRESH_S=10**6)
    with app.app_context():
        for name in (rollup.contest_cursor(contest.id), rollup.USERS_CURSOR):
            db.session.add(StatsCursor(name=name, position=0, updated_at=utcnow()))
        db.session.commit()
    saved = stats.TAIL_LIMIT
    stats.TAIL_LIMIT = 3
    try:
        s = figures(app, contest.id, stats.summary, None)
    finally:
        stats.TAIL_LIMIT = saved
    assert s["complete"] is False and s["city"]["attempts"] == 3
    s = figures(app, contest.id, stats.summary, None)
    assert s["complete"] is True and s["city"]["attempts"] == CITY["attempts"]


def test_registration_keeps_only_a_keyed_hash_of_the_network(api, app):
    from quiz_app.auth.services import network_hash

    r = api.post(
        "/api/v1/auth/register",
        {
            "phone": "13712345678",
            "name": "测试者",
            "region": "lunan",
            "password": "kexue-2023-pw",
            "public_ranking": True,
        },
    )
    assert r.status_code == 201
    with app.app_context():
        net = db.session.scalar(
            select(User.signup_net).where(User.phone == "13712345678")
        )
    assert net == network_hash("127.0.0.1", "test-secret") and len(net) == 16
    assert "127" not in net
    same = network_hash("10.1.2.3", "k"), network_hash("10.1.2.250", "k")
    assert same[0] == same[1] != network_hash("10.1.3.3", "k")
    assert network_hash("10.1.2.3", "other key") != same[0]
    v6 = network_hash("2001:db8:1:2::5", "k"), network_hash("2001:db8:1:2:ffff::1", "k")
    assert v6[0] == v6[1] != network_hash("2001:db8:1:3::5", "k")
    assert network_hash("not an address", "k") is None
