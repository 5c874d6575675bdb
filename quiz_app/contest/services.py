"""Contest use cases: drawing questions, starting, answering, submitting, expiring.

Every public function takes `now` (read once per request by the caller), commits
once, and touches Redis only after the commit (through the leaderboard).
"""

from __future__ import annotations

import random
import secrets
import time
from collections import Counter, OrderedDict, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..clock import day_bounds, local_day
from ..extensions import db
from ..leaderboard import services as boards
from ..leaderboard.ranking import make_codec
from ..models import Attempt, AttemptAnswer, Contest, Question, User

LETTERS = "ABCDEF"


class ContestError(Exception):
    """A rule refused the request; nothing was changed."""

    status = 409
    code = "conflict"
    message = "操作未能完成"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class ContestNotOpen(ContestError):
    code, message = "contest_not_open", "竞赛当前不在开放时间内"


class DailyLimitReached(ContestError):
    code, message = "daily_limit", "今天的答题次数已用完，请明天再来"


class AttemptClosed(ContestError):
    """The attempt is finished or past its deadline; nothing was saved."""

    code, message = "attempt_closed", "本次答题已结束或已超时，答案未保存"


class StaleAnswer(ContestError):
    code, message = "stale_answer", "该题已在其他页面修改过，请刷新后再作答"


class InvalidChoice(ContestError):
    status, code, message = 422, "invalid_choice", "所选选项无效"


class NotFound(ContestError):
    status, code, message = 404, "not_found", "未找到该答题记录"


class BankTooSmall(ContestError):
    code, message = "bank_too_small", "题库中的题目不足以按规则组卷，请联系组织者"


# ---------------------------------------------------------------- contests


_contest_cache: tuple[float, Contest] | None = None
CONTEST_CACHE_S = 5.0


def current_contest(now: datetime) -> Contest | None:
    """The open contest (latest start), else the next upcoming, else the last one.

    An open contest is cached per process for a few seconds (every page and
    API call asks for it); the cached row is used only while it is open at `now`.
    """
    global _contest_cache
    cached = _contest_cache
    if cached and cached[0] > time.monotonic():
        contest = cached[1]
        if contest.starts_at <= now < contest.ends_at:
            return contest
    found = _find_current_contest(now)
    if found is not None and found.status(now) == "open":
        db.session.expunge(found)  # shared read-only across requests
        _contest_cache = (time.monotonic() + CONTEST_CACHE_S, found)
    return found


def _find_current_contest(now: datetime) -> Contest | None:
    open_ = db.session.scalars(
        select(Contest)
        .where(Contest.starts_at <= now, Contest.ends_at > now)
        .order_by(Contest.starts_at.desc(), Contest.id.desc())
        .limit(1)
    ).first()
    if open_:
        return open_
    upcoming = db.session.scalars(
        select(Contest)
        .where(Contest.starts_at > now)
        .order_by(Contest.starts_at)
        .limit(1)
    ).first()
    if upcoming:
        return upcoming
    return db.session.scalars(
        select(Contest).order_by(Contest.ends_at.desc()).limit(1)
    ).first()


def create_contest(
    *,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    time_limit_s: int = 900,
    type_counts: dict[str, int] | None = None,
    points_per_question: int = 5,
    attempts_per_day: int = 3,
    category_quotas: dict[str, int] | None = None,
    timezone: str = "Asia/Shanghai",
    description: str = "",
) -> Contest:
    """Create a contest after checking its rules. Commits; raises ValueError."""
    counts = type_counts or {"single": 10, "multiple": 5, "judge": 5}
    if set(counts) - {"single", "multiple", "judge"} or any(
        v < 0 for v in counts.values()
    ):
        raise ValueError("type_counts may only hold single/multiple/judge counts >= 0")
    total = sum(counts.values())
    quotas = category_quotas or {}
    if total <= 0 or sum(quotas.values()) > total:
        raise ValueError("questions per attempt must be positive and cover the quotas")
    if ends_at <= starts_at or time_limit_s <= 0 or attempts_per_day <= 0:
        raise ValueError("bad window, time limit or daily attempts")
    make_codec(total * points_per_question, time_limit_s, starts_at, ends_at)
    contest = Contest(
        title=title,
        description=description,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone=timezone,
        time_limit_s=time_limit_s,
        questions_per_attempt=total,
        attempts_per_day=attempts_per_day,
        points_per_question=points_per_question,
        type_counts=counts,
        category_quotas=quotas,
    )
    db.session.add(contest)
    db.session.commit()
    return contest


