"""A new citizen on a 360 px phone, start to end: register, finish an attempt,
open and download the certificate, verify it as a stranger, practise a round,
forget the password and reset it with the code from the log backend; then
withdraw the ranking consent, look at and download the stored data, and
delete the account. No request of any page load answers 404."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from PIL import Image

from tests.browser.test_recovery import code_from_log

pytestmark = pytest.mark.browser
PHONE = "13512345678"
FIRST, SECOND = "kexue-2023", "xin-mima-2023"


@pytest.fixture
def contest(make_open_contest):
    return make_open_contest(title="2023年唐山市公民科学素质知识网络竞赛")


def log_in(page, live_server, password):
    page.goto(live_server + "/login")
    page.fill("#phone", PHONE)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_selector("text=退出")


def test_citizen_journey_and_personal_data(
    live_server, phone_page, browser, shot, contest, caplog
):
    caplog.set_level(logging.WARNING, logger="quiz_app.auth.sms")
    page = phone_page
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)

    # register with consent, finish an attempt
    page.goto(live_server + "/register")
    page.fill("#name", "赵桂芳")
    page.fill("#phone", PHONE)
    page.select_option("#region", "zunhua")
    page.fill("#password", FIRST)
    page.fill("#password2", FIRST)
    page.check("#public_ranking")
    page.check("#privacy")
    page.click("main button[type=submit]")
    page.click("text=开始答题")
    page.wait_for_selector("#timerbar")
    for i in range(page.locator("fieldset.question").count()):
        q = page.locator("fieldset.question").nth(i)
        q.locator("label.option").first.click()
        q.locator(".save-state", has_text="已保存").wait_for()
    page.once("dialog", lambda d: d.accept())
    page.click("#submit-button")
    page.wait_for_selector("text=答题回顾")

    # the certificate: page, download, anonymous verification
    page.click("text=查看我的证书")
    page.wait_for_selector("article.certificate")
    code = page.text_content(".cert-code").replace("-", "")
    with page.expect_download() as info:
        page.click("text=保存证书图片到手机")
    with Image.open(io.BytesIO(Path(info.value.path()).read_bytes())) as img:
        assert img.format == "PNG" and img.size == (1200, 848)
    shot(page, "journey-01-certificate")
    stranger = browser.new_context(viewport={"width": 360, "height": 740})
    other = stranger.new_page()
    other.goto(f"{live_server}/verify/{code}")
    assert "赵*芳" in other.text_content("dl.facts")
    assert "赵桂芳" not in other.content() and PHONE not in other.content()
    shot(other, "journey-02-verify")

    # practise one round
    page.goto(live_server + "/practice")
    page.click("text=开始练习")
    for _ in range(5):
        page.wait_for_selector("#answer-button")
        page.locator("label.option").first.click()
        page.click("#answer-button")
        page.wait_for_selector(".explanation")
        page.click("#next")
    page.wait_for_selector("text=本轮练习完成")
    shot(page, "journey-03-practice-done")

    # forget the password, reset it with the code the log backend wrote
    page.click("header button:has-text('退出')")
    page.goto(live_server + "/login")
    page.click("text=忘记密码？")
    page.fill("#phone", PHONE)
    page.click("main button[type=submit]")
    page.wait_for_selector("h1:has-text('重置密码')")
    page.fill("#code", code_from_log(caplog, PHONE))
    page.fill("#password", SECOND)
    page.fill("#password2", SECOND)
    page.click("main button[type=submit]")
    page.wait_for_selector("text=密码已重置")
    log_in(page, live_server, SECOND)

    # consent: withdraw it on /me, the public board turns anonymous at once
    page.goto(live_server + "/me")
    assert "排行榜显示：赵*芳" in page.text_content("#privacy")
    page.click("text=撤回同意，匿名显示")
    page.wait_for_selector("text=已撤回同意")
    assert "排行榜显示：匿名参赛者" in page.text_content("#privacy")
    page.locator("#privacy").scroll_into_view_if_needed()
    shot(page, "journey-04-me-consent-withdrawn")
    other.goto(f"{live_server}/leaderboard")
    board = other.text_content("table.ranking")
    assert "匿名参赛者" in board and "赵*芳" not in board

    # what is stored, and its download
    page.click("text=查看我的个人信息")
    text = page.text_content("main")
    for needle in (
        "赵桂芳",
        PHONE,
        "遵化市",
        "答题记录（1）",
        "证书（1）",
        "练习（1 轮）",
    ):
        assert needle in text, needle
    shot(page, "journey-05-data")
    with page.expect_download() as info:
        page.click("text=下载全部信息")
    data = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert (
        data["account"]["phone"] == PHONE and data["account"]["public_ranking"] is False
    )
    assert data["certificates"][0]["code"] == code

    # delete the account: password and confirmation
    page.goto(live_server + "/me")
    page.click("text=注销账号")
    page.fill("#password", FIRST)  # the old password no longer works
    page.check("#understood")
    page.click("main button[type=submit]")
    assert "密码不正确" in page.text_content(".field.has-error")
    page.fill("#password", SECOND)
    page.check("#understood")
    shot(page, "journey-06-delete-confirm")
    page.click("main button[type=submit]")
    page.wait_for_selector("text=账号已注销")
    shot(page, "journey-07-deleted")
    r = other.goto(f"{live_server}/verify/{code}")
    assert r.status == 404
    other.goto(f"{live_server}/leaderboard")
    assert "匿名参赛者" in other.text_content("table.ranking")
    stranger.close()
    # the phone can no longer log in, and may register anew
    page.goto(live_server + "/login")
    page.fill("#phone", PHONE)
    page.fill("#password", SECOND)
    page.click("main button[type=submit]")
    assert "手机号或密码不正确" in page.text_content(".field.has-error")
    missing = [u for u in missing if "/verify/" not in u]
    assert missing == [], missing
