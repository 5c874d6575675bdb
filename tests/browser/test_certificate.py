"""The certificate on a 360 px phone: finish an attempt, open the certificate,
save the PNG, print view, and verify the code as a stranger."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def contest(make_open_contest):
    return make_open_contest(
        title="2023年唐山市公民科学素质知识网络竞赛", excellent_min=90
    )


def test_certificate_download_and_verify(
    live_server, phone_page, browser, shot, contest, make_user
):
    user = make_user(name="王小丽", region="fengrun", phone="13612345678")
    page = phone_page
    missing = []
    page.on(
        "response",
        lambda r: missing.append(r.url) if r.status == 404 else None,
    )
    page.goto(live_server + "/login")
    page.fill("#phone", user.phone)
    page.fill("#password", TEST_PASSWORD)
    page.click("button[type=submit]")

    # Before any finished attempt there is no certificate yet.
    page.goto(live_server + "/me/certificate")
    assert "完成一次答题后即可获得证书" in page.text_content("main")
    shot(page, "cert-01-none")
    missing.clear()  # that page is a 404 on purpose

    page.goto(live_server + "/")
    page.click("text=开始答题")
    page.wait_for_selector("#timerbar")
    page.locator("fieldset.question").first.locator("label.option").first.click()
    page.locator(".save-state", has_text="已保存").first.wait_for()
    page.once("dialog", lambda d: d.accept())
    page.click("#submit-button")
    page.wait_for_selector("text=答题回顾")
    shot(page, "cert-00-result")
    page.click("text=查看我的证书")

    page.wait_for_selector("article.certificate")
    assert page.text_content(".cert-title") == "参赛证书"
    text = page.text_content("article.certificate")
    assert "王小丽" in text and "丰润区" in text and "唐山市科学技术协会" in text
    code = page.text_content(".cert-code").replace("-", "")
    assert re.fullmatch(r"[0-9A-Z]{10}", code)
    qr = page.locator(".cert-qr img")
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    # nothing overflows the phone's width
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "cert-02-page")

    with page.expect_download() as info:
        page.click("text=保存证书图片到手机")
    download = info.value
    assert download.suggested_filename.endswith(f"{code}.png")
    data = Path(download.path()).read_bytes()
    img = Image.open(io.BytesIO(data))
    assert img.format == "PNG" and img.size == (1200, 848)
    assert [b.text for b in zxingcpp.read_barcodes(img)] == [
        f"{live_server}/verify/{code}"
    ]

    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.locator("text=保存证书图片到手机").is_visible()
    shot(page, "cert-03-print")
    page.emulate_media(media="screen")

    page.goto(live_server + "/me")
    assert page.locator("a[href='/me/certificate']").count() == 1
    shot(page, "cert-04-me")
    assert missing == [], missing  # the favicon and every asset were found

    stranger = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, locale="zh-CN"
    )
    try:
        other = stranger.new_page()
        other.goto(f"{live_server}/verify/{code.lower()}")
        facts = other.text_content("dl.facts")
        assert "王*丽" in facts and "王小丽" not in other.content()
        assert "丰润区" in facts and "参赛" in facts
        assert "13612345678" not in other.content()
        shot(other, "cert-05-verify")
        r = other.goto(f"{live_server}/verify/ABCDEFGHJK")
        assert r.status == 404
        assert "没有找到这个证书编号" in other.text_content("main")
        shot(other, "cert-06-verify-unknown")
    finally:
        stranger.close()