# ---------------------------------------------------------------- drawing


@dataclass(frozen=True)
class PoolItem:
    id: int
    category: str
    type: str
    option_count: int


_pool_cache: tuple[float, list[PoolItem]] | None = None
POOL_CACHE_S = 30.0


def question_pool() -> list[PoolItem]:
    """Active questions' drawing facts, cached briefly per process."""
    global _pool_cache
    if _pool_cache and _pool_cache[0] > time.monotonic():
        return _pool_cache[1]
    rows = db.session.execute(
        select(
            Question.id, Question.category_code, Question.type, Question.options
        ).where(Question.active.is_(True))
    )
    pool = [PoolItem(r.id, r.category_code, r.type, len(r.options)) for r in rows]
    _pool_cache = (time.monotonic() + POOL_CACHE_S, pool)
    return pool


@dataclass(frozen=True)
class QuestionText:
    """What a page shows of a question (the key is always read from SQL)."""

    type: str
    stem: str
    options: tuple[str, ...]
    explanation: str
    source: str


_texts: dict[int, QuestionText] = {}
_texts_expire = 0.0


def question_texts(ids: list[int]) -> dict[int, QuestionText]:
    """Texts of the given questions from a per-process cache (refreshed every
    POOL_CACHE_S); only missing ones are loaded."""
    global _texts, _texts_expire
    if time.monotonic() > _texts_expire:
        _texts, _texts_expire = {}, time.monotonic() + POOL_CACHE_S
    texts = _texts  # a stable reference even if another thread swaps the cache
    missing = [i for i in ids if i not in texts]
    if missing:
        rows = db.session.execute(
            select(
                Question.id,
                Question.type,
                Question.stem,
                Question.options,
                Question.explanation,
                Question.source,
            ).where(Question.id.in_(missing))
        )
        for r in rows:
            texts[r.id] = QuestionText(
                r.type, r.stem, tuple(r.options), r.explanation, r.source
            )
    return texts


def clear_pool_cache() -> None:
    """Forget every per-process cache (after an import, and between tests)."""
    global _pool_cache, _contest_cache, _texts
    _pool_cache = None
    _contest_cache = None
    _texts = {}
    _layouts.clear()


def draw_questions(
    contest: Contest, pool: list[PoolItem], rng: random.Random
) -> list[tuple[PoolItem, str]]:
    """Pick questions by type counts and category quotas, spread evenly over
    categories; returns (item, option order) in a shuffled display order."""
    need = Counter({t: n for t, n in contest.type_counts.items() if n > 0})
    buckets: dict[tuple[str, str], list[PoolItem]] = defaultdict(list)
    for item in pool:
        buckets[(item.type, item.category)].append(item)
    for items in buckets.values():
        rng.shuffle(items)
    per_cat: Counter[str] = Counter()
    chosen: list[PoolItem] = []

    def take(qtype: str, cat: str) -> None:
        chosen.append(buckets[(qtype, cat)].pop())
        need[qtype] -= 1
        per_cat[cat] += 1

    for cat, quota in contest.category_quotas.items():
        for _ in range(quota):
            types = [t for t in need if need[t] > 0 and buckets.get((t, cat))]
            if not types:
                raise BankTooSmall()
            best = max(need[t] for t in types)
            take(rng.choice([t for t in types if need[t] == best]), cat)
    for qtype in list(need):
        while need[qtype] > 0:
            cats = [c for (t, c), items in buckets.items() if t == qtype and items]
            if not cats:
                raise BankTooSmall()
            low = min(per_cat[c] for c in cats)
            take(qtype, rng.choice([c for c in cats if per_cat[c] == low]))
    rng.shuffle(chosen)
    drawn = []
    for item in chosen:
        letters = list(LETTERS[: item.option_count])
        if item.type != "judge":
            rng.shuffle(letters)
        drawn.append((item, "".join(letters)))
    return drawn


# ---------------------------------------------------------------- attempts


def open_attempt(user: User, contest: Contest) -> Attempt | None:
    return db.session.scalars(
        select(Attempt).where(
            Attempt.user_id == user.id,
            Attempt.contest_id == contest.id,
            Attempt.finished_at.is_(None),
        )
    ).first()


