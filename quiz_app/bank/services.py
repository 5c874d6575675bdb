"""Bank operations: import (all rows or none), export, categories."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from ..caches import bump_content_epoch
from ..db import begin_write, end_transaction
from ..exports import csv_bytes, xlsx_bytes
from ..extensions import db
from ..models import Category, Question, QuestionRevision
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
    """What an import did, by question."""

    created: int = 0
    #: content changed: a new revision was added
    revised: int = 0
    #: only in-place fields changed (category, difficulty, source, group)
    edited: int = 0
    unchanged: int = 0

    @property
    def updated(self) -> int:
        return self.revised + self.edited

    @property
    def total(self) -> int:
        return self.created + self.revised + self.edited + self.unchanged


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


def _content(row: BankRow) -> tuple:
    return (row.type, row.stem, list(row.options), row.answer, row.explanation)


def _revision_content(rev: QuestionRevision) -> tuple:
    return (rev.type, rev.stem, list(rev.options), rev.answer, rev.explanation)


def add_revision(
    question: Question, row: BankRow, *, now: datetime, actor_id: int | None
) -> QuestionRevision:
    """Append a revision with the row's content and make it current (flush
    only). Attempts that drew an older revision keep it."""
    number = (question.revision or 0) + 1
    rev = QuestionRevision(
        number=number,
        type=row.type,
        stem=row.stem,
        options=list(row.options),
        answer=row.answer,
        explanation=row.explanation,
        created_at=now,
        created_by=actor_id,
    )
    if question.id is None:
        db.session.add(question)
        db.session.flush()
    rev.question_id = question.id
    db.session.add(rev)
    question.revision = number
    question.updated_at = now
    db.session.flush()
    db.session.expire(question, ["current"])
    return rev


def import_rows(
    rows: list[BankRow],
    *,
    now: datetime,
    actor_id: int | None = None,
    only_new: bool = False,
) -> ImportResult:
    """Create or revise questions by their stable id (flush only).

    A changed type, stem, options, key or explanation adds a revision; other
    fields are edited in place; an identical row changes nothing. Ids must be
    unique within the import. A retired question stays retired. With
    `only_new`, ids already in the bank are left as they are (counted as
    unchanged): `flask setup` must never undo an organizer's edit.
    """
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
    result = ImportResult()
    for row in rows:
        q = existing.get(row.ext_id)
        if q is not None and only_new:
            result.unchanged += 1
            continue
        in_place = (row.category, row.difficulty, row.source, row.group)
        if q is None:
            q = Question(ext_id=row.ext_id, active=True, revision=0)
            q.category_code, q.difficulty, q.source, q.group = in_place
            add_revision(q, row, now=now, actor_id=actor_id)
            result.created += 1
            continue
        content_changed = _content(row) != _revision_content(q.current)
        fields_changed = in_place != (q.category_code, q.difficulty, q.source, q.group)
        if fields_changed:
            q.category_code, q.difficulty, q.source, q.group = in_place
            q.updated_at = now
        if content_changed:
            add_revision(q, row, now=now, actor_id=actor_id)
            result.revised += 1
        elif fields_changed:
            result.edited += 1
        else:
            result.unchanged += 1
    if result.created or result.revised or result.edited:
        bump_content_epoch()
    db.session.flush()
    return result


def set_active(ext_id: str, active: bool, *, now: datetime) -> Question:
    """Retire (False) or restore (True) a question. Commits; every process
    stops drawing a retired question within seconds; open attempts keep it.
    Raises LookupError for an unknown id."""
    question = db.session.scalar(select(Question).where(Question.ext_id == ext_id))
    if question is None:
        raise LookupError(ext_id)
    if question.active != active:
        question.active = active
        question.updated_at = now
        bump_content_epoch()
    db.session.commit()
    return question


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


def import_directory(
    path: Path, *, now: datetime, only_new: bool = False
) -> ImportResult:
    """Import categories.csv and every other *.csv of a folder, all or nothing
    (parsed before the write transaction, like import_file; `only_new`: see
    import_rows)."""
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
        result = import_rows(rows, now=now, only_new=only_new)
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
                q.group or "",
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
