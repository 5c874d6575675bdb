"""Every citizen page at 360 px, in normal and large-text mode: axe-core finds
no serious or critical violation, no request of a page load answers 404, body
text is at least 18 px, every visible link, button and input is at least 44
px tall, and the leaderboard keeps headers and names on one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from quiz_app.clock import utcnow
from tests.certificate.conftest import finish
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser

AXE = Axe()
HERE = Path(__file__).resolve().parent

# Sizes of what is on screen: root and body font size, the smallest text, and
# every tap target under 44 px (a checkbox or radio counts with its label).
MEASURE = (HERE / "measure_targets.js").read_text()

# Every header and body cell of the ranking table holds one line of text.
CELL_LINES = (HERE / "measure_cells.js").read_text()


@pytest.fixture
def contest(make_open_contest):
    return make_open_contest(title="2023年唐山市公民科学素质知识网络竞赛")


@pytest.fixture
def others(app, contest, make_user):
    """Others on the board: the longest masked name, an anonymous citizen and
    a zone with the longest region name."""
    with app.app_context():
        for name, region, consent, correct in (
            ("欧阳小明", "gaoxin", True, 8),
            ("李四", "qianan", False, 6),
            ("司马相如", "haigang", True, 3),
        ):
            user = make_user(name=name, region=region, public_ranking=consent)
            finish(user, contest.id, correct=correct, now=utcnow())


def check_page(page, label, *, large, report, missing):
    """Run every check on the page as it is now; collect the findings."""
    page.wait_for_load_state("load")
    results = AXE.run(page)
    bad = [
        f"{v['id']} ({v['impact']}): "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    m = page.evaluate(MEASURE)
    m["axe"] = sorted(
        {f"{v['id']}:{v['impact']}" for v in results.response["violations"]}
    )
    m["passes"] = len(results.response.get("passes", []))
    report.append((label, large, m))
    problems = []
    if bad:
        problems.append(f"axe: {bad}")
    if m["body"] < 18:
        problems.append(f"body text {m['body']} px")
    if large and m["smallest"] < 18:
        problems.append(f"text {m['smallest']} px at {m['where']}")
    if large and m["root"] < 22:
        problems.append(f"root {m['root']} px")
    if m["small"]:
        problems.append(f"small targets {m['small']}")
    if m["overflow"] > 0:
        problems.append(f"{m['overflow']} px wider than the screen")
    if missing:
        problems.append(f"404s: {missing}")
    missing.clear()
    return [f"{label}{' (大字)' if large else ''}: {p}" for p in problems]


def test_citizen_pages_are_accessible_in_both_text_sizes(
    live_server, phone_page, shot, contest, others, make_user
):
    user = make_user(name="王秀兰", region="fengrun", phone="13612345678")
    page = phone_page
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    report: list = []
    problems: list[str] = []

    for large in (False, True):
        suffix = "-large" if large else ""

        def visit(path, label, *, large=large, suffix=suffix):
            page.goto(live_server + path)
            problems.extend(
                check_page(page, label, large=large, report=report, missing=missing)
            )
            shot(page, f"a11y-{label}{suffix}")

        visit("/", "home", large=False)  # the mode is switched on below
        if large:
            page.click("button.size-toggle")
            page.wait_for_selector("html.large-text")
            assert page.get_attribute("button.size-toggle", "aria-pressed") == "true"
            problems.extend(
                check_page(page, "home", large=True, report=report, missing=missing)
            )
            shot(page, "a11y-home-large")
        visit("/register", "register")
        visit("/forgot", "forgot")
        visit("/login", "login")
        page.fill("#phone", user.phone)
        page.fill("#password", TEST_PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_selector("text=退出")
        # large-text mode sticks across the login
        assert page.locator("html.large-text").count() == (1 if large else 0)

        page.click("text=开始答题")
        page.wait_for_selector("#timerbar")
        problems.extend(
            check_page(page, "quiz", large=large, report=report, missing=missing)
        )
        shot(page, f"a11y-quiz{suffix}")
        questions = page.locator("fieldset.question")
        for i in range(questions.count()):
            questions.nth(i).locator("label.option").first.click()
            questions.nth(i).locator(".save-state", has_text="已保存").wait_for()
        page.once("dialog", lambda d: d.accept())
        page.click("#submit-button")
        page.wait_for_selector("text=答题回顾")
        problems.extend(
            check_page(page, "result", large=large, report=report, missing=missing)
        )
        shot(page, f"a11y-result{suffix}")

        for tab in ("all", "region", "day"):
            visit(f"/leaderboard?tab={tab}", f"leaderboard-{tab}")
            cells = page.evaluate(CELL_LINES)
            assert len(cells) >= 8  # the header and at least one row
            wrapped = [c for c in cells if c["lines"] != 1]
            assert not wrapped, (tab, large, wrapped)
        visit("/me", "me")
        visit("/me/data", "data")
        visit("/me/delete", "delete")
        visit("/me/certificate", "certificate")
        visit("/practice", "practice")
        page.locator(
            "button:has-text('开始练习'), a:has-text('继续上次的练习')"
        ).first.click()
        page.wait_for_selector(".practice-banner")
        problems.extend(
            check_page(
                page, "practice-round", large=large, report=report, missing=missing
            )
        )
        shot(page, f"a11y-practice-round{suffix}")
        page.click("button:has-text('退出')")
        page.wait_for_selector("text=登录")

    for label, large, m in report:
        print(
            f"{label:18} {'large ' if large else 'normal'} root {m['root']:.0f}px "
            f"body {m['body']:.0f}px smallest {m['smallest']:.1f}px ({m['where']}) "
            f"axe violations {m['axe']}"
        )
    assert not problems, "\n".join(problems)
