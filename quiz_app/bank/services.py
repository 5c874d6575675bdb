"""Bank operations: import (all rows or none), export, categories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from ..db import begin_write, end_transaction
from ..exports import csv_bytes, xlsx_bytes
from ..extensions import db
from ..models import Category, Question
from .fileformat import (
    HEADER,
    LETTERS,
    BankFileError,
    BankRow,
    RowError,
    check_table,
    read_csv_table,
    read_table,
)


@dataclass
class ImportResult:
    created: int
    updated: int

    @property
    def total(self) -> int:
        return self.created + self.updated


def read_categories(data: bytes) -> list[tuple[str, str, str]]:
    """Parse categories.csv (code,name,description)."""
    table = read_csv_table(data)
    if not table or [h.strip() for h in table[0]] != ["code", "name", "description"]:
        raise BankFileError([RowError(1, "分类表头应为 code,name,description")])
    out, errors = [], []
    for line, raw in enumerate(table[1:], start=2):
        if len(raw) != 3 or not raw[0].strip().isascii() or not raw[1].strip():
            errors.append(RowError(line, "分类行应有 code,name,description 三列"))
            continue
        out.append((raw[0].strip(), raw[1].strip(), raw[2].strip()))
    if errors:
        raise BankFileError(errors, "categories.csv")
    return out


def sync_categories(rows: list[tuple[str, str, str]]) -> None:
    """Insert or update categories (flush only)."""
    existing = {c.code: c for c in db.session.scalars(select(Category))}
    for order, (code, name, desc) in enumerate(rows):
        cat = existing.get(code) or Category(code=code)
        cat.name, cat.description, cat.sort_order = name, desc, order
        db.session.add(cat)
    db.session.flush()


def category_codes() -> set[str]:
    return set(db.session.scalars(select(Category.code)))


def import_rows(rows: list[BankRow], *, now: datetime) -> ImportResult:
    """Upsert checked rows by their stable id (flush only); ids must be unique."""
    seen: dict[str, int] = {}
    dupes = []
    for row in rows:
        if row.ext_id in seen:
            dupes.append(
                RowError(row.line, f"id “{row.ext_id}” 与第{seen[row.ext_id]}行重复")
            )
        seen[row.ext_id] = row.line
    if dupes:
        raise BankFileError(dupes)
    existing = {
        q.ext_id: q
        for q in db.session.scalars(
            select(Question).where(Question.ext_id.in_(list(seen)))
        )
    }
    created = updated = 0
    for row in rows:
        q = existing.get(row.ext_id)
        if q is None:
            q = Question(ext_id=row.ext_id)
            created += 1
        else:
            updated += 1
        q.category_code, q.type, q.difficulty = row.category, row.type, row.difficulty
        q.stem, q.options, q.answer = row.stem, row.options, row.answer
        q.explanation, q.source = row.explanation, row.source
        q.active, q.updated_at = True, now
        db.session.add(q)
    db.session.flush()
    return ImportResult(created, updated)


def import_file(data: bytes, filename: str, *, now: datetime) -> ImportResult:
    """Import one CSV/XLSX: every row or none. Commits; raises BankFileError.

    The file is parsed and checked with no transaction open: a large or
    hostile upload may take seconds to parse, and on SQLite a transaction that
    spans it would keep every other writer (answer saves, logins) waiting.
    """
    codes = category_codes()
    end_transaction()
    try:
        rows = check_table(read_table(data, filename), codes)
        begin_write()
        _check_categories_remain(rows)
        result = import_rows(rows, now=now)
    except BankFileError:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def _check_categories_remain(rows: list[BankRow]) -> None:
    """The rows were checked against categories read before the parse; one
    that is gone by the write is a row error, not a foreign-key failure."""
    gone = {row.category for row in rows} - category_codes()
    if gone:
        raise BankFileError(
            [
                RowError(row.line, f"分类 “{row.category}” 不存在")
                for row in rows
                if row.category in gone
            ]
        )


def import_directory(path: Path, *, now: datetime) -> ImportResult:
    """Import categories.csv and every other *.csv of a folder, all or nothing
    (parsed before the write transaction, like import_file)."""
    cat_file = path / "categories.csv"
    if not cat_file.exists():
        raise BankFileError([RowError(1, "缺少 categories.csv")], str(path))
    categories = read_categories(cat_file.read_bytes())
    codes = category_codes() | {code for code, _, _ in categories}
    end_transaction()
    rows: list[BankRow] = []
    for file in sorted(path.glob("*.csv")):
        if file.name == "categories.csv":
            continue
        try:
            rows.extend(check_table(read_table(file.read_bytes(), file.name), codes))
        except BankFileError as exc:
            exc.filename = file.name
            raise
    try:
        begin_write()
        sync_categories(categories)
        result = import_rows(rows, now=now)
    except BankFileError:
        db.session.rollback()
        raise
    db.session.commit()
    return result


def export_rows(questions: list[Question]) -> list[list[str | int]]:
    """Questions as rows of the bank format (header first), unneutralised:
    the writers below neutralise every cell, and the importer undoes it."""
    out: list[list[str | int]] = [list(HEADER)]
    for q in questions:
        if q.type == "judge":
            opts = [""] * 6
            answer = "正确" if q.answer == "A" else "错误"
        else:
            opts = q.options + [""] * (6 - len(q.options))
            answer = q.answer
        out.append(
            [
                q.ext_id,
                q.category_code,
                q.type,
                q.difficulty,
                q.stem,
                *opts,
                answer,
                q.explanation,
                q.source,
            ]
        )
    return out


def export_csv(questions: list[Question]) -> bytes:
    """The bank file format as CSV (UTF-8 with BOM), formula cells neutralised."""
    return csv_bytes(export_rows(questions))


def export_xlsx(questions: list[Question]) -> bytes:
    """The bank file format as XLSX, formula cells neutralised."""
    return xlsx_bytes(export_rows(questions), sheet="题库")


__all__ = [
    "LETTERS",
    "ImportResult",
    "import_file",
    "import_directory",
    "export_csv",
    "export_xlsx",
    "export_rows",
    "sync_categories",
    "read_categories",
]
