"""Item statistics: how each question revision did in a contest.

The figures come from additive sums (item_stat) over the finished,
non-disqualified attempts, never from a scan per page view:

* a refresh adds the attempts finished since the last one. Attempts are
  counted by id: every id up to the contest's watermark is counted except
  those in item_stat_pending (open when last seen), which the first refresh
  after they finish adds. So an attempt that expires late, or finishes after
  a newer one, is neither missed nor counted twice;
* a regrade or a disqualification subtracts the attempts it changes before
  the change and adds them back after it, in its own transaction, so the
  sums stay exact without rebuilding the contest;
* `refresh(..., full=True)` recounts the contest from scratch (the repair).

Nothing here runs on a citizen's request: finishing an attempt writes no
statistics. Discrimination is the corrected item-total point-biserial: the
correlation between x (1 if the item is fully correct) and T, the attempt's
number of *other* items correct, from n, Σx, ΣT, ΣT², ΣxT.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, delete, func, insert, literal, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite

from ..db import begin_write
from ..extensions import db
from ..models import (
    STAT_LETTERS,
    Attempt,
    AttemptAnswer,
    Contest,
    ItemStat,
    ItemStatPending,
    ItemStatState,
    Question,
    QuestionRevision,
)

DISCRIMINATION_METHOD = "corrected_point_biserial"
#: the top group: attempts with at least this share of their other items right
TOP_SHARE = 0.8
TOO_EASY = 0.95
TOO_HARD = 0.2
FLAGS = ("too_easy", "too_hard", "suspect_key")
#: attempts started this recently may still be uncommitted: left for later
SETTLE = timedelta(seconds=60)
#: ids per IN list when subtracting or adding back named attempts
CHUNK = 5000
SORTS = ("id", "exposures", "facility", "discrimination")

SUM_COLUMNS = (
    "exposures", "answered", "correct", "sum_t", "sum_tt", "sum_xt", "top_n",
    *(f"pick_{c}" for c in STAT_LETTERS), *(f"top_{c}" for c in STAT_LETTERS),
)  # fmt: skip


def top_threshold(contest: Contest) -> int:
    """Other items right that put an attempt in the top group. Fixed by the
    contest's frozen question count, so every batch uses the same group."""
    return math.ceil(TOP_SHARE * (contest.questions_per_attempt - 1))


def _sums(contest: Contest, attempts_where, sign: int):
    """SELECT of the sums per revision over the items of the attempts that
    `attempts_where` picks, multiplied by `sign` (+1 add, -1 subtract)."""
    a, aa = Attempt, AttemptAnswer
    x = case((aa.is_correct.is_(True), 1), else_=0)
    t = a.correct_count - x
    top = case((t >= top_threshold(contest), 1), else_=0)
    answered = case((aa.choices.is_not(None), 1), else_=0)

    def total(expr):
        return literal(sign) * func.sum(expr)

    picks = [case((aa.choices.contains(c.upper()), 1), else_=0) for c in STAT_LETTERS]
    exprs = [
        literal(contest.id),
        aa.revision_id,
        func.min(aa.question_id),
        literal(sign) * func.count(),
        total(answered),
        total(x),
        total(t),
        total(t * t),
        total(x * t),
        total(top),
        *(total(p) for p in picks),
        *(total(top * p) for p in picks),
    ]
    names = ("contest_id", "revision_id", "question_id", *SUM_COLUMNS)
    cols = [e.label(n) for e, n in zip(exprs, names, strict=True)]
    return (
        select(*cols)
        .select_from(aa)
        .join(a, a.id == aa.attempt_id)
        .where(
            a.contest_id == contest.id,
            a.finished_at.is_not(None),
            a.disqualified_at.is_(None),
            attempts_where,
        )
        .group_by(aa.revision_id)
    )


