"""Hostile bank files: an oversized CSV cell, a forged XLSX sheet dimension."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from quiz_app.bank.fileformat import BankFileError
from quiz_app.bank.services import import_file, sync_categories
from quiz_app.extensions import db
from quiz_app.models import Question
from tests.auth.test_views import csrf_from
from tests.conftest import NOW, bank_rows, rows_to_csv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cats(ctx):
    sync_categories([(c, c, "") for c in ("health", "safety", "science")])
    db.session.commit()


def count():
    return db.session.query(Question).count()


def test_csv_cell_beyond_the_csv_field_limit_is_a_row_error(cats):
    rows = bank_rows()
    rows[4][4] = "长" * 200_000  # line 5: beyond csv.field_size_limit() (131072)
    with pytest.raises(BankFileError) as exc:
        import_file(rows_to_csv(rows), "b.csv", now=NOW)
    [error] = exc.value.errors
    assert error.line == 5
    assert "过长" in error.message
    assert count() == 0


def test_csv_field_limit_error_counts_records_like_other_row_errors(cats):
    rows = bank_rows()
    rows[2][12] = "第一行\n第二行"  # a quoted two-line cell on record line 3
    rows[6][4] = "长" * 200_000  # record line 7 (physical line 8)
    with pytest.raises(BankFileError) as exc:
        import_file(rows_to_csv(rows), "b.csv", now=NOW)
    assert [e.line for e in exc.value.errors] == [7]
    assert count() == 0


def test_organizer_upload_of_an_oversized_cell_is_422_with_the_line(
    client, api, make_user, app
):
    with app.app_context():
        sync_categories([(c, c, "") for c in ("health", "safety", "science")])
        db.session.commit()
    api.login(make_user(role="organizer"))
    token = csrf_from(client.get("/admin/questions").get_data(as_text=True))
    rows = bank_rows()
    rows[3][4] = "x" * 150_000
    r = client.post(
        "/admin/questions/import",
        data={"csrf_token": token, "file": (io.BytesIO(rows_to_csv(rows)), "b.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422
    assert "第4行" in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Question).count() == 0


def forged_xlsx(
    rows, dimension: str = "A1:XFD1048576", last_row: int = 0, wide_cells: int = 0
) -> bytes:
    """A real workbook whose sheet XML claims `dimension` (edited in the zip);
    with `last_row`, one more row that far down (the rows in between are
    missing from the XML, as in a sparse sheet) holding a single blank cell,
    or `wide_cells` empty <c/> elements."""
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    plain = io.BytesIO()
    wb.save(plain)
    src = zipfile.ZipFile(io.BytesIO(plain.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data, n = re.subn(
                    rb'<dimension ref="[^"]+"\s*/>',
                    f'<dimension ref="{dimension}"/>'.encode(),
                    data,
                )
                assert n == 1
                if last_row:
                    cells = "<c/>" * wide_cells or (
                        f'<c r="A{last_row}" t="inlineStr"><is><t> </t></is></c>'
                    )
                    far = f'<row r="{last_row}">{cells}</row></sheetData>'
                    data = data.replace(b"</sheetData>", far.encode())
            dst.writestr(info, data)
    return out.getvalue()


# Run in a child process with an address-space cap, so that a regression fails
# this test with a MemoryError instead of taking gigabytes from the machine.
CHILD = """
import json, resource, sys, time, tracemalloc
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from quiz_app.bank.fileformat import BankFileError, read_xlsx_table
data = sys.stdin.buffer.read()
tracemalloc.start()
t0 = time.perf_counter()
try:
    table = read_xlsx_table(data)
    out = {"rows": len(table), "width": max(map(len, table))}
except BankFileError as exc:
    out = {"refused": [[e.line, e.message] for e in exc.errors]}
out["seconds"] = time.perf_counter() - t0
out["peak"] = tracemalloc.get_traced_memory()[1]
print(json.dumps(out))
"""


def read_in_child(data: bytes) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        input=data,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(done.stdout)
    assert result["peak"] < 50 * 1024 * 1024
    assert result["seconds"] < 15
    return result


def test_forged_xlsx_dimension_is_read_in_small_memory_and_quickly():
    # 43 real rows, then blank rows down to line 20,000: each one used to be
    # padded to the forged 16,384 columns (2.6 GB of cells from 7 KB).
    data = forged_xlsx(bank_rows(), last_row=20_000)
    assert len(data) < 20_000
    result = read_in_child(data)
    assert result["rows"] == 20_000
    assert result["width"] < 30


def test_xlsx_row_of_countless_empty_cells_is_refused_in_small_memory():
    # openpyxl builds a whole row before yielding it: 400,000 <c/> in one row
    # (1.6 MB of XML, a few KB zipped) used to cost over 100 MB.
    data = forged_xlsx(bank_rows()[:5], last_row=9, wide_cells=400_000)
    assert len(data) < 20_000
    result = read_in_child(data)
    assert result["refused"] == [[9, "这一行的单元格过多，已拒绝整个文件"]]


def test_forged_xlsx_dimension_still_imports_every_row(cats):
    data = forged_xlsx(bank_rows(), last_row=20_000)
    assert import_file(data, "b.xlsx", now=NOW).created == 42


def test_xlsx_data_in_an_extra_column_is_still_refused(cats):
    rows = bank_rows()
    rows[3] = rows[3] + ["", "多出来的一列"]
    with pytest.raises(BankFileError) as exc:
        import_file(forged_xlsx(rows), "b.xlsx", now=NOW)
    assert [e.line for e in exc.value.errors] == [4]
    assert count() == 0
