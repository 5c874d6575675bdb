"""A citizen's journey on a phone-sized chromium: register, answer, submit, review."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.fixture
def contest(make_open_contest):
    return make_open_contest(title="2023年唐山市公民科学素质知识网络竞赛")


def test_register_answer_submit_review(live_server, phone_page, shot, contest):
    page = phone_page
    page.goto(live_server + "/")
    assert "2023年唐山市公民科学素质知识网络竞赛" in page.text_content("h1")
    shot(page, "01-home")
    page.click("text=注册并开始答题")

    # Passwords are masked: both inputs are real password inputs.
    assert page.locator("input[type=password]").count() == 2
    assert page.locator("#password[type=password]").count() == 1
    assert page.locator("#password2[type=password]").count() == 1

    # Bad input first: a clear message next to the field, nothing created.
    page.fill("#name", "王小丽")
    page.fill("#phone", "12345")
    page.select_option("#region", "fengrun")
    page.fill("#password", "kexue-2023")
    page.fill("#password2", "kexue-2023")
    page.check("#privacy")
    shot(page, "02a-register-filled")
    page.click("button[type=submit]")
    assert "请填写 11 位中国大陆手机号" in page.text_content(".field.has-error")
    shot(page, "02-register-error")

    page.fill("#phone", "13612345678")
    page.fill("#password", "kexue-2023")
    page.fill("#password2", "kexue-2023")
    page.check("#public_ranking")
    page.click("button[type=submit]")
    assert "注册成功" in page.text_content(".flash")
    page.click("text=开始答题")

    page.wait_for_selector("#timerbar")
    countdown = page.text_content("#countdown")
    assert countdown.startswith("15:") or countdown.startswith("14:")
    questions = page.locator("fieldset.question")
    total = questions.count()
    assert total == 10
    shot(page, "03-quiz")
    for i in range(total):
        q = questions.nth(i)
        q.locator("label.option").first.click()
        if q.get_attribute("data-type") == "multiple":
            q.locator("label.option").nth(1).click()
        q.locator(".save-state", has_text="已保存").wait_for()
    assert page.text_content("#answered-count") == str(total)

    # Reload: same attempt, answers kept, the timer continues.
    page.reload()
    assert page.locator("input:checked").count() >= total
    shot(page, "04-quiz-answered")

    page.once("dialog", lambda d: d.accept())
    page.click("#submit-button")
    page.wait_for_selector("text=答题回顾")
    assert "本次得分" in page.text_content("h1")
    assert page.locator("section.review").count() == total
    assert page.locator(".explanation").count() == total
    assert "全市排名：第 1 名" in page.text_content("section.hero")
    shot(page, "05-result")

    page.click("text=查看排行榜")
    assert "王*丽" in page.text_content("table.board")
    assert "13612345678" not in page.content()
    assert "您当前排名 第 1 名" in page.text_content(".my-rank")
    page.click("text=本区县")
    assert "丰润区" in page.text_content("table.board")
    page.click("text=今日")
    assert "王*丽" in page.text_content("table.board")
    shot(page, "06-leaderboard")

    page.click("text=我的成绩")
    assert "今天还可以答题" in page.text_content("main")
    shot(page, "07-me")

    # Log out and back in: the login page masks the password too.
    page.click("button:has-text('退出')")
    page.goto(live_server + "/login")
    assert page.locator("#password[type=password]").count() == 1
    assert page.locator("#phone[type=tel]").count() == 1
    page.fill("#phone", "13612345678")
    page.fill("#password", "kexue-2023")
    shot(page, "08-login-filled")