def attempts_started_on(user: User, contest: Contest, now: datetime) -> int:
    """Attempts this citizen started today in the contest's time zone."""
    start, end = day_bounds(local_day(now, contest.timezone), contest.timezone)
    return (
        db.session.scalar(
            select(func.count(Attempt.id)).where(
                Attempt.user_id == user.id,
                Attempt.contest_id == contest.id,
                Attempt.started_at >= start,
                Attempt.started_at < end,
            )
        )
        or 0
    )


def attempts_left_today(user: User, contest: Contest, now: datetime) -> int:
    return max(contest.attempts_per_day - attempts_started_on(user, contest, now), 0)


def start_attempt(
    user: User,
    contest: Contest,
    *,
    now: datetime,
    grace_s: int,
    rng: random.Random | None = None,
) -> tuple[Attempt, bool]:
    """Start an attempt, or return the open one. Returns (attempt, created).

    Raises ContestNotOpen, DailyLimitReached, BankTooSmall. The partial unique
    index on open attempts makes parallel starts yield one attempt.
    """
    # One query: the open attempt (if any) and today's count.
    day_start, day_end = day_bounds(local_day(now, contest.timezone), contest.timezone)
    open_id, today = db.session.execute(
        select(
            func.max(Attempt.id).filter(Attempt.finished_at.is_(None)),
            func.count(Attempt.id).filter(
                Attempt.started_at >= day_start, Attempt.started_at < day_end
            ),
        ).where(Attempt.user_id == user.id, Attempt.contest_id == contest.id)
    ).one()
    if open_id is not None:
        existing = db.session.get(Attempt, open_id)
        if now <= existing.deadline_at + timedelta(seconds=grace_s):
            return existing, False
        expire_if_due(_lock_attempt(existing.id, user), now=now, grace_s=grace_s)
    if contest.status(now) != "open":
        raise ContestNotOpen()
    if today >= contest.attempts_per_day:
        raise DailyLimitReached()
    rng = rng or random.Random(secrets.randbits(64))
    drawn = draw_questions(contest, question_pool(), rng)
    deadline = min(now + timedelta(seconds=contest.time_limit_s), contest.ends_at)
    attempt = Attempt(
        user_id=user.id, contest_id=contest.id, started_at=now, deadline_at=deadline
    )
    db.session.add(attempt)
    try:
        db.session.flush()
        # Core bulk insert: one multi-row statement, no ORM objects.
        db.session.execute(
            insert(AttemptAnswer),
            [
                {
                    "attempt_id": attempt.id,
                    "position": pos,
                    "question_id": item.id,
                    "option_order": order,
                    "version": 0,
                }
                for pos, (item, order) in enumerate(drawn, start=1)
            ],
        )
        db.session.commit()
        # The freshly drawn items, so the response needs no query to read them.
        attempt.fresh_rows = [
            ItemRow(0, pos, item.id, order, None, 0, None, "")
            for pos, (item, order) in enumerate(drawn, start=1)
        ]
    except IntegrityError:
        # Another request started one first: return that one.
        db.session.rollback()
        existing = open_attempt(user, contest)
        if existing is None:
            raise
        return existing, False
    return attempt, True


