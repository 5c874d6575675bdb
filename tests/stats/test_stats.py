"""Participation by region: correct figures, region-scoped staff, safe exports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import openpyxl
import pytest

from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Contest, Region, User


@pytest.fixture
def played(app, make_open_contest, make_user):
    now = utcnow()
    c = make_open_contest()
    people = [
        make_user(region="lunan"),
        make_user(region="lunan"),
        make_user(region="qianan"),
        make_user(region="qianan"),
    ]
    with app.app_context():
        contest = db.session.get(Contest, c.id)
        for i, u in enumerate(people[:3]):
            user = db.session.get(User, u.id)
            a, _ = svc.start_attempt(
                user, contest, now=now - timedelta(minutes=30), grace_s=5
            )
            if i < 2:
                svc.submit_attempt(
                    a.id, user, now=now - timedelta(minutes=29), grace_s=5
                )
    return c


def test_city_staff_sees_every_region(api, make_user, played):
    api.login(make_user(role="staff"))
    rows = {r["code"]: r for r in api.get("/api/v1/stats/regions").get_json()}
    assert len(rows) == 19
    assert rows["lunan"]["registered"] == 2 and rows["lunan"]["participants"] == 2
    assert rows["lunan"]["finished"] == 2 and rows["lunan"]["attempts"] == 2
    assert rows["qianan"]["participants"] == 1 and rows["qianan"]["attempts"] == 1
    # The third attempt was never submitted; reading stats must not invent a finish.
    assert rows["qianan"]["registered"] == 2
    assert (
        rows["gaoxin"]["participants"] == 0 and rows["gaoxin"]["avg_best_score"] is None
    )


def test_region_staff_sees_only_its_region(api, client, make_user, played):
    api.login(make_user(role="staff", staff_region="qianan"))
    rows = api.get("/api/v1/stats/regions").get_json()
    assert [r["code"] for r in rows] == ["qianan"]
    page = client.get("/staff/").get_data(as_text=True)
    assert "迁安市" in page and "路南区" not in page
    export = client.get("/staff/regions.csv").get_data(as_text=True)
    assert "迁安市" in export and "路南区" not in export


def trim(row: list) -> list:
    """A sheet row without the empty cells XLSX pads it with."""
    while row and row[-1] in (None, ""):
        row = row[:-1]
    return row


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_exports_neutralise_text_and_keep_numbers(api, client, make_user, played, fmt):
    """Both export formats go through the one writer: a region name that looks
    like a formula comes out marked as text, the figures stay numbers."""
    with client.application.app_context():
        db.session.get(Region, "qianan").name = '=HYPERLINK("http://evil.example")'
        db.session.commit()
    api.login(make_user(role="staff"))
    r = client.get(f"/staff/regions.{fmt}")
    assert r.status_code == 200
    assert (
        r.headers["Content-Disposition"]
        == f"attachment; filename=regions-c{played.id}-city.{fmt}"
    )
    if fmt == "csv":
        table = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    else:
        ws = openpyxl.load_workbook(io.BytesIO(r.data)).worksheets[0]
        table = [list(row) for row in ws.iter_rows(values_only=True)]
    table = [trim(row) for row in table]
    # the contest, the scope and the export time first, then the header row
    assert table[0] == ["竞赛", "测试竞赛"] and table[1] == ["范围", "全市"]
    assert table[2][0] == "导出时间"
    assert table[4][0] == "区县"
    row = next(row for row in table if row and "HYPERLINK" in str(row[0]))
    assert row[0] == '\'=HYPERLINK("http://evil.example")'
    registered = row[1] if fmt == "xlsx" else int(row[1])
    assert registered == 2
