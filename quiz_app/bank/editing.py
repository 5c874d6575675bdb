"""Organizer edits of single questions and categories (pages and admin API).

Every edit goes through the import's row check (`fileformat._check_row`), so a
row the import refuses is refused here too, with the message placed on the
field it concerns. Each public function commits once, with its audit event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from ..auth.services import audit
from ..caches import bump_content_epoch
from ..db import begin_write
from ..extensions import db
from ..models import Category, Question, QuestionRevision, User
from .fileformat import HEADER, OPTION_COLUMNS, REQUIRED, BankRow, _check_row
from .services import _content, _revision_content, add_revision, category_codes

#: the question fields an organizer may send (API names; options is a list)
FIELDS = (
    "id",
    "category",
    "type",
    "difficulty",
    "stem",
    "options",
    "answer",
    "explanation",
    "source",
    "group",
)
CONTENT_FIELDS = ("type", "stem", "options", "answer", "explanation")


class BankEditError(Exception):
    """Base of the edit errors; nothing was saved."""


@dataclass
class QuestionInvalid(BankEditError):
    """The values break a bank rule; `fields` maps a field to its message."""

    fields: dict[str, str]


class QuestionExists(BankEditError):
    """A question with this id is already in the bank."""


class CategoryExists(BankEditError):
    """A category with this code is already there."""


class NotInBank(BankEditError, LookupError):
    """No question (or category) with that id."""


# Where the row check's message belongs: the column it names, else a keyword.
_FIELD_OF_MESSAGE = (
    ("判断题的选项", "options"),
    ("判断题答案", "answer"),
    ("单选题答案", "answer"),
    ("多选题答案", "answer"),
    ("答案", "answer"),
    ("选项", "options"),
    ("id ", "id"),
    ("group ", "group"),
    ("分类", "category"),
    ("题型", "type"),
    ("难度", "difficulty"),
)
_NAMED_COLUMN = re.compile(r"^“([a-z_]+)”")


def _field_of(message: str) -> str:
    named = _NAMED_COLUMN.match(message)
    if named:
        col = named.group(1)
        return "options" if col in OPTION_COLUMNS else col
    for needle, field in _FIELD_OF_MESSAGE:
        if message.startswith(needle) or needle in message:
            return field
    return "stem"


def values_of(question: Question) -> dict[str, Any]:
    """A question's current values in the API's shape (answer as in the CSV)."""
    answer = question.answer
    if question.type == "judge":
        answer = "正确" if answer == "A" else "错误"
    return {
        "id": question.ext_id,
        "category": question.category_code,
        "type": question.type,
        "difficulty": question.difficulty,
        "stem": question.stem,
        "options": [] if question.type == "judge" else list(question.options),
        "answer": answer,
        "explanation": question.explanation,
        "source": question.source,
        "group": question.group or "",
    }


def _shape_problems(values: dict[str, Any]) -> dict[str, str]:
    """Types the row check cannot see (the API sends JSON, not cells)."""
    problems: dict[str, str] = {}
    for name in FIELDS:
        value = values.get(name)
        if name == "options":
            if not isinstance(value, list) or not all(
                isinstance(o, str) for o in value
            ):
                problems[name] = "选项必须是文字的列表"
            elif len(value) > len(OPTION_COLUMNS):
                problems[name] = f"最多 {len(OPTION_COLUMNS)} 个选项"
        elif name == "difficulty":
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                problems[name] = "难度必须是 1、2 或 3"
        elif value is not None and not isinstance(value, str):
            problems[name] = "必须是文字"
    return problems


def check_values(values: dict[str, Any], categories: set[str]) -> BankRow:
    """The values as a checked BankRow, by the import's rules; raises
    QuestionInvalid naming the field."""
    problems = _shape_problems(values)
    if problems:
        raise QuestionInvalid(problems)
    options = [o.strip() for o in values.get("options") or []]
    options += [""] * (len(OPTION_COLUMNS) - len(options))
    cells = {
        "id": values.get("id") or "",
        "category": values.get("category") or "",
        "type": values.get("type") or "",
        "difficulty": str(values.get("difficulty") or ""),
        "stem": values.get("stem") or "",
        "answer": values.get("answer") or "",
        "explanation": values.get("explanation") or "",
        "source": values.get("source") or "",
        "group": values.get("group") or "",
        **dict(zip(OPTION_COLUMNS, options, strict=True)),
    }
    cells = {col: cells[col].strip() for col in HEADER}
    # The row check stops at its first problem; every empty required field
    # is named at once so a form shows them all (the same rule, REQUIRED).
    empty = {
        _field_of(f"“{col}”"): f"“{col}” 不能为空" for col in REQUIRED if not cells[col]
    }
    if empty:
        raise QuestionInvalid(empty)
    row, problem = _check_row(0, cells, categories)
    if problem:
        raise QuestionInvalid({_field_of(problem): problem})
    return row


def _find(ext_id: str) -> Question:
    question = db.session.scalar(
        select(Question)
        .where(Question.ext_id == ext_id)
        .execution_options(populate_existing=True)
    )
    if question is None:
        raise NotInBank(ext_id)
    return question


def create_question(
    values: dict[str, Any], *, actor: User | None, ip: str | None, now: datetime
) -> Question:
    """Add a question (revision 1, created by `actor`). Commits with an audit
    event. Raises QuestionInvalid, or QuestionExists for a taken id."""
    begin_write()
    row = check_values(values, category_codes())
    if db.session.scalar(select(Question.id).where(Question.ext_id == row.ext_id)):
        raise QuestionExists(row.ext_id)
    question = Question(ext_id=row.ext_id, active=True, revision=0)
    question.category_code, question.difficulty = row.category, row.difficulty
    question.source, question.group = row.source, row.group
    add_revision(question, row, now=now, actor_id=actor.id if actor else None)
    bump_content_epoch()
    audit(
        "bank_create",
        outcome="ok",
        actor=actor,
        ip=ip,
        obj=f"question:{row.ext_id}",
        now=now,
    )
    return question


@dataclass(frozen=True)
class EditResult:
    question: Question
    #: a new revision was added (content changed)
    revised: bool
    #: category, difficulty, source, group or active changed in place
    edited: bool


def update_question(
    ext_id: str,
    changes: dict[str, Any],
    *,
    actor: User | None,
    ip: str | None,
    now: datetime,
) -> EditResult:
    """Apply any subset of the question's fields (and `active`).

    The merged values are checked as one row. A change of type, stem,
    options, answer or explanation adds a revision by `actor`; the other
    fields change in place; identical values change nothing. Commits with an
    audit event. Raises NotInBank, or QuestionInvalid (nothing saved).
    """
    begin_write()
    question = _find(ext_id)
    if "id" in changes and changes["id"] != ext_id:
        raise QuestionInvalid({"id": "题目编号不能修改"})
    active = changes.get("active", question.active)
    if not isinstance(active, bool):
        raise QuestionInvalid({"active": "active 必须是 true 或 false"})
    values = values_of(question)
    if "type" in changes and changes["type"] == "judge" and "options" not in changes:
        values["options"] = []  # a judge question has no option texts
    values.update({k: v for k, v in changes.items() if k in FIELDS})
    row = check_values(values, category_codes())
    content_changed = _content(row) != _revision_content(question.current)
    in_place = (row.category, row.difficulty, row.source, row.group, active)
    old = (
        question.category_code,
        question.difficulty,
        question.source,
        question.group,
        question.active,
    )
    edited = in_place != old
    if edited:
        question.category_code, question.difficulty = row.category, row.difficulty
        question.source, question.group, question.active = in_place[2:]
        question.updated_at = now
    if content_changed:
        add_revision(question, row, now=now, actor_id=actor.id if actor else None)
    if edited or content_changed:
        bump_content_epoch()
    if active != old[4]:
        action = "bank_restore" if active else "bank_retire"
    else:
        action = "bank_edit"
    outcome = (
        f"revision:{question.revision}"
        if content_changed
        else ("in_place" if edited else "unchanged")
    )
    audit(
        action, outcome=outcome, actor=actor, ip=ip, obj=f"question:{ext_id}", now=now
    )
    return EditResult(question, content_changed, edited)


def set_question_active(
    ext_id: str, active: bool, *, actor: User | None, ip: str | None, now: datetime
) -> EditResult:
    """Retire (False) or restore (True); new draws follow in every process
    within seconds, open attempts keep the question. Audited; commits."""
    return update_question(ext_id, {"active": active}, actor=actor, ip=ip, now=now)


def revisions_of(question: Question) -> list[tuple[QuestionRevision, User | None]]:
    """Every revision of the question, newest first, with who made it."""
    return list(
        db.session.execute(
            select(QuestionRevision, User)
            .outerjoin(User, User.id == QuestionRevision.created_by)
            .where(QuestionRevision.question_id == question.id)
            .order_by(QuestionRevision.number.desc())
        ).tuples()
    )


# Categories: codes are stable (they are in URLs, quotas and files).
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def _check_category(name: str, description: str) -> dict[str, str]:
    problems = {}
    if not name.strip():
        problems["name"] = "请填写分类名称"
    elif len(name) > 64:
        problems["name"] = "分类名称最多 64 个字"
    if len(description) > 2000:
        problems["description"] = "说明最多 2000 个字"
    return problems


def add_category(
    code: str,
    name: str,
    description: str,
    *,
    actor: User | None,
    ip: str | None,
    now: datetime,
) -> Category:
    """Add a category at the end of the list. Raises QuestionInvalid (field
    messages) or CategoryExists. Commits with an audit event."""
    problems = _check_category(name, description)
    if not _CODE.match(code):
        problems["code"] = "代码只能用小写字母、数字、- 和 _（最多 32 个）"
    if problems:
        raise QuestionInvalid(problems)
    begin_write()
    if db.session.get(Category, code) is not None:
        raise CategoryExists(code)
    last = db.session.scalar(
        select(Category.sort_order).order_by(Category.sort_order.desc()).limit(1)
    )
    category = Category(
        code=code,
        name=name.strip(),
        description=description.strip(),
        sort_order=(last or 0) + 1,
    )
    db.session.add(category)
    db.session.flush()
    bump_content_epoch()
    audit(
        "category_add",
        outcome="ok",
        actor=actor,
        ip=ip,
        obj=f"category:{code}",
        now=now,
    )
    return category


def update_category(
    code: str,
    name: str,
    description: str,
    *,
    actor: User | None,
    ip: str | None,
    now: datetime,
) -> Category:
    """Rename or describe a category (its code never changes). Raises
    NotInBank or QuestionInvalid. Commits with an audit event."""
    problems = _check_category(name, description)
    if problems:
        raise QuestionInvalid(problems)
    begin_write()
    category = db.session.get(Category, code)
    if category is None:
        raise NotInBank(code)
    category.name, category.description = name.strip(), description.strip()
    bump_content_epoch()
    audit(
        "category_edit",
        outcome="ok",
        actor=actor,
        ip=ip,
        obj=f"category:{code}",
        now=now,
    )
    return category
