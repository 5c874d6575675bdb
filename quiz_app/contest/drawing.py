"""Drawing an attempt's questions from the active bank.

The draw honours the contest's type counts and category quotas, spreads the
rest evenly over categories, never puts two questions of one exclusion group
into one attempt, and is otherwise uniform within each (type, category).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, select

from ..caches import cache
from ..extensions import db
from ..models import Contest, Question, QuestionRevision
from .errors import BankTooSmall

LETTERS = "ABCDEF"
#: fresh shuffles tried before a draw is declared impossible (exclusion groups
#: can make one greedy pass fail where another succeeds)
DRAW_TRIES = 20


@dataclass(frozen=True)
class PoolItem:
    """What the draw needs of an active question (its current revision)."""

    id: int
    revision_id: int
    category: str
    type: str
    option_count: int
    group: str | None = None


def question_pool() -> list[PoolItem]:
    """Active questions' drawing facts, from the process cache."""
    return cache.content("pool", _load_pool)


def _load_pool() -> list[PoolItem]:
    rows = db.session.execute(
        select(
            Question.id,
            QuestionRevision.id.label("revision_id"),
            Question.category_code,
            QuestionRevision.type,
            QuestionRevision.options,
            Question.group,
        )
        .join(
            QuestionRevision,
            and_(
                QuestionRevision.question_id == Question.id,
                QuestionRevision.number == Question.revision,
            ),
        )
        .where(Question.active.is_(True))
        .order_by(Question.id)
    )
    return [
        PoolItem(r.id, r.revision_id, r.category_code, r.type, len(r.options), r.group)
        for r in rows
    ]


def bank_shortage(contest: Contest, pool: list[PoolItem]) -> str | None:
    """A message naming the first type or category the pool cannot fill, or None.

    Counts distinct exclusion groups (a group yields at most one question).
    """
    short = shortages(contest, pool)
    return next(iter(short.values()), None)


def shortages(contest: Contest, pool: list[PoolItem]) -> dict[str, str]:
    """Every type count and category quota the pool cannot fill, keyed
    `type_counts.<type>` / `category_quotas.<code>` (the contest editor shows
    each message next to its field). A group counts as one question."""

    def capacity(items: list[PoolItem]) -> int:
        groups = {i.group for i in items if i.group}
        return sum(1 for i in items if not i.group) + len(groups)

    out: dict[str, str] = {}
    for qtype, need in contest.type_counts.items():
        have = capacity([i for i in pool if i.type == qtype])
        if need > have:
            out[f"type_counts.{qtype}"] = (
                f"题型 {qtype} 需要 {need} 题，题库中可用的只有 {have} 题"
            )
    for cat, need in (contest.category_quotas or {}).items():
        have = capacity([i for i in pool if i.category == cat])
        if need > have:
            out[f"category_quotas.{cat}"] = (
                f"分类 {cat} 需要 {need} 题，题库中可用的只有 {have} 题"
            )
    return out


def draw_questions(
    contest: Contest, pool: list[PoolItem], rng: random.Random
) -> list[tuple[PoolItem, str]]:
    """Pick questions by type counts and category quotas; returns (item, option
    order) in a shuffled display order. Raises BankTooSmall."""
    for _ in range(DRAW_TRIES):
        chosen = _draw_once(contest, pool, rng)
        if chosen is not None:
            break
    else:
        raise BankTooSmall()
    rng.shuffle(chosen)
    drawn = []
    for item in chosen:
        letters = list(LETTERS[: item.option_count])
        if item.type != "judge":
            rng.shuffle(letters)
        drawn.append((item, "".join(letters)))
    return drawn


def _draw_once(
    contest: Contest, pool: list[PoolItem], rng: random.Random
) -> list[PoolItem] | None:
    """One greedy pass over shuffled buckets; None if it ran dry."""
    need = Counter({t: n for t, n in contest.type_counts.items() if n > 0})
    buckets: dict[tuple[str, str], list[PoolItem]] = defaultdict(list)
    for item in pool:
        buckets[(item.type, item.category)].append(item)
    for items in buckets.values():
        rng.shuffle(items)
    per_cat: Counter[str] = Counter()
    chosen: list[PoolItem] = []
    used_groups: set[str] = set()

    def available(qtype: str, cat: str) -> bool:
        items = buckets.get((qtype, cat))
        while items and items[-1].group in used_groups:
            items.pop()  # its group already has a question in this attempt
        return bool(items)

    def take(qtype: str, cat: str) -> None:
        item = buckets[(qtype, cat)].pop()
        if item.group:
            used_groups.add(item.group)
        chosen.append(item)
        need[qtype] -= 1
        per_cat[cat] += 1

    for cat, quota in (contest.category_quotas or {}).items():
        for _ in range(quota):
            types = [t for t in need if need[t] > 0 and available(t, cat)]
            if not types:
                return None
            best = max(need[t] for t in types)
            take(rng.choice([t for t in types if need[t] == best]), cat)
    for qtype in list(need):
        while need[qtype] > 0:
            cats = [c for (t, c) in list(buckets) if t == qtype and available(t, c)]
            if not cats:
                return None
            low = min(per_cat[c] for c in cats)
            take(qtype, rng.choice([c for c in cats if per_cat[c] == low]))
    return chosen
