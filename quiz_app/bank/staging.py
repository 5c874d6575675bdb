"""Bank import in two steps: preview what an upload would change, then
confirm it.

The upload is parsed and checked once, with no transaction open (see
services.import_file), and its rows are kept server-side in an
ImportStaging row together with the plan the organizer is shown, the file's
SHA-256 and a digest of the bank rows the file touches. The confirm applies
exactly those rows, all or nothing, but only if the digest still matches:
when the bank changed in between (an edit, another import, a category
removed), the confirm answers with a fresh preview instead of applying a
stale one. A preview belongs to the organizer who uploaded it, is used at
most once and expires.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from ..auth.services import add_audit
from ..db import begin_write, end_transaction
from ..extensions import db
from ..models import ImportStaging, Question, User
from .fileformat import BankFileError, BankRow, RowError, check_table, read_table
from .services import category_codes, import_rows

PREVIEW_TTL = timedelta(minutes=30)
#: preview tables list at most this many questions each (the counts are exact)
PLAN_LIST_MAX = 500
CONTENT_FIELDS = {
    "type": "题型",
    "stem": "题干",
    "options": "选项",
    "answer": "答案",
    "explanation": "解析",
}
IN_PLACE_FIELDS = {
    "category": "分类",
    "difficulty": "难度",
    "source": "出处",
    "group": "互斥分组",
}


class PreviewGone(Exception):
    """No such preview for this organizer (unknown, or someone else's)."""


class PreviewUsed(Exception):
    """Already confirmed (or replaced by a newer preview)."""


class PreviewExpired(Exception):
    pass


def _duplicate_errors(rows: list[BankRow]) -> list[RowError]:
    seen: dict[str, int] = {}
    errors = []
    for row in rows:
        if row.ext_id in seen:
            errors.append(
                RowError(row.line, f"id “{row.ext_id}” 与第{seen[row.ext_id]}行重复")
            )
        seen[row.ext_id] = row.line
    return errors


def _existing(rows: list[BankRow]) -> dict[str, Question]:
    ids = [row.ext_id for row in rows]
    found: dict[str, Question] = {}
    for start in range(0, len(ids), 1000):  # bounded IN lists
        chunk = ids[start : start + 1000]
        for q in db.session.scalars(select(Question).where(Question.ext_id.in_(chunk))):
            found[q.ext_id] = q
    return found


def bank_digest(rows: list[BankRow]) -> str:
    """SHA-256 of what an import of `rows` depends on: the current revision
    and in-place fields of every question the rows name, and the category
    codes. Any edit that could change the plan changes it."""
    existing = _existing(rows)
    state = sorted(
        [q.ext_id, q.revision, q.category_code, q.difficulty, q.source, q.group]
        for q in existing.values()
    )
    blob = json.dumps(
        {"questions": state, "categories": sorted(category_codes())},
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def plan_import(rows: list[BankRow]) -> dict[str, Any]:
    """What importing `rows` would do, read-only: new questions, new
    revisions and in-place edits with their changed fields, unchanged count.
    Raises BankFileError (duplicate ids, categories gone)."""
    errors = _duplicate_errors(rows)
    codes = category_codes()
    errors += [
        RowError(row.line, f"分类 “{row.category}” 不存在")
        for row in rows
        if row.category not in codes
    ]
    if errors:
        raise BankFileError(sorted(errors, key=lambda e: e.line))
    existing = _existing(rows)
    plan: dict[str, Any] = {
        "created": [],
        "revised": [],
        "edited": [],
        "counts": {"created": 0, "revised": 0, "edited": 0, "unchanged": 0},
    }

    def note(kind: str, item: dict[str, Any]) -> None:
        plan["counts"][kind] += 1
        if len(plan[kind]) < PLAN_LIST_MAX:
            plan[kind].append(item)

    for row in rows:
        q = existing.get(row.ext_id)
        if q is None:
            note(
                "created",
                {"line": row.line, "id": row.ext_id, "category": row.category,
                 "type": row.type, "stem": row.stem[:80]},
            )  # fmt: skip
            continue
        cur = q.current
        content = [
            label
            for name, label in CONTENT_FIELDS.items()
            if getattr(row, name) != (list(cur.options) if name == "options"
                                      else getattr(cur, name))
        ]  # fmt: skip
        now_in_place = {
            "category": q.category_code,
            "difficulty": q.difficulty,
            "source": q.source,
            "group": q.group,
        }
        in_place = [
            label
            for name, label in IN_PLACE_FIELDS.items()
            if getattr(row, name) != now_in_place[name]
        ]
        item = {"line": row.line, "id": row.ext_id, "stem": row.stem[:80],
                "revision": q.revision, "changed": content + in_place}  # fmt: skip
        if content:
            note("revised", item)
        elif in_place:
            note("edited", item)
        else:
            plan["counts"]["unchanged"] += 1
    return plan


def _row(data: dict[str, Any]) -> BankRow:
    return BankRow(**{**data, "options": list(data["options"])})


def _stage(
    rows: list[BankRow],
    *,
    user: User,
    filename: str,
    checksum: str,
    now: datetime,
    ip: str | None,
) -> ImportStaging:
    """Plan, then write the staging row (commits). Raises BankFileError."""
    begin_write()
    try:
        plan = plan_import(rows)
    except BankFileError:
        db.session.rollback()
        raise
    db.session.execute(
        delete(ImportStaging).where(
            ImportStaging.user_id == user.id, ImportStaging.expires_at < now
        )
    )
    staged = ImportStaging(
        token=secrets.token_urlsafe(24),
        user_id=user.id,
        filename=filename[:200],
        checksum=checksum,
        bank_digest=bank_digest(rows),
        rows=[asdict(r) for r in rows],
        plan=plan,
        created_at=now,
        expires_at=now + PREVIEW_TTL,
    )
    db.session.add(staged)
    add_audit(
        "bank_import_preview",
        outcome=f"ok:{sum(plan['counts'].values())}",
        actor=user,
        ip=ip,
        obj=f"{filename[:80]} sha256:{checksum[:16]} "
        + ",".join(f"{k}={v}" for k, v in plan["counts"].items()),
        now=now,
    )
    db.session.commit()
    return staged


def preview_upload(
    data: bytes, filename: str, *, user: User, now: datetime, ip: str | None = None
) -> ImportStaging:
    """Check an uploaded CSV/XLSX and stage it for confirmation (commits the
    staging row and an audit event; the bank is not touched). Raises
    BankFileError listing every bad row."""
    codes = category_codes()
    end_transaction()
    rows = check_table(read_table(data, filename), codes)  # no lock held
    checksum = hashlib.sha256(data).hexdigest()
    return _stage(rows, user=user, filename=filename, checksum=checksum, now=now,
                  ip=ip)  # fmt: skip


def get_preview(token: str, user: User) -> ImportStaging:
    """The organizer's own preview by token; raises PreviewGone."""
    staged = db.session.scalar(
        select(ImportStaging).where(ImportStaging.token == token)
    )
    if staged is None or staged.user_id != user.id:
        raise PreviewGone()
    return staged


def confirm_import(
    token: str, *, user: User, now: datetime, ip: str | None = None
) -> tuple[ImportStaging, bool]:
    """Apply a preview (commits): (the preview, True) when applied; when the
    bank changed since the preview, (a new preview of the same rows, False)
    and nothing is imported. Raises PreviewGone, PreviewUsed,
    PreviewExpired, or BankFileError (rows no longer valid, e.g. a category
    was removed: nothing imported)."""
    begin_write()
    staged = db.session.scalar(
        select(ImportStaging)
        .where(ImportStaging.token == token)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if staged is None or staged.user_id != user.id:
        db.session.rollback()
        raise PreviewGone()
    if staged.used_at is not None:
        db.session.rollback()
        raise PreviewUsed()
    if now >= staged.expires_at:
        db.session.rollback()
        raise PreviewExpired()
    rows = [_row(r) for r in staged.rows]
    if bank_digest(rows) != staged.bank_digest:
        staged.used_at = now  # replaced by the new preview
        db.session.flush()
        return _stage(rows, user=user, filename=staged.filename,
                      checksum=staged.checksum, now=now, ip=ip), False  # fmt: skip
    try:
        result = import_rows(rows, now=now, actor_id=user.id)
    except BankFileError:  # checked by the plan already; never half-applied
        db.session.rollback()
        raise
    counts = staged.plan["counts"]
    applied = {"created": result.created, "revised": result.revised,
               "edited": result.edited, "unchanged": result.unchanged}  # fmt: skip
    if applied != counts:  # cannot happen with an unchanged digest
        db.session.rollback()
        raise RuntimeError(f"import of preview {staged.id} diverged from its plan")
    staged.used_at = now
    add_audit(
        "bank_import",
        outcome=f"ok:{result.total}",
        actor=user,
        ip=ip,
        obj=f"{staged.filename[:80]} sha256:{staged.checksum[:16]} "
        + ",".join(f"{k}={v}" for k, v in applied.items()),
        now=now,
    )
    db.session.commit()
    return staged, True
