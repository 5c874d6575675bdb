"""An organizer corrects a key while a citizen's attempt is open (1280 px
desktop next to a 360 px phone): the open attempt keeps its revision; after
the citizen submits, the regrade count and the regrade change exactly that
attempt's score."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Attempt, AttemptAnswer, Question
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def desktop_page(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN"
    )
    page = context.new_page()
    yield page
    context.close()


def log_in(page, base, user):
    page.goto(base + "/login")
    page.fill("#phone", user.phone)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def open_item(app, user_id):
    """(position, ext id, revision id, shown key of the old answer, old
    answer, another original letter) of a single-choice item."""
    with app.app_context():
        attempt = db.session.scalar(
            select(Attempt).where(
                Attempt.user_id == user_id, Attempt.finished_at.is_(None)
            )
        )
        for ans, rev in svc.attempt_items(attempt):
            if rev.type == "single":
                other = next(k for k in "ABCD" if k != rev.answer)
                shown = svc.to_display(ans.option_order, rev.answer)[0]
                return (
                    ans.position,
                    ans.question.ext_id,
                    rev.id,
                    shown,
                    attempt.id,
                    other,
                )
    raise AssertionError("no single-choice item drawn")


def test_key_fix_during_an_open_attempt_then_regrade(
    app, live_server, phone_page, desktop_page, shot, make_open_contest, make_user
):
    contest = make_open_contest(title="2023年唐山市公民科学素质知识网络竞赛")
    citizen = make_user(name="王小丽")
    organizer = make_user(role="organizer", name="李组织", phone="13800000001")

    phone = phone_page
    log_in(phone, live_server, citizen)
    phone.goto(live_server + "/")
    phone.click("text=开始答题")
    phone.wait_for_selector("#timerbar")
    position, ext_id, old_rev_id, shown, attempt_id, new_key = open_item(
        app, citizen.id
    )
    item = phone.locator(f"#q{position}")
    stem = item.locator(".stem").text_content()
    item.locator(f"label.option:has(input[value={shown}])").click()
    item.locator(".save-state", has_text="已保存").wait_for()

    # The organizer corrects the key: a new revision by 李组织.
    desk = desktop_page
    log_in(desk, live_server, organizer)
    desk.goto(f"{live_server}/admin/questions/{ext_id}")
    assert desk.text_content("#revision") == "1"
    shot(desk, "bank-question-1280")
    desk.fill("#answer", new_key)
    desk.click("#edit-form button[type=submit]")
    assert "已保存为第 2 版" in desk.text_content(".flash")
    assert desk.text_content("#revision") == "2"
    assert "李组织" in desk.text_content("#history")
    shot(desk, "bank-question-edited-1280")

    # The citizen's open attempt keeps revision 1: same stem, same choice.
    phone.reload()
    item = phone.locator(f"#q{position}")
    assert item.locator(".stem").text_content() == stem
    assert item.locator(f"input[value={shown}]").is_checked()
    with app.app_context():
        kept = db.session.scalar(
            select(AttemptAnswer.revision_id).where(
                AttemptAnswer.attempt_id == attempt_id,
                AttemptAnswer.position == position,
            )
        )
        assert kept == old_rev_id
    phone.once("dialog", lambda d: d.accept())
    phone.click("#submit-button")
    phone.wait_for_selector("text=答题回顾")
    with app.app_context():
        before = db.session.get(Attempt, attempt_id).score
        points = contest.points_per_question
    assert before >= points  # the one item answered was right under revision 1

    # Dry-run count first, then the regrade: exactly that score changes.
    desk.goto(f"{live_server}/admin/questions/{ext_id}")
    desk.select_option("#regrade-contest", str(contest.id))
    desk.click("#regrade-check")
    assert "有 1 份已交卷的答卷" in desk.text_content("#regrade-count")
    shot(desk, "bank-regrade-confirm-1280")
    desk.click("#regrade-run")
    assert "1 份答卷按当前答案重新评分，其中 1 份分数有变化" in desk.text_content(
        ".flash"
    )
    with app.app_context():
        assert db.session.get(Attempt, attempt_id).score == before - points
        q = db.session.scalar(select(Question).where(Question.ext_id == ext_id))
        assert q.revision == 2


def test_bank_pages_at_desktop_and_phone_width(
    live_server, desktop_page, phone_page, shot, make_bank, make_contest, make_user
):
    make_bank()
    make_contest(category_quotas={"health": 3})
    organizer = make_user(role="organizer", name="李组织")
    desk = desktop_page
    log_in(desk, live_server, organizer)
    desk.goto(live_server + "/admin/questions")
    assert desk.text_content("#total") == "42"
    shot(desk, "bank-list-1280")
    desk.fill("input[name=q]", "safety")
    desk.select_option("select[name=type]", "judge")
    desk.click(".filters button[type=submit]")
    assert desk.text_content("#total") == "4"
    shot(desk, "bank-list-filtered-1280")
    desk.click("text=新增题目")
    desk.fill("#ext_id", "health-001")
    desk.fill("#stem", "测试题干")
    desk.fill("#option_a", "甲")
    desk.fill("#answer", "C")
    desk.click("form.question-form button[type=submit]")
    assert desk.locator(".field.has-error").count() >= 1
    shot(desk, "bank-new-errors-1280")
    desk.goto(live_server + "/admin/categories")
    shot(desk, "bank-categories-1280")
    log_in(phone_page, live_server, organizer)
    phone_page.goto(live_server + "/admin/questions/health-007/preview")
    assert phone_page.locator("label.option").count() == 5
    shot(phone_page, "bank-preview-360")
    phone_page.goto(live_server + "/admin/questions")
    shot(phone_page, "bank-list-360")
