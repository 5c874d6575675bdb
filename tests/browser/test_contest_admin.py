"""An organizer at a 1280 px desktop: creates a contest with a short category
and fixes it, extends a running contest (the boards stay the same) and
cancels a result; the citizen then sees why on a 360 px phone."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Contest
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser
GRACE = 5


@pytest.fixture
def desk_page(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN"
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def scene(app, make_bank, make_contest, make_user):
    """A small bank (4 questions per category), a running contest where three
    citizens finished, and an organizer."""
    make_bank(per_type=(2, 1, 1))
    now = utcnow()
    contest = make_contest(
        title="2023年唐山市公民科学素质知识网络竞赛",
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=3),
        description="每人每天可答 3 次，取最好成绩。\n请独立作答。",
    )
    citizens = [
        make_user(name=n, phone=f"1361234567{i}", region="lunan")
        for i, n in enumerate(["王小丽", "李大明", "赵小红"])
    ]
    attempts = []
    with app.app_context():
        c = db.session.get(Contest, contest.id)
        for i, user in enumerate(citizens):
            attempt, _ = svc.start_attempt(
                user, c, now=now, grace_s=GRACE, rng=random.Random(i)
            )
            for ans, rev in svc.attempt_items(attempt)[: 10 - 2 * i]:
                shown = svc.to_display(ans.option_order, rev.answer)
                svc.save_answer(attempt.id, user, ans.position, shown, now=now)
            svc.submit_attempt(
                attempt.id, user, now=now + timedelta(seconds=60 + i), grace_s=GRACE
            )
            attempts.append(attempt.id)
    organizer = make_user(role="organizer", name="科协组织者", phone="13900009999")
    return contest, citizens, attempts, organizer


def log_in(page, base, phone):
    page.goto(base + "/login")
    page.fill("#phone", phone)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def board(page, base):
    r = page.request.get(base + "/api/v1/leaderboard?limit=10")
    return [(e["rank"], e["name"], e["score"]) for e in r.json()["entries"]]


def field_error(page, field_id):
    return page.locator(f".field.has-error:has(#{field_id}) .error").inner_text()


def test_organizer_creates_edits_and_cancels(
    live_server, desk_page, phone_page, shot, scene
):
    contest, citizens, attempts, organizer = scene
    page = desk_page
    log_in(page, live_server, organizer.phone)
    page.goto(live_server + "/admin/")
    assert "进行中" in page.text_content("main")
    assert page.locator(".figures dd").first.inner_text() == "3"
    shot(page, "admin-01-home")

    page.click(".admin-nav >> text=竞赛")
    assert "进行中（1）" in page.text_content("main")
    shot(page, "admin-02-contests")

    # Create from scratch, with one category quota the bank cannot fill.
    page.click("text=新建竞赛")
    page.fill("#title", "2024年科普知识竞赛")
    page.fill("#description", "第二届。")
    page.fill("#single", "4")
    page.fill("#multiple", "3")
    page.fill("#judge", "3")
    page.fill("#quota_safety", "5")
    page.fill("#excellent_min", "40")
    page.click("button:has-text('创建竞赛')")
    assert "分类 safety 需要 5 题" in field_error(page, "quota_safety")
    assert page.locator(".field.has-error").count() == 1
    shot(page, "admin-03-create-short-category")
    page.fill("#quota_safety", "4")
    page.click("button:has-text('创建竞赛')")
    assert "已创建竞赛" in page.text_content(".flash")
    assert "未开始（1）" in page.text_content("main")
    shot(page, "admin-04-created")

    # Extend the running contest by two days: the boards stay the same.
    before = board(page, live_server)
    assert [score for _, _, score in before] == [100, 80, 60]
    page.goto(live_server + f"/admin/contests/{contest.id}/edit")
    assert page.locator("#points").is_disabled()
    assert page.locator("#quota_safety").is_disabled()
    assert "已有人开始答题" in page.text_content("#points-note")
    assert page.locator("#ends_at").is_enabled()
    shot(page, "admin-05-edit-running")
    ends = page.input_value("#ends_at")
    day, clock = ends.split("T")
    later = (date.fromisoformat(day) + timedelta(days=2)).isoformat()
    page.fill("#ends_at", f"{later}T{clock}")
    page.click("button:has-text('保存')")
    assert "竞赛已保存" in page.text_content(".flash")
    assert later in page.text_content("table.contests")
    assert board(page, live_server) == before

    # Cancel the top result: the next citizen moves up.
    page.goto(live_server + f"/admin/contests/{contest.id}/attempts")
    page.fill("#q", citizens[0].phone)
    page.click("button:has-text('查找')")
    shot(page, "admin-06-attempts")
    page.click("button:has-text('取消此次成绩')")
    assert "请填写取消成绩的原因" in field_error(page, f"reason-{attempts[0]}")
    page.fill(f"#reason-{attempts[0]}", "经核实为他人代答")
    page.click("button:has-text('取消此次成绩')")
    assert "已取消该次成绩" in page.text_content(".flash")
    assert "已取消：经核实为他人代答" in page.text_content("table.board")
    shot(page, "admin-07-disqualified")
    assert [score for _, _, score in board(page, live_server)] == [80, 60]

    # The citizen, on a phone, sees that it does not count and why.
    phone = phone_page
    log_in(phone, live_server, citizens[0].phone)
    phone.goto(live_server + "/")
    assert "请独立作答" in phone.text_content("main")
    shot(phone, "citizen-01-home-description")
    phone.goto(live_server + "/me")
    assert "不计入成绩：经核实为他人代答" in phone.text_content("main")
    shot(phone, "citizen-02-me-cancelled")
    phone.goto(live_server + f"/quiz/{attempts[0]}/result")
    assert "不计入成绩：经核实为他人代答" in phone.text_content(".flash-error")
    shot(phone, "citizen-03-result-cancelled")
