"""Reads of the bank for organizers: search, counts against a contest's needs,
the question object of the admin API, the import template."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from ..exports import csv_bytes, xlsx_bytes
from ..extensions import db
from ..models import QUESTION_TYPES, Category, Contest, Question, QuestionRevision
from ..params import parse_int
from .editing import NotInBank, values_of
from .fileformat import HEADER


@dataclass(frozen=True)
class BankFilter:
    """Search and filters of the bank list; None means "any"."""

    q: str = ""
    category: str | None = None
    type: str | None = None
    difficulty: int | None = None
    active: bool | None = None


def _bool_arg(raw: str | None) -> tuple[bool | None, bool]:
    """(value, ok) for an optional true/false query argument."""
    if raw in (None, ""):
        return None, True
    if raw in ("true", "1"):
        return True, True
    if raw in ("false", "0"):
        return False, True
    return None, False


def parse_filter(args: Mapping[str, str]) -> tuple[BankFilter, dict[str, str]]:
    """The bank list's query arguments (pages, API, exports), with a message
    per bad one."""
    problems: dict[str, str] = {}
    qtype = args.get("type") or None
    if qtype is not None and qtype not in QUESTION_TYPES:
        problems["type"] = "题型应为 single、multiple 或 judge"
        qtype = None
    difficulty = None
    if args.get("difficulty"):
        difficulty = parse_int(args.get("difficulty"), lo=1, hi=3)
        if difficulty is None:
            problems["difficulty"] = "难度应为 1、2 或 3"
    active, ok = _bool_arg(args.get("active"))
    if not ok:
        problems["active"] = "active 应为 true 或 false"
    q = (args.get("q") or "").strip()[:200]
    f = BankFilter(
        q=q,
        category=args.get("category") or None,
        type=qtype,
        difficulty=difficulty,
        active=active,
    )
    return f, problems


def _filtered(f: BankFilter) -> Select:
    current = and_(
        QuestionRevision.question_id == Question.id,
        QuestionRevision.number == Question.revision,
    )
    stmt = select(Question).join(QuestionRevision, current)
    if f.q:
        needle = f.q.strip().lower()
        stmt = stmt.where(
            or_(
                func.lower(Question.ext_id).contains(needle, autoescape=True),
                func.lower(QuestionRevision.stem).contains(needle, autoescape=True),
            )
        )
    if f.category:
        stmt = stmt.where(Question.category_code == f.category)
    if f.type:
        stmt = stmt.where(QuestionRevision.type == f.type)
    if f.difficulty:
        stmt = stmt.where(Question.difficulty == f.difficulty)
    if f.active is not None:
        stmt = stmt.where(Question.active.is_(f.active))
    return stmt


def search(f: BankFilter, *, page: int, per_page: int) -> tuple[list[Question], int]:
    """One page of matching questions (by id) and the number of matches."""
    stmt = _filtered(f)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    items = db.session.scalars(
        stmt.order_by(Question.ext_id).limit(per_page).offset((page - 1) * per_page)
    )
    return list(items), total or 0


def all_matching(f: BankFilter) -> list[Question]:
    """Every matching question by id (exports)."""
    return list(db.session.scalars(_filtered(f).order_by(Question.ext_id)))


@dataclass
class Coverage:
    """Active questions by category and by type, and what a contest asks."""

    by_category: dict[str, int] = field(default_factory=dict)
    by_type: dict[str, int] = field(default_factory=dict)
    #: the contest's type_counts and category_quotas ({} without a contest)
    type_needs: dict[str, int] = field(default_factory=dict)
    category_needs: dict[str, int] = field(default_factory=dict)


def coverage(contest: Contest | None) -> Coverage:
    """Counts of active questions against the contest's draw rules."""
    current = and_(
        QuestionRevision.question_id == Question.id,
        QuestionRevision.number == Question.revision,
    )
    active = Question.active.is_(True)
    by_cat = db.session.execute(
        select(Question.category_code, func.count())
        .where(active)
        .group_by(Question.category_code)
    ).all()
    by_type = db.session.execute(
        select(QuestionRevision.type, func.count())
        .select_from(Question)
        .join(QuestionRevision, current)
        .where(active)
        .group_by(QuestionRevision.type)
    ).all()
    return Coverage(
        by_category=dict(by_cat),
        by_type={t: dict(by_type).get(t, 0) for t in QUESTION_TYPES},
        type_needs=dict(contest.type_counts or {}) if contest else {},
        category_needs=dict(contest.category_quotas or {}) if contest else {},
    )


def categories() -> list[Category]:
    return list(db.session.scalars(select(Category).order_by(Category.sort_order)))


def question_json(question: Question) -> dict[str, Any]:
    """The admin API's question object (options in original order)."""
    values = values_of(question)
    values["group"] = question.group
    values["active"] = question.active
    values["revision"] = question.revision
    return values


# One example per type, in the bank format (the template download).
_EXAMPLES = (
    (
        "example-001",
        "single",
        "2",
        "地球绕太阳公转一周大约需要多长时间？",
        ["一天", "一个月", "一年", "十年"],
        "C",
        "地球公转周期约为365天，即一年。",
        "《全民科学素质行动规划纲要》科普读本",
    ),
    (
        "example-002",
        "multiple",
        "2",
        "下列哪些属于可再生能源？",
        ["太阳能", "风能", "煤炭", "水能"],
        "ABD",
        "太阳能、风能和水能可以不断再生，煤炭是化石能源。",
        "国家能源局科普资料",
    ),
    (
        "example-003",
        "judge",
        "1",
        "声音在真空中无法传播。",
        [],
        "正确",
        "声音的传播需要介质，真空中没有介质。",
        "初中物理教材",
    ),
)


def template_rows(category: str) -> list[list[str]]:
    """The header and one example row per type, using `category`."""
    rows = [list(HEADER)]
    for ext_id, qtype, difficulty, stem, options, answer, why, source in _EXAMPLES:
        opts = options + [""] * (6 - len(options))
        rows.append(
            [ext_id, category, qtype, difficulty, stem, *opts, answer, why, source, ""]
        )
    return rows


def template_file(fmt: str, category: str) -> bytes:
    rows = template_rows(category)
    return xlsx_bytes(rows, sheet="题库") if fmt == "xlsx" else csv_bytes(rows)


def find(ext_id: str) -> Question:
    """The question with that stable id; raises NotInBank."""
    question = db.session.scalar(select(Question).where(Question.ext_id == ext_id))
    if question is None:
        raise NotInBank(ext_id)
    return question
