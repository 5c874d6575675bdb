"""An organizer at 1280 px opens a contest's item statistics from the admin
home, filters by a flag, opens the flagged question and its bar chart draws."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from quiz_app.extensions import db
from tests.items.scene import seed_three_items
from tests.items.test_services import correct_key

from .test_contest_admin import log_in

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("ITEM_SHOTS", "/tmp/shots-items"))

#: non-background pixels of a canvas (the chart drew something)
PAINTED = """(canvas) => {
  const ctx = canvas.getContext('2d');
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
  return n;
}"""


@pytest.fixture
def desk_page(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="zh-CN"
    )
    page = context.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    yield page
    context.close()


def test_organizer_filters_flags_and_sees_the_chart(
    app, live_server, desk_page, make_bank, make_contest, make_user, config
):
    config(ITEM_STATS_MIN_EXPOSURES=5, ITEM_STATS_MIN_TOP=3)
    with app.app_context():
        contest, *_ = seed_three_items(make_bank, make_contest, make_user)
        db.session.remove()
    organizer = make_user(role="organizer", name="科协组织者")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = desk_page
    log_in(page, live_server, organizer.phone)
    page.goto(live_server + "/admin/")
    page.screenshot(path=str(SHOTS / "items-00-home.png"), full_page=True)
    page.click("#item-stats-link")
    assert "统计更新于" in page.text_content("#refreshed")
    assert page.locator("#items-table tbody tr").count() == 3
    page.screenshot(path=str(SHOTS / "items-01-contest.png"), full_page=True)

    page.select_option("#flag-filter", "suspect_key")
    page.click("#filter-apply")
    rows = page.locator("#items-table tbody tr")
    assert rows.count() == 1
    assert "health-003" in rows.first.inner_text()
    assert "答案存疑" in rows.first.inner_text()
    page.screenshot(path=str(SHOTS / "items-02-suspect.png"), full_page=True)

    # Sorting by discrimination (first click: highest first).
    page.goto(live_server + f"/admin/contests/{contest.id}/items")
    page.click("#items-table th >> text=区分度")
    ids = page.locator("#items-table tbody tr td:first-child").all_inner_texts()
    assert ids == ["health-001", "health-002", "health-003"]

    page.goto(live_server + f"/admin/contests/{contest.id}/items?flag=suspect_key")
    page.click("#items-table >> text=health-003")
    page.wait_for_load_state()
    canvas = page.locator(f"#item-chart-{contest.id}-1 canvas")
    canvas.wait_for()
    assert canvas.evaluate(PAINTED) > 500
    table = page.locator(f"#item-table-{contest.id}-1")
    assert "✓ 正确答案" in table.locator("tr.keyed-row").inner_text()
    assert table.locator("tr.keyed-row th").inner_text().startswith("C")
    page.locator("#item-stats").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "items-03-question.png"), full_page=True)
    page.locator("#item-stats").screenshot(path=str(SHOTS / "items-04-chart.png"))
    assert page.errors == []

    # The key is corrected as a new revision: the flagged row now links to
    # the regrade confirmation, which says how many scores would change.
    with app.app_context():
        correct_key("health-003", "D")
        db.session.remove()
    page.goto(live_server + f"/admin/contests/{contest.id}/items?flag=suspect_key")
    page.click("#items-table >> text=重新评分")
    assert "6" == page.inner_text("#regrade-changes")
    assert page.locator("#regrade-run").is_visible()
    page.screenshot(path=str(SHOTS / "items-05-regrade.png"), full_page=True)
