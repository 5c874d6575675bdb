"""`flask regions population`: one region, or a CSV file all or nothing."""

from __future__ import annotations

from sqlalchemy import select

from quiz_app.extensions import db
from quiz_app.models import AuditEvent, Region
from quiz_app.regions import sync_regions


def population(app, code):
    with app.app_context():
        return db.session.get(Region, code).population


def test_one_region(app):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["regions", "population", "lunan", "330000"])
    assert r.exit_code == 0, r.output
    assert population(app, "lunan") == 330_000
    r = runner.invoke(args=["regions", "population", "lunan", "-"])
    assert r.exit_code == 0 and population(app, "lunan") is None
    for bad in (["lunan", "0"], ["lunan", "20000001"], ["lunan", "x"],
                ["atlantis", "5"], ["lunan"]):  # fmt: skip
        r = runner.invoke(args=["regions", "population", *bad])
        assert r.exit_code != 0, bad
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "region_population")
        ).all()
        assert [e.ip for e in events] == ["cli", "cli"]


def test_file_is_all_or_nothing_with_line_numbers(app, tmp_path):
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,population\nlunan,330000\nlubei,0\natlantis,5\nguye\nlunan,1\n",
        encoding="utf-8",
    )
    r = runner.invoke(args=["regions", "population", "--file", str(bad)])
    assert r.exit_code != 0
    for line in ("第3行", "第4行", "第5行", "第6行"):
        assert line in r.output, line
    assert "第2行" not in r.output
    assert population(app, "lunan") is None
    good = tmp_path / "good.csv"
    good.write_text("\ufeffcode,population\nlunan,330000\nlubei,\n", encoding="utf-8")
    r = runner.invoke(args=["regions", "population", "--file", str(good)])
    assert r.exit_code == 0, r.output
    assert population(app, "lunan") == 330_000
    r = runner.invoke(args=["regions", "population", "lunan", "1", "--file", str(good)])
    assert r.exit_code != 0


def test_setup_keeps_populations_the_data_file_leaves_blank(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["regions", "population", "lunan", "330000"])
    with app.app_context():
        sync_regions()
    assert population(app, "lunan") == 330_000