def _add(contest: Contest, attempts_where, sign: int = 1) -> None:
    """Add (or subtract) the picked attempts' sums into item_stat (flush)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    names = ["contest_id", "revision_id", "question_id", *SUM_COLUMNS]
    stmt = dialect.insert(ItemStat).from_select(
        names, _sums(contest, attempts_where, sign)
    )
    table = ItemStat.__table__
    stmt = stmt.on_conflict_do_update(
        index_elements=["contest_id", "revision_id"],
        set_={c: table.c[c] + stmt.excluded[c] for c in SUM_COLUMNS},
    )
    db.session.execute(stmt)
    if sign < 0:
        db.session.execute(
            delete(ItemStat).where(
                ItemStat.contest_id == contest.id, ItemStat.exposures <= 0
            )
        )


def _count(contest: Contest, attempts_where) -> int:
    return db.session.scalar(
        select(func.count(Attempt.id)).where(
            Attempt.contest_id == contest.id,
            Attempt.finished_at.is_not(None),
            Attempt.disqualified_at.is_(None),
            attempts_where,
        )
    )


def _lock_state(contest_id: int, *, wait: bool) -> ItemStatState | None:
    """The contest's state row, created if missing, locked FOR UPDATE (None if
    another transaction holds it and `wait` is False). SQLite transactions
    that write already hold the database's one write lock."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    db.session.execute(
        dialect.insert(ItemStatState)
        .values(contest_id=contest_id, watermark=0, attempts=0)
        .on_conflict_do_nothing(index_elements=["contest_id"])
    )
    return db.session.scalars(
        select(ItemStatState)
        .where(ItemStatState.contest_id == contest_id)
        .with_for_update(skip_locked=not wait)
        .execution_options(populate_existing=True)
    ).first()


@dataclass(frozen=True)
class RefreshResult:
    contest_id: int
    full: bool
    #: attempts added by this refresh
    added: int
    #: attempts counted in all
    attempts: int
    watermark: int
    #: attempts at or below the watermark still open (counted once finished)
    pending: int
    #: True if more attempts wait beyond this refresh's batch limit
    more: bool = False


def refresh(
    contest: Contest,
    *,
    now: datetime,
    full: bool = False,
    wait: bool = True,
    max_age: timedelta | None = None,
    batch: int | None = None,
) -> RefreshResult | None:
    """Count the contest's attempts finished since the last refresh (all of
    them with `full`). Commits.

    Returns None without doing anything when `wait` is False and another
    refresh holds the contest's lock, or when `max_age` is given and the
    statistics were refreshed within it (checked under the lock, so two
    organizers opening the page refresh once). `batch` caps how many attempt
    ids past the watermark one call takes on (page views; the CLI takes all).
    """
    begin_write()
    state = _lock_state(contest.id, wait=wait)
    if state is None:
        db.session.rollback()
        return None
    fresh = state.refreshed_at is not None and (
        max_age is not None and now - state.refreshed_at < max_age
    )
    if fresh and not full:
        db.session.rollback()
        return None
    low = 0 if full else state.watermark
    a = Attempt
    high = db.session.scalar(
        select(func.max(a.id)).where(
            a.contest_id == contest.id, a.id > low, a.started_at < now - SETTLE
        )
    )
    high = max(high or low, low)
    more = False
    if batch is not None and high - low > batch:
        capped = db.session.scalar(
            select(a.id)
            .where(a.contest_id == contest.id, a.id > low, a.id <= high)
            .order_by(a.id)
            .offset(batch - 1)
            .limit(1)
        )
        if capped is not None and capped < high:
            high, more = capped, True
    pend = ItemStatPending
    if full:
        db.session.execute(delete(ItemStat).where(ItemStat.contest_id == contest.id))
        db.session.execute(delete(pend).where(pend.contest_id == contest.id))
        state.attempts = 0
    pending_ids = select(pend.attempt_id).where(pend.contest_id == contest.id)
    in_range = and_(a.id > low, a.id <= high)
    # Which attempts are still open is read once, here. Every later statement
    # sees a newer snapshot (read committed), and an attempt that finished in
    # between must not be skipped by the sums and then dropped from (or never
    # put on) the pending list: all of them use this one list, so an attempt
    # open now stays pending until the next refresh, whatever it does
    # meanwhile. (Finishing cannot be undone; disqualification and regrade
    # take the state row's lock, which this transaction holds.)
    still_open = list(
        db.session.scalars(
            select(a.id).where(
                a.contest_id == contest.id,
                a.finished_at.is_(None),
                or_(in_range, a.id.in_(pending_ids)),
            )
        )
    )
    not_open = a.id.not_in(still_open) if still_open else true()
    # Two additive passes, not one OR: each lets PostgreSQL drive the join
    # from the few attempts it names (a primary-key range, the pending list)
    # into attempt_answer's index, where an OR made it hash-join all answers.
    added = 0
    for picked in (in_range, a.id.in_(pending_ids)):
        picked = and_(picked, not_open)
        n = _count(contest, picked)
        if n:
            _add(contest, picked)
            added += n
    # Pending attempts no longer open (counted above, or disqualified) leave;
    # the open ones of the new range join.
    db.session.execute(
        delete(pend).where(
            pend.contest_id == contest.id,
            pend.attempt_id.not_in(still_open) if still_open else true(),
        )
    )
    fresh_open = [
        {"contest_id": contest.id, "attempt_id": i}
        for i in still_open
        if low < i <= high
    ]
    if fresh_open:
        db.session.execute(insert(pend), fresh_open)
    state.watermark = high
    state.attempts += added
    state.refreshed_at = now
    if full:
        state.rebuilt_at = now
    db.session.flush()
    waiting = db.session.scalar(
        select(func.count()).select_from(pend).where(pend.contest_id == contest.id)
    )
    result = RefreshResult(contest.id, full, added, state.attempts, high, waiting, more)
    db.session.commit()
    return result


