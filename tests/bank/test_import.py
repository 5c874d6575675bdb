"""Organizer import/export: all rows or none, row-numbered errors, hostile files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from quiz_app.bank.fileformat import BankFileError, check_table, read_table
from quiz_app.bank.services import (
    category_codes,
    export_csv,
    export_xlsx,
    import_directory,
    import_file,
    sync_categories,
)
from quiz_app.extensions import db
from quiz_app.models import Question, QuestionRevision
from tests.auth.test_views import csrf_from
from tests.conftest import NOW, bank_rows, rows_to_csv


@pytest.fixture
def cats(ctx):
    sync_categories(
        [("health", "卫生健康", ""), ("safety", "安全", ""), ("science", "科学", "")]
    )
    db.session.commit()


def count():
    return db.session.query(Question).count()


def test_valid_csv_imports_and_reimport_updates(cats):
    data = rows_to_csv(bank_rows())
    assert import_file(data, "b.csv", now=NOW).created == 42
    again = import_file(data, "b.csv", now=NOW)
    # An identical file changes nothing: no new revision, nothing edited.
    assert (again.created, again.revised, again.unchanged) == (0, 0, 42)
    assert count() == 42


def test_one_bad_row_imports_nothing_and_names_every_line(cats):
    rows = bank_rows()
    rows[3][11] = "Z"  # answer not an option (line 4)
    rows[7][1] = "nosuch"  # unknown category (line 8)
    rows[9] = rows[9][:5]  # ragged row (line 10)
    with pytest.raises(BankFileError) as exc:
        import_file(rows_to_csv(rows), "b.csv", now=NOW)
    lines = {e.line for e in exc.value.errors}
    assert lines == {4, 8, 10}
    assert count() == 0


def test_duplicate_ids_are_refused(cats):
    rows = bank_rows()
    rows[5][0] = rows[2][0]
    with pytest.raises(BankFileError) as exc:
        import_file(rows_to_csv(rows), "b.csv", now=NOW)
    assert "重复" in str(exc.value)
    assert count() == 0


@pytest.mark.parametrize("cell", ["=1+2", "+SUM(A1)", "@cmd", "\t=1"])
def test_formula_like_cells_are_refused(cats, cell):
    rows = bank_rows()
    rows[1][4] = cell
    with pytest.raises(BankFileError):
        import_file(rows_to_csv(rows), "b.csv", now=NOW)
    assert count() == 0


def test_gbk_and_nul_files_are_refused_clearly(cats):
    data = rows_to_csv(bank_rows())
    with pytest.raises(BankFileError) as exc:
        import_file(data.decode("utf-8").encode("gbk"), "b.csv", now=NOW)
    assert "UTF-8" in str(exc.value)
    with pytest.raises(BankFileError):
        import_file(data + b"\x00", "b.csv", now=NOW)


def test_utf8_bom_is_accepted(cats):
    assert (
        import_file(
            b"\xef\xbb\xbf" + rows_to_csv(bank_rows()), "b.csv", now=NOW
        ).created
        == 42
    )


def xlsx_bytes(rows) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_xlsx_imports(cats):
    assert import_file(xlsx_bytes(bank_rows()), "bank.xlsx", now=NOW).created == 42


def test_xlsx_zip_bomb_is_refused_before_parsing(cats):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (60 * 1024 * 1024))
    data = buf.getvalue()
    assert len(data) < 200_000  # tiny on disk
    with pytest.raises(BankFileError) as exc:
        import_file(data, "bomb.xlsx", now=NOW)
    assert "过大" in str(exc.value)


def test_xlsx_with_too_many_entries_is_refused(cats):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(300):
            zf.writestr(f"x/{i}.xml", b"<a/>")
    with pytest.raises(BankFileError):
        import_file(buf.getvalue(), "many.xlsx", now=NOW)


def test_not_really_xlsx_is_refused(cats):
    with pytest.raises(BankFileError):
        import_file(b"id,category\n", "fake.xlsx", now=NOW)


def test_defusedxml_guards_openpyxl():
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML is True


# ------------------------------------------------------------- organizer pages


def test_organizer_upload_and_export(client, api, make_user, app):
    with app.app_context():
        sync_categories(
            [
                ("health", "卫生健康", ""),
                ("safety", "安全", ""),
                ("science", "科学", ""),
            ]
        )
        db.session.commit()
    api.login(make_user(role="organizer"))
    token = csrf_from(client.get("/admin/questions").get_data(as_text=True))
    bad = bank_rows()
    bad[2][2] = "essay"
    r = client.post(
        "/admin/questions/import",
        data={"csrf_token": token, "file": (io.BytesIO(rows_to_csv(bad)), "b.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    assert "第3行" in r.get_data(as_text=True)
    r = client.post(
        "/admin/questions/import",
        data={
            "csrf_token": token,
            "file": (io.BytesIO(rows_to_csv(bank_rows())), "b.csv"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 303
    r = client.get("/admin/questions/export.csv")
    assert r.headers["Content-Disposition"].startswith("attachment")
    exported = r.data
    with app.app_context():
        db.session.query(QuestionRevision).delete()
        db.session.query(Question).delete()
        db.session.commit()
        assert import_file(exported, "export.csv", now=NOW).created == 42


def test_upload_without_csrf_and_too_large(client, api, make_user, app):
    api.login(make_user(role="organizer"))
    r = client.post(
        "/admin/questions/import",
        data={"file": (io.BytesIO(b"x"), "b.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 400
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        token = csrf_from(client.get("/admin/questions").get_data(as_text=True))
        r = client.post(
            "/admin/questions/import",
            data={"csrf_token": token, "file": (io.BytesIO(b"x" * 5000), "b.csv")},
            content_type="multipart/form-data",
        )
        assert r.status_code == 413
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 5 * 1024 * 1024


def test_setup_adds_new_starter_questions_but_never_undoes_an_edit(app, tmp_path, cats):
    """`flask setup` runs at every start of bin/serve: an organizer's revision of
    a starter question must survive it, while new starter ids still load."""
    bank = tmp_path / "bank"
    bank.mkdir()
    (bank / "categories.csv").write_text(
        "code,name,description\nhealth,卫生健康,\nsafety,安全,\nscience,科学,\n",
        encoding="utf-8",
    )
    rows = bank_rows()
    (bank / "q.csv").write_bytes(rows_to_csv(rows[:5]))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["setup", "--bank", str(bank)]).exit_code == 0
    edited = [list(r) for r in rows[:5]]
    edited[1][4] = "组织者修改后的题干"
    import_file(rows_to_csv(edited), "fix.csv", now=NOW)
    (bank / "q.csv").write_bytes(rows_to_csv(rows[:8]))  # three new starter rows
    result = runner.invoke(args=["setup", "--bank", str(bank)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert count() == 7
    q = db.session.scalar(select(Question).where(Question.ext_id == rows[1][0]))
    assert q.stem == "组织者修改后的题干" and q.revision == 2


# ------------------------------------------------ neutralised exports round trip

BANK = Path(__file__).resolve().parents[2] / "question_bank"


def content(q) -> tuple:
    """What a question (or a checked file row) says, for comparing."""
    return (
        q.category_code if hasattr(q, "category_code") else q.category,
        q.type,
        q.difficulty,
        q.stem,
        tuple(q.options),
        q.answer,
        q.explanation,
        q.source,
    )


def bank_snapshot() -> dict[str, tuple]:
    return {q.ext_id: content(q) for q in db.session.scalars(sa.select(Question))}


def reread(data: bytes, fmt: str) -> dict[str, tuple]:
    """An export read back exactly as an import reads it."""
    rows = check_table(read_table(data, f"export.{fmt}"), category_codes())
    return {row.ext_id: content(row) for row in rows}


def exported_cells(data: bytes, fmt: str) -> list[list[str]]:
    return read_table(data, f"export.{fmt}")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_whole_starter_bank_round_trips_through_its_export(ctx, fmt):
    """Neutralised cells (the bank has options like -273.15℃) read back as the
    texts they were: the export re-imports as the same 600 questions."""
    import_directory(BANK, now=NOW)
    before = bank_snapshot()
    assert len(before) == 600
    questions = list(db.session.scalars(sa.select(Question).order_by(Question.ext_id)))
    data = export_csv(questions) if fmt == "csv" else export_xlsx(questions)
    cells = [c for row in exported_cells(data, fmt) for c in row]
    assert "'-273.15℃" in cells  # neutralised on the way out
    assert reread(data, fmt) == before
    assert import_file(data, f"export.{fmt}", now=NOW).created == 0
    assert bank_snapshot() == before


HOSTILE_ROW = {
    4: '\'=HYPERLINK("http://evil.example","点此领奖")',  # stem
    5: "'@SUM(A1)",
    6: "'+1",
    7: "-5 ℃",
    8: "'-cmd|' /C calc'!A0",
    12: "'-1 解析以减号开头",
}


def hostile_bank() -> list[list[str]]:
    rows = bank_rows()
    for col, text in HOSTILE_ROW.items():
        rows[1][col] = text
    rows[1][2], rows[1][11] = "single", "A"
    return rows


def test_marked_formula_texts_import_as_text_and_export_neutralised(
    client, api, make_user, app
):
    with app.app_context():
        sync_categories([(c, c, "") for c in ("health", "safety", "science")])
        db.session.commit()
        import_file(rows_to_csv(hostile_bank()), "b.csv", now=NOW)
        q = db.session.scalar(
            sa.select(Question).where(Question.ext_id == "health-001")
        )
        assert q.stem.startswith("=HYPERLINK(")  # the organizer's ' removed
        assert q.options == ["@SUM(A1)", "+1", "-5 ℃", "-cmd|' /C calc'!A0"]
        assert q.explanation == "-1 解析以减号开头"
        before = bank_snapshot()
    api.login(make_user(role="organizer"))
    for fmt in ("csv", "xlsx"):
        r = client.get(f"/admin/questions/export.{fmt}")
        assert r.status_code == 200
        assert r.headers["Content-Disposition"] == (
            f"attachment; filename=question_bank.{fmt}"
        )
        row = next(row for row in exported_cells(r.data, fmt) if row[0] == "health-001")
        for col, text in HOSTILE_ROW.items():
            assert row[col] == (text if text.startswith("'") else "'" + text)
        if fmt == "xlsx":
            ws = openpyxl.load_workbook(io.BytesIO(r.data)).worksheets[0]
            cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
            assert {c.data_type for c in cells} <= {"s", "n"}  # never "f"
        with app.app_context():
            assert reread(r.data, fmt) == before
            assert import_file(r.data, f"export.{fmt}", now=NOW).created == 0
            assert bank_snapshot() == before


@pytest.mark.parametrize(
    "cell, accepted, stored",
    [
        ("-273.15℃", True, "-273.15℃"),
        ("-5", True, "-5"),
        ("-.5 米", True, "-.5 米"),
        ("'-5 ℃", True, "-5 ℃"),
        ("'=1+2", True, "=1+2"),
        ("''=1", True, "'=1"),
        ("'普通文字", True, "'普通文字"),
        ("-cmd|' /C calc'!A0", False, None),
        ("-A1+B1", False, None),
        ("--1", False, None),
        ("=1+2", False, None),
        ("\n+1", False, None),
    ],
)
def test_a_leading_minus_is_refused_unless_it_starts_a_number(
    cats, cell, accepted, stored
):
    rows = bank_rows()
    rows[1][6] = cell  # option B of a single-choice question
    data = rows_to_csv(rows)
    if not accepted:
        with pytest.raises(BankFileError) as exc:
            import_file(data, "b.csv", now=NOW)
        assert exc.value.errors[0].line == 2 and "公式" in str(exc.value)
        assert count() == 0
        return
    import_file(data, "b.csv", now=NOW)
    q = db.session.scalar(sa.select(Question).where(Question.ext_id == "health-001"))
    assert q.options[1] == stored
