"""Staff at a 1280 px desktop: city staff open the dashboard (every chart
draws), sort the county table, open a county page and download its
participants as XLSX; county staff see their own county and cannot reach
another one."""

from __future__ import annotations

import io
import random
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select

from quiz_app.clock import utcnow
from quiz_app.extensions import db
from quiz_app.leaderboard.fallback import record_best
from quiz_app.models import Attempt, AttemptAnswer, Contest, Question, Region, User
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser
NAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "秀英", "志强", "丽娟", "海波", "桂兰", "晓明", "玉梅", "春生", "淑珍"]


@pytest.fixture
def desk(browser):
    def make():
        context = browser.new_context(
            viewport={"width": 1280, "height": 900},
            locale="zh-CN",
            accept_downloads=True,
        )
        return context, context.new_page()

    made = []

    def page():
        context, p = make()
        made.append(context)
        return p

    yield page
    for context in made:
        context.close()


@pytest.fixture
def city(app, make_bank, make_contest, make_user):
    """A running contest with a few citizens in every region, one to three
    finished attempts each over three days, and populations for most regions."""
    make_bank()
    now = utcnow()
    contest = make_contest(
        title="2023年唐山市公民科学素质知识网络竞赛",
        starts_at=now - timedelta(days=2, hours=12),
        ends_at=now + timedelta(days=4),
    )
    template = make_user(name="模板", phone="13700000000")
    rng = random.Random(2023)
    with app.app_context():
        c = db.session.get(Contest, contest.id)
        questions = {
            cat: db.session.scalars(
                select(Question).where(Question.category_code == cat).limit(3)
            ).all()
            for cat in ("health", "safety", "science")
        }
        pw_hash = db.session.get(User, template.id).password_hash
        regions = db.session.scalars(select(Region).order_by(Region.sort_order)).all()
        phone = 13800000000
        for i, region in enumerate(regions):
            if i % 6 != 5:
                region.population = 200_000 + 97_000 * ((i * 7) % 11)
            skill = {
                "health": 0.55 + 0.4 * rng.random(),
                "safety": 0.3 + 0.5 * rng.random(),
                "science": 0.4 + 0.5 * rng.random(),
            }
            for _ in range(3 + (i * 5) % 8):
                phone += 1
                user = User(
                    name=rng.choice(NAMES) + rng.choice(GIVEN),
                    phone=str(phone),
                    region_code=region.code,
                    password_hash=pw_hash,
                    public_ranking=True,
                    created_at=now - timedelta(days=rng.randint(0, 5), hours=2),
                )
                db.session.add(user)
                db.session.flush()
                for _ in range(rng.randint(1, 3)):
                    start = now - timedelta(
                        days=rng.randint(0, 2), hours=rng.randint(1, 10)
                    )
                    seconds = rng.randint(45, 800)
                    finished = start + timedelta(seconds=seconds)
                    picks = [
                        (q, rng.random() < skill[cat])
                        for cat, qs in questions.items()
                        for q in qs
                    ]
                    right = sum(ok for _, ok in picks)
                    score = min(100, round(right * 100 / len(picks) / 10) * 10)
                    a = Attempt(
                        user_id=user.id,
                        contest_id=c.id,
                        started_at=start,
                        deadline_at=start + timedelta(seconds=900),
                        finished_at=finished,
                        finish_kind="submitted",
                        score=score,
                        duration_ms=seconds * 1000,
                        rank_key=c.codec.encode(score, seconds * 1000, finished),
                    )
                    db.session.add(a)
                    db.session.flush()
                    for pos, (q, ok) in enumerate(picks, start=1):
                        db.session.add(
                            AttemptAnswer(
                                attempt_id=a.id,
                                position=pos,
                                question_id=q.id,
                                revision_id=q.current.id,
                                option_order="ABCD",
                                choices="A",
                                is_correct=ok,
                            )
                        )
                    db.session.flush()
                    record_best(a)
        db.session.commit()
    city_staff = make_user(role="staff", name="市科协", phone="13900000001")
    county_staff = make_user(
        role="staff", name="迁安科协", phone="13900000002", staff_region="qianan"
    )
    return contest, city_staff, county_staff


def log_in(page, base, phone):
    page.goto(base + "/login")
    page.fill("#phone", phone)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


CHARTS = ["chart-regions", "chart-daily", "chart-scores", "chart-heatmap"]


def drawn(page, chart_id: str) -> int:
    """Shapes ECharts drew into the chart's SVG (0 if it drew nothing)."""
    return page.evaluate(
        "id => document.querySelectorAll('#' + id + ' svg path, #' + id"
        " + ' svg rect').length",
        chart_id,
    )


def test_city_and_county_staff(app, live_server, desk, shot, city):
    contest, city_staff, county_staff = city
    page = desk()
    log_in(page, live_server, city_staff.phone)
    page.goto(live_server + "/staff/")
    assert "进行中" in page.text_content("main")
    for chart in CHARTS:
        page.wait_for_selector(f"#{chart} svg")
        assert drawn(page, chart) > 10, chart
    rows = page.locator("#region-table tbody tr")
    assert rows.count() == 19
    # Sort by participants, most first.
    page.click("#region-table thead th:nth-child(3) button")
    counts = [
        int(t)
        for t in page.locator("#region-table tbody td:nth-child(3)").all_inner_texts()
    ]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0
    shot(page, "staff-01-city-dashboard")

    page.click("#region-table a:has-text('迁安市')")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "迁安市"
    for chart in ("chart-daily", "chart-scores", "chart-categories"):
        page.wait_for_selector(f"#{chart} svg")
        assert drawn(page, chart) > 5, chart
    listed = page.locator("#people-table tbody tr").count()
    assert listed > 0
    shot(page, "staff-02-county-page")
    with page.expect_download() as info:
        page.click("#people .exports a:has-text('XLSX')")
    path = info.value.path()
    ws = openpyxl.load_workbook(io.BytesIO(Path(path).read_bytes())).worksheets[0]
    sheet = [list(r) for r in ws.iter_rows(values_only=True)]
    assert sheet[0][:2] == ["竞赛", contest.title]
    assert sheet[1][:2] == ["范围", "迁安市"]
    assert sheet[4][:3] == ["姓名", "手机号", "区县"]
    with app.app_context():
        expected = db.session.scalars(
            select(User.phone)
            .join(Attempt, Attempt.user_id == User.id)
            .where(User.region_code == "qianan", Attempt.contest_id == contest.id)
            .distinct()
        ).all()
    assert sorted(r[1] for r in sheet[5:]) == sorted(expected)
    assert {r[2] for r in sheet[5:]} == {"迁安市"}

    page.click(".admin-nav >> text=获奖名单")
    page.wait_for_load_state()
    assert page.locator("#winners-table tbody tr").count() == 50
    shot(page, "staff-03-winners")

    county = desk()
    log_in(county, live_server, county_staff.phone)
    county.goto(live_server + "/staff/")
    assert county.locator("h1").inner_text() == "参赛统计 · 迁安市"
    assert [
        t.strip() for t in county.locator("#region-table tbody th").all_inner_texts()
    ] == ["迁安市"]
    for chart in CHARTS:
        county.wait_for_selector(f"#{chart} svg")
        assert drawn(county, chart) > 5, chart
    assert "路南区" not in county.text_content("main")
    shot(county, "staff-04-county-staff-dashboard")
    r = county.goto(live_server + "/staff/regions/lunan")
    assert r.status == 403
    r = county.goto(live_server + "/staff/export/people.xlsx?region=lunan")
    assert r.status == 403
