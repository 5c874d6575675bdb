"""Spreadsheet exports: the one formula-neutralising writer (CSV and XLSX).

Staff and organizers open exports in Excel or WPS, which run a cell that
starts with `=`, `+`, `-` or `@` as a formula (and DDE payloads like
`-cmd|'/C calc'!A0`); a leading TAB, CR or LF hides such a start from naive
checks. Every text cell that starts with one of them gets a leading `'`, the
spreadsheet's own "this is text" mark (OWASP CSV injection). Numbers the
platform computed stay numbers. CSV cells are all quoted with inner quotes
doubled, so `a";=1+2` cannot start a new cell.

Neutralising must not break the bank's round trip (export, edit, re-import):
`unneutralise` is its exact inverse, and the bank importer applies it. For
that to hold for every text, a text that itself starts with `'` is marked
too (`'x` exports as `''x`), so stripping one `'` before a marked character is
never ambiguous.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
MARK = "'"
_MARKED = (*FORMULA_STARTS, MARK)


def neutralise(value: Any) -> str | int | float:
    """A cell value that no spreadsheet evaluates: numbers pass as numbers,
    None becomes empty text, text starting with = + - @ TAB CR LF (or ') gets
    a leading '."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    return MARK + text if text.startswith(_MARKED) else text


def unneutralise(text: str) -> str:
    """Undo `neutralise` on text read back from an export (one ' before a
    marked character is removed; any other text is returned as it is)."""
    if text.startswith(MARK) and text[1:].startswith(_MARKED):
        return text[1:]
    return text


def csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 CSV with a BOM (so Excel picks the encoding), every cell
    neutralised and quoted."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def xlsx_bytes(rows: Iterable[Sequence[Any]], sheet: str = "Sheet1") -> bytes:
    """An .xlsx (openpyxl write-only, streamed row by row) of neutralised
    cells; text cells are typed as strings, never as formulas."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    for row in rows:
        cells = []
        for value in row:
            safe = neutralise(value)
            if safe == "":
                cell = WriteOnlyCell(ws, value=None)  # an empty cell, not ""
            elif isinstance(safe, str):
                # Control characters other than TAB/CR/LF cannot be stored in
                # XLSX XML at all; they are dropped (CSV keeps them).
                cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("", safe))
                cell.data_type = "s"
            else:
                cell = WriteOnlyCell(ws, value=safe)
            cells.append(cell)
        ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
