"""Autosave on a phone: quick taps on one question end with the last tap saved
and scored; a stale second tab is still told about the conflict."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from quiz_app.caches import cache
from quiz_app.clock import utcnow
from quiz_app.contest import services as contest_svc
from quiz_app.contest.presenters import result_view
from quiz_app.extensions import db
from quiz_app.models import Attempt, AttemptAnswer
from tests.browser.conftest import ARTIFACTS
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def contest(make_open_contest):
    return make_open_contest()


def log_in_and_start(page, base, user) -> int:
    page.goto(base + "/login")
    page.fill("#phone", user.phone)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    page.click("text=开始答题")
    page.wait_for_selector("#timerbar")
    return int(page.get_attribute("#timerbar", "data-attempt"))


def stored_choices(app, attempt_id: int, position: int) -> list[str]:
    with app.app_context():
        answer = db.session.scalars(
            db.select(AttemptAnswer).where(
                AttemptAnswer.attempt_id == attempt_id,
                AttemptAnswer.position == position,
            )
        ).one()
        return contest_svc.to_display(answer.option_order, answer.choices)


def bring_deadline_near(app, attempt_id: int, seconds: int) -> None:
    """Move the attempt's fixed deadline to `seconds` from now (the live server
    runs in this process, so its per-process layout cache is cleared too)."""
    with app.app_context():
        db.session.execute(
            update(Attempt)
            .where(Attempt.id == attempt_id)
            .values(deadline_at=utcnow() + timedelta(seconds=seconds))
        )
        db.session.commit()
    cache.clear()


def settled(page, position: int) -> str:
    state = f"#q{position} .save-state"
    page.wait_for_function(
        "s => { const t = document.querySelector(s).textContent;"
        " return t && t !== '正在保存…'; }",
        arg=state,
    )
    page.wait_for_load_state("networkidle")
    return page.text_content(state)


def test_quick_taps_save_and_score_the_last_choice(
    live_server, phone_page, shot, app, make_user, contest
):
    page = phone_page
    attempt_id = log_in_and_start(page, live_server, make_user())

    # A second tab on the same question still gets the conflict.
    single = int(page.get_attribute("fieldset[data-type=single]", "data-position"))
    other = page.context.new_page()
    other.goto(page.url)
    page.locator(f"#q{single} label.option").nth(0).click()
    assert settled(page, single) == "已保存"
    other.locator(f"#q{single} label.option").nth(1).click()
    assert "其他页面" in settled(other, single)
    other.close()
    assert stored_choices(app, attempt_id, single) == ["A"]

    bring_deadline_near(app, attempt_id, seconds=8)
    page.reload()
    multi = int(page.get_attribute("fieldset[data-type=multiple]", "data-position"))
    # Four taps in one task: every change event fires before any save returns.
    page.evaluate(
        """p => {
          const boxes = document.querySelectorAll(`#q${p} input[type=checkbox]`);
          [0, 1, 2, 0].forEach(i => boxes[i].click());
        }""",
        multi,
    )
    assert settled(page, multi) == "已保存"
    assert stored_choices(app, attempt_id, multi) == ["B", "C"]
    shot(page, "quick-taps-quiz")
    page.locator(f"#q{multi}").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "quick-taps-question.png"))

    # Let the time run out: the page hands in by itself.
    page.wait_for_url(f"**/quiz/{attempt_id}/result", timeout=30_000)
    assert "本次得分" in page.text_content("h1")
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.finished_at is not None
        review = {r["position"]: r for r in result_view(attempt)["review"]}
    assert review[multi]["choices"] == ["B", "C"]
    assert review[single]["choices"] == ["A"]
