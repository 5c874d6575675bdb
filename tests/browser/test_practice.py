"""Practising a round on a phone-sized chromium (360 px): feedback after each
answer, the practice notice on every page, nothing on the board."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


def login(page, live_server, user):
    page.goto(live_server + "/login")
    page.fill("#phone", user.phone)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")


def test_practise_a_round_on_a_phone(
    live_server, phone_page, shot, make_open_contest, make_user
):
    make_open_contest(title="2023年唐山市公民科学素质知识网络竞赛")
    user = make_user(name="李秀英")
    page = phone_page
    login(page, live_server, user)
    page.wait_for_selector("text=练习模式（不计成绩）")
    shot(page, "practice-00-home")
    page.click("text=练习模式（不计成绩）")
    assert "练习模式，不计入成绩和排名" in page.text_content(".practice-banner")
    assert "今天还可以练习 30 道" in page.text_content("main")
    shot(page, "practice-01-intro")
    page.click("text=开始练习")

    for position in range(1, 6):
        page.wait_for_selector("#answer-button")
        assert page.locator(".practice-banner").is_visible()
        assert page.locator(".explanation").count() == 0  # no key before answering
        if position == 1:
            shot(page, "practice-02-question")
        # Tap targets stay large on a 360 px screen.
        box = page.locator("label.option").first.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 280
        page.locator("label.option").first.click()
        page.click("#answer-button")
        page.wait_for_selector(".explanation")
        verdict = page.text_content(".verdict")
        assert verdict in ("回答正确", "回答错误")
        assert "正确答案" in page.text_content("section.review")
        assert "依据：" in page.text_content("section.review")
        if position == 1:
            shot(page, "practice-03-feedback")
        page.click("#next")

    page.wait_for_selector("text=本轮练习完成")
    assert page.locator("section.review").count() == 5
    assert "今天还可以练习 25 道题" in page.text_content("main")
    shot(page, "practice-04-summary")

    # Practice never reaches the board or the contest's daily count.
    page.goto(live_server + "/leaderboard")
    assert "李*英" not in page.text_content("main")
    page.goto(live_server + "/me")
    assert "今天还可以答题 3 次" in page.text_content("main").replace("\n", "")
    shot(page, "practice-05-me")


def test_practice_page_without_javascript(
    live_server, browser, shot, make_open_contest, make_user
):
    make_open_contest()
    user = make_user()
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        java_script_enabled=False,
        is_mobile=True,
        locale="zh-CN",
    )
    page = context.new_page()
    try:
        login(page, live_server, user)
        page.goto(live_server + "/practice")
        page.click("text=开始练习")
        page.locator("label.option").first.click()
        page.click("#answer-button")
        page.wait_for_selector(".explanation")
        shot(page, "practice-06-nojs-feedback")
        page.click("#next")
        assert page.locator("#answer-button").count() == 1
    finally:
        context.close()
