"""Getting back in on a phone (360 px): forget the password, read the SMS code
from the log backend, reset, log in. And the staff hotline pages at 1280 px."""

from __future__ import annotations

import logging
import re
import time

import pytest

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser
NEW = "xin-mima-2023"


def code_from_log(caplog, phone: str, timeout: float = 5.0) -> str:
    """The code the log SMS backend wrote for `phone` (sent on a thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rec in caplog.records:
            text = rec.getMessage()
            if rec.name == "quiz_app.auth.sms" and phone in text:
                return re.search(r"\b(\d{6})\b", text.split(":", 1)[1]).group(1)
        time.sleep(0.05)
    raise AssertionError("no SMS in the log")


def test_forgot_password_reset_and_log_in(
    live_server, phone_page, shot, make_user, caplog
):
    caplog.set_level(logging.WARNING, logger="quiz_app.auth.sms")
    user = make_user(phone="13712345678", name="王秀兰")
    page = phone_page
    page.goto(live_server + "/login")
    page.click("text=忘记密码？")
    page.wait_for_selector("h1:has-text('找回密码')")
    page.fill("#phone", user.phone)
    shot(page, "recover-01-forgot")
    page.click("button[type=submit]")

    page.wait_for_selector("h1:has-text('重置密码')")
    assert "如果该手机号已注册" in page.text_content(".flash")
    assert page.input_value("#phone") == user.phone
    code = code_from_log(caplog, user.phone)
    page.fill("#code", "000000" if code != "000000" else "111111")
    page.fill("#password", NEW)
    page.fill("#password2", NEW)
    page.click("button[type=submit]")
    assert "验证码不正确或已失效" in page.text_content(".field.has-error")
    shot(page, "recover-02-reset-wrong-code")

    page.fill("#code", code)
    page.fill("#password", NEW)
    page.fill("#password2", NEW)
    shot(page, "recover-03-reset-filled")
    page.click("button[type=submit]")

    page.wait_for_selector("h1:has-text('登录')")
    assert "密码已重置" in page.text_content(".flash")
    shot(page, "recover-04-login-after-reset")
    page.fill("#phone", user.phone)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")
    assert "手机号或密码不正确" in page.text_content(".field.has-error")
    page.fill("#password", NEW)
    page.click("button[type=submit]")
    page.wait_for_selector("text=退出")
    assert "/login" not in page.url


@pytest.fixture
def desk_page(browser):
    context = browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="zh-CN"
    )
    page = context.new_page()
    yield page
    context.close()


def log_in(page, base, phone, password):
    page.goto(base + "/login")
    page.fill("#phone", phone)
    page.fill("#password", password)
    page.click("button[type=submit]")


def test_hotline_reset_then_forced_change(
    live_server, desk_page, phone_page, shot, make_user
):
    citizen = make_user(phone="13712340000", name="赵德明", region="lunan")
    staff = make_user(
        role="staff",
        staff_region="lunan",
        phone="13700000001",
        password="gongzuo-renyuan-1",
    )
    page = desk_page
    log_in(page, live_server, staff.phone, "gongzuo-renyuan-1")
    page.click("text=账号求助")
    page.fill("#phone", citizen.phone)
    page.click("button:has-text('查找')")
    page.wait_for_selector("text=赵德明")
    shot(page, "recover-05-staff-find")
    page.click("button:has-text('重置密码并生成临时密码')")
    temp = page.text_content("#temp-password").strip()
    assert re.fullmatch(r"\d{8}", temp)
    shot(page, "recover-06-staff-temp-password")

    phone = phone_page
    log_in(phone, live_server, citizen.phone, temp)
    phone.wait_for_selector("h1:has-text('修改密码')")
    assert phone.locator("#current_password").count() == 0
    shot(phone, "recover-07-forced-change")
    phone.fill("#password", NEW)
    phone.fill("#password2", NEW)
    phone.click("main button[type=submit]")
    assert "密码已修改" in phone.text_content(".flash")
    phone.goto(live_server + "/me")
    assert "/me" in phone.url
    shot(phone, "recover-09-me")
    phone.click("text=修改密码")
    phone.wait_for_selector("#current_password")
    shot(phone, "recover-08-change-password")