def _lock_attempt(attempt_id: int, user: User) -> Attempt:
    """Load and lock the attempt row for this request (FOR UPDATE on PostgreSQL;
    SQLite transactions already hold the write lock)."""
    attempt = db.session.scalars(
        select(Attempt)
        .where(Attempt.id == attempt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if attempt is None or attempt.user_id != user.id:
        raise NotFound()
    return attempt


def get_attempt(attempt_id: int, user: User, *, now: datetime, grace_s: int) -> Attempt:
    """The citizen's own attempt, expired first if its time ran out; else NotFound."""
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None or attempt.user_id != user.id:
        raise NotFound()
    if attempt.finished_at is None and now > attempt.deadline_at + timedelta(
        seconds=grace_s
    ):
        attempt = _lock_attempt(attempt_id, user)
        expire_if_due(attempt, now=now, grace_s=grace_s)
    return attempt


def to_original(order: str, display: list[str], qtype: str) -> str:
    """Display letters -> sorted original letters; raises InvalidChoice."""
    picked = set()
    for letter in display:
        if not isinstance(letter, str) or len(letter) != 1:
            raise InvalidChoice()
        idx = LETTERS.find(letter.upper())
        if idx < 0 or idx >= len(order):
            raise InvalidChoice(f"该题没有选项 {letter}")
        picked.add(order[idx])
    if qtype in ("single", "judge") and len(picked) > 1:
        raise InvalidChoice("该题只能选择一个选项")
    return "".join(sorted(picked))


def to_display(order: str, original: str | None) -> list[str]:
    if not original:
        return []
    return sorted(LETTERS[order.index(ch)] for ch in original)


class SavedAnswer(NamedTuple):
    version: int
    deadline_at: datetime


class Principal(Protocol):
    """Who acts: a User, or the id and session token read from the cookie."""

    id: int
    session_token: str


class NotLoggedIn(ContestError):
    status, code, message = 401, "not_logged_in", "请先登录"


@dataclass(frozen=True)
class Layout:
    """What never changes about an attempt once drawn (safe to cache)."""

    user_id: int
    deadline_at: datetime
    #: position -> (attempt_answer id, option order, question type)
    items: dict[int, tuple[int, str, str]]


_layouts: OrderedDict[int, Layout] = OrderedDict()
LAYOUT_CACHE_SIZE = 50_000


def attempt_layout(attempt_id: int) -> Layout | None:
    """The attempt's owner, deadline and items, from a per-process LRU or one query."""
    layout = _layouts.get(attempt_id)
    if layout is not None:
        _layouts.move_to_end(attempt_id)
        return layout
    rows = db.session.execute(
        select(
            Attempt.user_id,
            Attempt.deadline_at,
            AttemptAnswer.id,
            AttemptAnswer.position,
            AttemptAnswer.option_order,
            Question.type,
        )
        .join(AttemptAnswer, AttemptAnswer.attempt_id == Attempt.id)
        .join(Question, Question.id == AttemptAnswer.question_id)
        .where(Attempt.id == attempt_id)
    ).all()
    if not rows:
        return None
    layout = Layout(
        rows[0].user_id,
        rows[0].deadline_at,
        {r.position: (r.id, r.option_order, r.type) for r in rows},
    )
    _layouts[attempt_id] = layout
    if len(_layouts) > LAYOUT_CACHE_SIZE:
        _layouts.popitem(last=False)
    return layout


def _save_statement(check_version: bool):
    """The guarded save, built once: share-lock the open attempt of this user
    with this session token before the deadline, then update the item."""
    now = bindparam("p_now", type_=Attempt.deadline_at.type)
    open_attempt_row = (
        select(Attempt.id)
        .join(User, User.id == Attempt.user_id)
        .where(
            Attempt.id == bindparam("p_attempt"),
            Attempt.finished_at.is_(None),
            Attempt.deadline_at >= now,
            User.id == bindparam("p_user"),
            User.session_token == bindparam("p_token"),
            User.disabled.is_(False),
        )
        .with_for_update(read=True, of=Attempt)
        .cte("open_attempt")
    )
    stmt = (
        update(AttemptAnswer)
        .where(
            AttemptAnswer.id == bindparam("p_answer"),
            AttemptAnswer.attempt_id == open_attempt_row.c.id,
        )
        .values(
            choices=bindparam("p_choices"),
            version=AttemptAnswer.version + 1,
            saved_at=now,
        )
        .returning(AttemptAnswer.version)
    )
    if check_version:
        stmt = stmt.where(AttemptAnswer.version == bindparam("p_expected"))
    return stmt


_SAVE = _save_statement(check_version=False)
_SAVE_IF_VERSION = _save_statement(check_version=True)


def save_answer(
    attempt_id: int,
    user: Principal,
    position: int,
    choices: list[str],
    *,
    now: datetime,
    expected_version: int | None = None,
) -> SavedAnswer:
    """Record one answer (display letters; [] clears it). Commits.

    Raises NotFound, AttemptClosed (finished or after the deadline: nothing
    changes), InvalidChoice, StaleAnswer (an older version than stored),
    NotLoggedIn (the session token was revoked).

    The hot path is one statement: it share-locks the attempt row (so a
    concurrent submit, which takes it FOR UPDATE, scores before or after this
    save, never in between), checks owner, session token, finish and deadline,
    and updates the item. On PostgreSQL it runs in autocommit: one round trip.
    """
    layout = attempt_layout(attempt_id)
    if layout is None or layout.user_id != user.id:
        raise NotFound()
    item = layout.items.get(position)
    if item is None:
        raise NotFound("该题不存在")
    if now > layout.deadline_at:
        raise AttemptClosed()
    answer_id, order, qtype = item
    original = to_original(order, choices, qtype) or None
    params = {
        "p_attempt": attempt_id,
        "p_answer": answer_id,
        "p_user": user.id,
        "p_token": user.session_token,
        "p_now": now,
        "p_choices": original,
    }
    if expected_version is None:
        stmt = _SAVE
    else:
        stmt = _SAVE_IF_VERSION
        params["p_expected"] = expected_version
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as conn:
            version = conn.execute(stmt, params).scalar()
    else:
        version = db.session.execute(stmt, params).scalar()
        db.session.commit()
    if version is not None:
        return SavedAnswer(version, layout.deadline_at)
    _explain_refused_save(attempt_id, user)
    raise StaleAnswer()


def _explain_refused_save(attempt_id: int, user: Principal) -> None:
    """Why the guarded update changed nothing (slow path; raises or returns)."""
    db.session.rollback()
    row = db.session.execute(
        select(Attempt.finished_at, User.session_token, User.disabled)
        .join(User, User.id == Attempt.user_id)
        .where(Attempt.id == attempt_id)
    ).first()
    if row is None:
        raise NotFound()
    if row.session_token != user.session_token or row.disabled:
        raise NotLoggedIn()
    if row.finished_at is not None:
        raise AttemptClosed()
    # Open, owned and before the deadline: only the version can have differed.


class ItemRow(NamedTuple):
    """One drawn question of an attempt, as stored, with its answer key."""

    id: int
    position: int
    question_id: int
    option_order: str
    choices: str | None
    version: int
    is_correct: bool | None
    key: str


_ITEM_COLUMNS = (
    AttemptAnswer.id,
    AttemptAnswer.position,
    AttemptAnswer.question_id,
    AttemptAnswer.option_order,
    AttemptAnswer.choices,
    AttemptAnswer.version,
    AttemptAnswer.is_correct,
    Question.answer,
)


def item_rows(attempt_id: int) -> list[ItemRow]:
    """The attempt's items in display order (one light query, no ORM objects)."""
    rows = db.session.execute(
        select(*_ITEM_COLUMNS)
        .join(Question, Question.id == AttemptAnswer.question_id)
        .where(AttemptAnswer.attempt_id == attempt_id)
        .order_by(AttemptAnswer.position)
    )
    return [ItemRow(*r) for r in rows]


def contest_by_id(contest_id: int) -> Contest:
    """The contest, from the per-process cache when it is the current one."""
    cached = _contest_cache
    if cached and cached[1].id == contest_id:
        return cached[1]
    return db.session.get(Contest, contest_id)


def _finish(attempt: Attempt, *, finished_at: datetime, kind: str) -> None:
    """Score the locked attempt from its stored answers and mark it finished (flush)."""
    contest = contest_by_id(attempt.contest_id)
    # Mark every item right or wrong in SQL, against the key as stored now.
    mark = (
        update(AttemptAnswer)
        .where(
            AttemptAnswer.attempt_id == attempt.id,
            Question.id == AttemptAnswer.question_id,
        )
        .values(is_correct=AttemptAnswer.choices.is_not_distinct_from(Question.answer))
    )
    if db.engine.dialect.name == "postgresql":
        # One round trip: RETURNING may name the joined question there.
        rows = sorted(
            (ItemRow(*r) for r in db.session.execute(mark.returning(*_ITEM_COLUMNS))),
            key=lambda r: r.position,
        )
    else:
        # SQLite's RETURNING cannot name the FROM table: read back separately.
        db.session.execute(mark)
        rows = item_rows(attempt.id)
    attempt.fresh_rows = rows  # the result needs no second query
    correct = sum(1 for r in rows if r.is_correct)
    score = correct * contest.points_per_question
    duration = min(finished_at, attempt.deadline_at) - attempt.started_at
    attempt.finished_at = finished_at
    attempt.finish_kind = kind
    attempt.correct_count = correct
    attempt.score = score
    attempt.duration_ms = max(int(duration.total_seconds() * 1000), 0)
    codec = make_codec(
        contest.max_score, contest.time_limit_s, contest.starts_at, contest.ends_at
    )
    attempt.rank_key = codec.encode(score, attempt.duration_ms, finished_at)
    db.session.flush()
    # leaderboard: the citizen's best (contest_best), in this same transaction
    boards.record_best(attempt)


def expire_if_due(attempt: Attempt, *, now: datetime, grace_s: int) -> bool:
    """Finish an open attempt whose deadline (+ submit grace) passed, with the
    answers saved before the deadline and finished_at = deadline. Commits and
    updates the boards; returns True if the attempt is (now) finished."""
    if attempt.finished_at is not None:
        return True
    if now <= attempt.deadline_at + timedelta(seconds=grace_s):
        return False
    _finish(attempt, finished_at=attempt.deadline_at, kind="expired")
    db.session.commit()
    # leaderboard: the citizen's SQL best on every board (ZADD GT), which also
    # repairs an earlier finish whose board write was lost
    boards.restore_users(contest_by_id(attempt.contest_id), [attempt.user_id])
    return True


def submit_attempt(
    attempt_id: int, user: User, *, now: datetime, grace_s: int
) -> Attempt:
    """Finish and score the attempt exactly once; a repeat returns the same attempt.

    Within the grace after the deadline the submit is accepted with the answers
    saved before the deadline. Later, the attempt is expired (finished at its
    deadline) and AttemptClosed is raised.
    """
    attempt = _lock_attempt(attempt_id, user)
    if attempt.finished_at is not None:
        db.session.rollback()
        # leaderboard: a repeat may follow a crash before the board write
        boards.restore_users(contest_by_id(attempt.contest_id), [user.id])
        if attempt.finish_kind == "expired":
            raise AttemptClosed("答题时间已到，系统已按截止前保存的答案自动交卷")
        return attempt
    if expire_if_due(attempt, now=now, grace_s=grace_s):
        raise AttemptClosed("答题时间已到，系统已按截止前保存的答案自动交卷")
    _finish(attempt, finished_at=now, kind="submitted")
    db.session.commit()
    boards.record_finished(attempt, contest_by_id(attempt.contest_id), user)
    return attempt


def sweep_expired(*, now: datetime, grace_s: int, batch: int = 500) -> int:
    """Finish every abandoned attempt past deadline + grace (idempotent); count."""
    cutoff = now - timedelta(seconds=grace_s)
    done = 0
    while True:
        ids = list(
            db.session.scalars(
                select(Attempt.id)
                .where(Attempt.finished_at.is_(None), Attempt.deadline_at < cutoff)
                .order_by(Attempt.id)
                .limit(batch)
            )
        )
        db.session.rollback()
        if not ids:
            return done
        progress = 0
        for attempt_id in ids:
            # SKIP LOCKED: a row another request or sweeper holds is theirs.
            attempt = db.session.scalars(
                select(Attempt)
                .where(Attempt.id == attempt_id)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            ).first()
            if attempt is not None and attempt.finished_at is None:
                expire_if_due(attempt, now=now, grace_s=grace_s)
                progress += 1
            db.session.rollback()
        done += progress
        if len(ids) < batch or progress == 0:
            return done


def user_attempts(user: User, contest: Contest) -> list[Attempt]:
    return list(
        db.session.scalars(
            select(Attempt)
            .where(Attempt.user_id == user.id, Attempt.contest_id == contest.id)
            .order_by(Attempt.started_at.desc())
        )
    )


def best_attempt(attempts: list[Attempt]) -> Attempt | None:
    """The attempt that counts: highest rank key (score, then time, then finish)."""
    finished = [a for a in attempts if a.rank_key is not None]
    return max(finished, key=lambda a: (a.rank_key, -a.id)) if finished else None


def attempt_items(attempt: Attempt) -> list[tuple[AttemptAnswer, Question]]:
    """The attempt's answers with their questions, in display order (one query)."""
    return list(
        db.session.execute(
            select(AttemptAnswer, Question)
            .join(Question, Question.id == AttemptAnswer.question_id)
            .where(AttemptAnswer.attempt_id == attempt.id)
            .order_by(AttemptAnswer.position)
            .execution_options(populate_existing=True)
        ).tuples()
    )