def _counted(contest: Contest, state: ItemStatState, ids: list[int]):
    """Which of `ids` the sums hold: at or below the watermark, not pending
    (the finished/disqualified filter is in _sums and _count)."""
    pending = select(ItemStatPending.attempt_id).where(
        ItemStatPending.contest_id == contest.id
    )
    return and_(
        Attempt.id.in_(ids),
        Attempt.id <= state.watermark,
        Attempt.id.not_in(pending),
    )


def _adjust(contest: Contest, attempt_ids: Iterable[int], sign: int) -> int:
    ids = sorted(set(attempt_ids))
    if not ids:
        return 0
    state = _lock_state(contest.id, wait=True)
    n = 0
    for i in range(0, len(ids), CHUNK):
        where = _counted(contest, state, ids[i : i + CHUNK])
        k = _count(contest, where)
        if k:
            _add(contest, where, sign)
            n += k
    state.attempts += sign * n
    db.session.flush()
    return n


def retract(contest: Contest, attempt_ids: Iterable[int]) -> int:
    """Subtract these attempts from the sums, as they stand now (flush only;
    call inside the transaction that is about to change them)."""
    return _adjust(contest, attempt_ids, -1)


def restore(contest: Contest, attempt_ids: Iterable[int]) -> int:
    """Add these attempts back as they stand now (flush only; after the
    change, in the same transaction as the retract)."""
    return _adjust(contest, attempt_ids, +1)


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Thresholds:
    min_exposures: int = 30
    min_top: int = 10


@dataclass
class ItemFigures:
    ext_id: str
    revision: int
    current_revision: int
    category: str
    type: str
    letters: str
    key: str
    exposures: int
    answered: int
    correct: int
    facility: float | None
    discrimination: float | None
    options: dict[str, float | None]
    top_n: int
    top_options: dict[str, float | None]
    flags: list[str] = field(default_factory=list)

    @property
    def newer_revision(self) -> bool:
        return self.current_revision > self.revision

    def as_json(self) -> dict:
        return {
            "id": self.ext_id,
            "revision": self.revision,
            "category": self.category,
            "type": self.type,
            "exposures": self.exposures,
            "answered": self.answered,
            "correct": self.correct,
            "facility": _round(self.facility),
            "discrimination": _round(self.discrimination),
            "options": {k: _round(v) for k, v in self.options.items()},
            "key": list(self.key),
            "top_group": {
                "n": self.top_n,
                "options": {k: _round(v) for k, v in self.top_options.items()},
            },
            "current_revision": self.current_revision,
            "flags": self.flags,
        }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def point_biserial(n: int, sx: int, st: int, stt: int, sxt: int) -> float | None:
    """Pearson's r between x (0/1) and T from their sums; None when either
    has no spread (everyone right, or every other total equal)."""
    vx = n * sx - sx * sx
    vt = n * stt - st * st
    if n < 2 or vx <= 0 or vt <= 0:
        return None
    return (n * sxt - sx * st) / math.sqrt(vx * vt)


