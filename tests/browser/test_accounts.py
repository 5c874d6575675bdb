"""Admin pages at 1280 px: an admin creates a staff account for one county
(fixing a missing scope first), the staff member logs in with the one-time
password and sets their own, the admin disables the account, and the staff
page no longer opens in that session. Also the population page, the audit
log and an import preview, photographed."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.conftest import TEST_PASSWORD, bank_rows, rows_to_csv

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots-accounts")
NEW_PASSWORD = "lunan-staff-2023"


@pytest.fixture
def snap(shot):
    SHOTS.mkdir(exist_ok=True)

    def take(page, name):
        shot(page, name)
        shutil.copy(ARTIFACTS / f"{name}.png", SHOTS / f"{name}.png")

    return take


@pytest.fixture
def desk(browser):
    contexts = []

    def open_page():
        context = browser.new_context(
            viewport={"width": 1280, "height": 800}, locale="zh-CN"
        )
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def log_in(page, base, phone, password):
    page.goto(base + "/login")
    page.fill("#phone", phone)
    page.fill("#password", password)
    page.click("form:not(.inline) button[type=submit]")


def test_admin_creates_staff_who_logs_in_then_is_disabled(
    live_server, desk, snap, make_user, make_open_contest
):
    make_open_contest()
    admin = make_user(role="admin", name="赵管理", region="shizhi",
                      phone="13800000004")  # fmt: skip
    for i, name in enumerate(("王秀兰", "李建国", "张伟")):
        make_user(name=name, phone=f"1371234567{i}", region="lunan")
    make_user(role="organizer", name="李组织", phone="13800000002")
    a = desk()
    log_in(a, live_server, admin.phone, TEST_PASSWORD)
    a.wait_for_selector("text=退出")
    a.goto(live_server + "/admin/")
    assert a.is_visible("nav.admin-nav >> text=账号")
    a.click("nav.admin-nav >> text=账号")
    a.wait_for_selector("h1:has-text('账号管理')")
    assert "13712345670" in a.text_content("table.accounts")
    snap(a, "accounts-01-list")

    a.click("text=新建组织者或工作人员账号")
    a.wait_for_selector("h1:has-text('新建账号')")
    assert not a.is_checked("input[name=scope][value=city]")
    assert not a.is_checked("input[name=scope][value=region]")
    a.fill("#name", "孙路南")
    a.fill("#phone", "13911112222")
    a.check("input[name=role][value=staff]")
    a.click("button:has-text('创建账号')")
    error = a.text_content("fieldset.has-error")
    assert "请选择管辖一个区县，或全市范围" in error
    assert a.input_value("#phone") == "13911112222"  # kept
    snap(a, "accounts-02-create-error")

    a.check("input[name=scope][value=region]")
    a.select_option("#staff_region", "lunan")
    a.click("button:has-text('创建账号')")
    a.wait_for_selector("#one-time-password")
    password = a.text_content("#one-time-password").strip()
    assert re.fullmatch(r"\d{12}", password)
    snap(a, "accounts-03-one-time-password")

    s = desk()
    log_in(s, live_server, "13911112222", password)
    s.wait_for_selector("h1:has-text('修改密码')")
    s.fill("#password", NEW_PASSWORD)
    s.fill("#password2", NEW_PASSWORD)
    s.click("button:has-text('保存新密码')")
    s.wait_for_selector("text=密码已修改")
    s.goto(live_server + "/staff/")
    assert "/staff/" in s.url and "/login" not in s.url
    assert "路南区" in s.text_content("table")
    assert "路北区" not in s.text_content("table")  # one county only
    snap(s, "accounts-04-staff-page")

    a.goto(live_server + "/admin/accounts?q=孙路南")
    a.click("table.accounts >> text=管理")
    a.click("button:has-text('停用账号')")
    a.wait_for_selector("text=账号已停用")
    snap(a, "accounts-05-disabled")

    s.goto(live_server + "/staff/")
    assert "/login" in s.url  # that open session ended
    log_in(s, live_server, "13911112222", NEW_PASSWORD)
    assert s.locator(".has-error").count() > 0  # and no new one starts

    a.goto(live_server + "/admin/regions")
    a.fill("#pop-lunan", "330,000")
    a.fill("#pop-lubei", "0")
    a.click("button:has-text('保存全部')")
    assert "未保存任何修改" in a.text_content(".flash")
    assert "has-error" in (a.get_attribute("#pop-lubei >> xpath=..", "class") or "")
    snap(a, "accounts-06-population-error")
    a.fill("#pop-lubei", "")
    a.click("button:has-text('保存全部')")
    a.wait_for_selector("text=已保存")
    assert a.input_value("#pop-lunan") == "330000"
    snap(a, "accounts-07-population")

    a.goto(live_server + "/admin/audit")
    table = a.text_content("table.audit")
    for label in ("停用账号", "新建账号", "修改区县人口", "登录", "修改密码"):
        assert label in table, label
    assert "赵管理（管理员）" in table
    snap(a, "accounts-08-audit")
    a.select_option("#action", "account_disable")
    a.click("button:has-text('筛选')")
    assert a.locator("table.audit tbody tr").count() == 1


def test_import_preview_then_confirm(app, live_server, desk, snap, make_user,
                                     make_bank, tmp_path):  # fmt: skip
    make_bank()
    organizer = make_user(role="organizer", name="李组织", phone="13800000002")
    rows = bank_rows()
    rows[2][4] = "更正后的题干：下列做法正确的是？"
    rows[3][3] = "3" if rows[3][3] != "3" else "1"
    extra = list(rows[1])
    extra[0], extra[4] = "health-100", "新题：家庭急救箱应常备哪种物品？"
    rows.append(extra)
    upload = tmp_path / "bank-update.csv"
    upload.write_bytes(rows_to_csv(rows))
    page = desk()
    log_in(page, live_server, organizer.phone, TEST_PASSWORD)
    page.wait_for_selector("text=退出")
    page.goto(live_server + "/admin/questions")
    page.set_input_files("#file", str(upload))
    page.click("button:has-text('上传并预览')")
    page.wait_for_selector("h1:has-text('导入预览')")
    assert "health-100" in page.text_content("body")
    assert "第 1 版 → 第 2 版" in page.text_content("body")
    snap(page, "accounts-09-import-preview")
    page.click("#confirm-import")
    page.wait_for_selector("text=导入成功")
    assert "新增 1 题" in page.text_content(".flash")