def figures_of(row: ItemStat, rev: QuestionRevision, q: Question, th: Thresholds):
    n = row.exposures
    letters = "ABCDEF"[: len(rev.options)]

    def share(v: int, of: int) -> float | None:
        return v / of if of else None

    picks = {c: getattr(row, f"pick_{c.lower()}") for c in letters}
    tops = {c: getattr(row, f"top_{c.lower()}") for c in letters}
    facility = share(row.correct, n)
    disc = point_biserial(n, row.correct, row.sum_t, row.sum_tt, row.sum_xt)
    flags: list[str] = []
    if n >= th.min_exposures and facility is not None:
        if facility > TOO_EASY:
            flags.append("too_easy")
        if facility < TOO_HARD:
            flags.append("too_hard")
        keyed = [c for c in letters if c in rev.answer]
        others = [c for c in letters if c not in rev.answer]
        beaten = (
            row.top_n >= th.min_top
            and keyed
            and others
            and min(tops[c] for c in keyed) < max(tops[c] for c in others)
        )
        if (disc is not None and disc < 0) or beaten:
            flags.append("suspect_key")
    return ItemFigures(
        ext_id=q.ext_id,
        revision=rev.number,
        current_revision=q.revision,
        category=q.category_code,
        type=rev.type,
        letters=letters,
        key=rev.answer,
        exposures=n,
        answered=row.answered,
        correct=row.correct,
        facility=facility,
        discrimination=disc,
        options={c: share(v, n) for c, v in picks.items()},
        top_n=row.top_n,
        top_options={c: share(v, row.top_n) for c, v in tops.items()},
        flags=flags,
    )


def contest_items(
    contest_id: int, th: Thresholds, *, question_id: int | None = None
) -> list[ItemFigures]:
    """Every counted revision of the contest (or of one question), by id."""
    q = (
        select(ItemStat, QuestionRevision, Question)
        .join(QuestionRevision, QuestionRevision.id == ItemStat.revision_id)
        .join(Question, Question.id == ItemStat.question_id)
        .where(ItemStat.contest_id == contest_id)
        .order_by(Question.ext_id, QuestionRevision.number)
    )
    if question_id is not None:
        q = q.where(ItemStat.question_id == question_id)
    return [figures_of(s, r, qu, th) for s, r, qu in db.session.execute(q)]


def question_items(question_id: int, th: Thresholds) -> list[tuple[Contest, list]]:
    """One question's figures per contest (newest contest first) and revision."""
    contests = db.session.scalars(
        select(Contest)
        .where(
            Contest.id.in_(
                select(ItemStat.contest_id).where(ItemStat.question_id == question_id)
            )
        )
        .order_by(Contest.starts_at.desc())
    )
    return [(c, contest_items(c.id, th, question_id=question_id)) for c in contests]


def state_of(contest_id: int) -> ItemStatState | None:
    return db.session.get(ItemStatState, contest_id)


def select_items(
    items: list[ItemFigures],
    *,
    flag: str | None = None,
    category: str | None = None,
    sort: str = "id",
    descending: bool = False,
) -> list[ItemFigures]:
    """Filter and order (items without a figure sort last either way)."""
    out = [
        i
        for i in items
        if (flag is None or flag in i.flags)
        and (category is None or i.category == category)
    ]
    if sort == "id":
        return sorted(out, key=lambda i: (i.ext_id, i.revision), reverse=descending)
    have = [i for i in out if getattr(i, sort) is not None]
    missing = [i for i in out if getattr(i, sort) is None]
    have.sort(
        key=lambda i: (getattr(i, sort), i.ext_id, i.revision), reverse=descending
    )
    return have + missing


def thresholds(config) -> Thresholds:
    return Thresholds(config["ITEM_STATS_MIN_EXPOSURES"], config["ITEM_STATS_MIN_TOP"])


def refresh_for_view(contest: Contest, config, *, now: datetime) -> None:
    """A page view's refresh: only when older than ITEM_STATS_MAX_AGE_S, at
    most one per contest at a time (others skip and show what is there), and
    at most ITEM_STATS_PAGE_BATCH attempt ids per view."""
    state = state_of(contest.id)
    max_age = timedelta(seconds=config["ITEM_STATS_MAX_AGE_S"])
    if state is not None and state.refreshed_at and now - state.refreshed_at < max_age:
        return
    refresh(
        contest,
        now=now,
        wait=False,
        max_age=max_age,
        batch=config["ITEM_STATS_PAGE_BATCH"],
    )


def chart_data(per_contest: list[tuple[Contest, list[ItemFigures]]]) -> list[dict]:
    """What static/js/item-chart.js draws: one bar chart per contest and
    revision (element id, letters, shares in %, keyed letters)."""
    out = []
    for contest, figs in per_contest:
        for f in figs:
            out.append(
                {
                    "el": f"item-chart-{contest.id}-{f.revision}",
                    "letters": list(f.letters),
                    "all": [_pct(f.options[c]) for c in f.letters],
                    "top": [_pct(f.top_options[c]) for c in f.letters],
                    "key": list(f.key),
                    "labels": ["正确", "错误"] if f.type == "judge" else None,
                }
            )
    return out


def _pct(v: float | None) -> float | None:
    return None if v is None else round(v * 100, 1)
