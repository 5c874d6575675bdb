"""Staff rollups: attempts, answers and registrations folded into small tables.

The dashboards must not scan a million attempts (twenty million answers) on
every read, and must not add work to the citizen's finish path. So figures
that add up are folded, in attempt-id order, into per-(contest, region, day)
and per-(contest, region, category) rows, and registrations into
per-(region, quarter hour) rows. A cursor per contest marks how far: every
attempt up to it is finished (an attempt is folded once, when it can no
longer change), so the fold never revisits a row. Attempts past the cursor
(the open ones and those that finished after the oldest open one) are the
"tail", folded the same way in memory on each read; it is at most about one
time limit of traffic.

A participant is counted on the citizen's first attempt of the contest (and
of each day), which is fixed once that attempt exists, so folded rows add up
without counting anyone twice.

The tables are derived data: `reset()` empties them and the next refresh
rebuilds them from the attempts (a regrade does this for its contest, since
it changes which answers are correct).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update

from ..db import begin_write
from ..extensions import db
from ..models import (
    Attempt,
    AttemptAnswer,
    Contest,
    Question,
    StatsCategory,
    StatsCursor,
    StatsDay,
    StatsSignup,
    User,
)

#: attempts (or accounts) folded per refresh at most: bounds one request
BATCH = 20_000
#: rows started this recently may still be committing out of id order
SETTLE = timedelta(seconds=60)
#: registrations are counted in UTC buckets of this size
BUCKET = timedelta(minutes=15)
USERS_CURSOR = "users"


def contest_cursor(contest_id: int) -> str:
    return f"c{contest_id}"


@dataclass
class Fold:
    """Contributions of a set of attempts (and accounts), keyed like the tables."""

    #: (region, day) -> [attempts, finished, new_participants, day_participants]
    days: dict[tuple[str, date], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0])
    )
    #: (region, category) -> [answered, correct]
    cats: dict[tuple[str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0])
    )
    #: (region, bucket start UTC) -> registrations
    signups: dict[tuple[str, datetime], int] = field(
        default_factory=lambda: defaultdict(int)
    )


def bucket_of(moment: datetime) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // BUCKET) * BUCKET


def _chunks(items: list, n: int = 900) -> Iterable[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def fold_attempts(
    contest: Contest, lo: int, hi: int | None, out: Fold, *, limit: int | None = None
) -> int | None:
    """Add the attempts of `contest` with lo < id <= hi (hi None: no bound) to
    `out`; finished-only figures only for finished attempts. Returns the last
    id folded (None if there was none)."""
    tz = ZoneInfo(contest.timezone)
    q = (
        select(Attempt.id, Attempt.user_id, Attempt.started_at, Attempt.finished_at)
        .where(Attempt.contest_id == contest.id, Attempt.id > lo)
        .order_by(Attempt.id)
    )
    if hi is not None:
        q = q.where(Attempt.id <= hi)
    if limit is not None:
        q = q.limit(limit)
    rows = db.session.execute(q).all()
    if not rows:
        return None
    last = rows[-1].id
    # Regions, and the earlier attempts that decide "first of the contest/day",
    # by primary key and ix_attempt_user_contest_started (no join that could
    # turn into a scan of every account).
    region: dict[int, str] = {}
    earlier: dict[int, list[tuple[int, date]]] = defaultdict(list)
    users = sorted({r.user_id for r in rows})
    for chunk in _chunks(users):
        region.update(
            db.session.execute(
                select(User.id, User.region_code).where(User.id.in_(chunk))
            ).all()
        )
        for aid, uid, started in db.session.execute(
            select(Attempt.id, Attempt.user_id, Attempt.started_at).where(
                Attempt.contest_id == contest.id,
                Attempt.user_id.in_(chunk),
                Attempt.id <= last,
            )
        ):
            earlier[uid].append((aid, started.astimezone(tz).date()))
    first_id = {uid: min(a for a, _ in seen) for uid, seen in earlier.items()}
    first_of_day: dict[tuple[int, date], int] = {}
    for uid, seen in earlier.items():
        for aid, day in seen:
            key = (uid, day)
            if key not in first_of_day or aid < first_of_day[key]:
                first_of_day[key] = aid
    finished: dict[int, str] = {}
    for r in rows:
        code = region[r.user_id]
        day = r.started_at.astimezone(tz).date()
        cell = out.days[(code, day)]
        cell[0] += 1
        cell[2] += first_id[r.user_id] == r.id
        cell[3] += first_of_day[(r.user_id, day)] == r.id
        if r.finished_at is not None:
            out.days[(code, r.finished_at.astimezone(tz).date())][1] += 1
            finished[r.id] = code
    if finished:
        _fold_answers(rows[0].id - 1, last, finished, out)
    return last


def _fold_answers(lo: int, hi: int, finished: dict[int, str], out: Fold) -> None:
    """Answers of the attempts lo < id <= hi by attempt and category (one
    grouped range scan of the attempt_answer index); only the finished
    attempts of the contest (`finished`: id -> region) are added."""
    q = (
        select(
            AttemptAnswer.attempt_id,
            Question.category_code,
            func.count(AttemptAnswer.id),
            func.count(AttemptAnswer.id).filter(AttemptAnswer.is_correct.is_(True)),
        )
        .join(Question, Question.id == AttemptAnswer.question_id)
        .where(AttemptAnswer.attempt_id > lo, AttemptAnswer.attempt_id <= hi)
        .group_by(AttemptAnswer.attempt_id, Question.category_code)
    )
    for attempt_id, category, answered, correct in db.session.execute(q):
        code = finished.get(attempt_id)
        if code is None:
            continue
        cell = out.cats[(code, category)]
        cell[0] += answered
        cell[1] += correct or 0


def fold_users(lo: int, hi: int | None, out: Fold, *, limit: int | None = None):
    """Add citizen registrations lo < id <= hi to `out`; the last id seen."""
    q = (
        select(User.id, User.region_code, User.created_at, User.role)
        .where(User.id > lo)
        .order_by(User.id)
    )
    if hi is not None:
        q = q.where(User.id <= hi)
    if limit is not None:
        q = q.limit(limit)
    rows = db.session.execute(q).all()
    for r in rows:
        if r.role == "citizen":
            out.signups[(r.region_code, bucket_of(r.created_at))] += 1
    return rows[-1].id if rows else None


# ------------------------------------------------------------------ persisting


def _upsert(model, keys: dict, values: dict):
    """INSERT ... ON CONFLICT DO UPDATE SET col = col + excluded.col."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(model).values(**keys, **values)
    table = model.__table__
    return stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: table.c[c] + stmt.excluded[c] for c in values},
    )


def _persist(contest_id: int | None, out: Fold) -> None:
    for (region, day), (att, fin, new, daily) in out.days.items():
        db.session.execute(
            _upsert(
                StatsDay,
                {"contest_id": contest_id, "region_code": region, "day": day},
                {
                    "attempts": att,
                    "finished": fin,
                    "new_participants": new,
                    "day_participants": daily,
                },
            )
        )
    for (region, category), (answered, correct) in out.cats.items():
        db.session.execute(
            _upsert(
                StatsCategory,
                {
                    "contest_id": contest_id,
                    "region_code": region,
                    "category_code": category,
                },
                {"answered": answered, "correct": correct},
            )
        )
    for (region, bucket), n in out.signups.items():
        db.session.execute(
            _upsert(
                StatsSignup,
                {"region_code": region, "bucket": bucket},
                {"registrations": n},
            )
        )


def _claim(name: str, now: datetime, min_age: timedelta) -> StatsCursor | None:
    """The cursor row, locked, if it is due for a refresh and nobody else is
    refreshing it (PostgreSQL: SKIP LOCKED; SQLite holds the write lock)."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(
        insert(StatsCursor)
        .values(name=name, position=0, updated_at=now - timedelta(days=365))
        .on_conflict_do_nothing(index_elements=["name"])
    )
    q = select(StatsCursor).where(StatsCursor.name == name)
    if db.engine.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    cursor = db.session.scalar(q.execution_options(populate_existing=True))
    if cursor is None or now - cursor.updated_at < min_age:
        return None
    return cursor


def settled_end(contest: Contest, lo: int, now: datetime) -> int:
    """The highest attempt id such that every attempt of the contest up to it
    is finished and started more than SETTLE ago (lo if none is)."""
    first_open = db.session.scalar(
        select(func.min(Attempt.id)).where(
            Attempt.contest_id == contest.id,
            Attempt.finished_at.is_(None),
            Attempt.id > lo,
        )
    )
    q = select(func.max(Attempt.id)).where(
        Attempt.contest_id == contest.id,
        Attempt.id > lo,
        Attempt.started_at < now - SETTLE,
    )
    if first_open is not None:
        q = q.where(Attempt.id < first_open)
    return db.session.scalar(q) or lo


def refresh(
    contest: Contest, *, now: datetime, min_age: timedelta = timedelta(0)
) -> bool:
    """Fold newly settled attempts of `contest` (and new registrations) into
    the rollups, at most BATCH of each; commits. Skips what another process
    is refreshing or what was refreshed less than `min_age` ago. True if
    anything was folded."""
    begin_write()
    moved = False
    cursor = _claim(contest_cursor(contest.id), now, min_age)
    if cursor is not None:
        end = settled_end(contest, cursor.position, now)
        if end > cursor.position:
            out = Fold()
            last = fold_attempts(contest, cursor.position, end, out, limit=BATCH)
            _persist(contest.id, out)
            cursor.position = last or end
            moved = True
        cursor.updated_at = now
    users = _claim(USERS_CURSOR, now, min_age)
    if users is not None:
        end = db.session.scalar(
            select(func.max(User.id)).where(
                User.id > users.position, User.created_at < now - SETTLE
            )
        )
        if end:
            out = Fold()
            last = fold_users(users.position, end, out, limit=BATCH)
            _persist(None, out)
            users.position = last or end
            moved = True
        users.updated_at = now
    db.session.commit()
    return moved


def refresh_all(contest: Contest, *, now: datetime) -> int:
    """Refresh until nothing is left to fold (the CLI, after a bulk load);
    the number of rounds."""
    rounds = 0
    while refresh(contest, now=now):
        rounds += 1
    return rounds


def reset(contest_id: int) -> None:
    """Forget the contest's folded figures (in the caller's transaction); the
    next refresh folds its attempts again from the first."""
    db.session.execute(delete(StatsDay).where(StatsDay.contest_id == contest_id))
    db.session.execute(
        delete(StatsCategory).where(StatsCategory.contest_id == contest_id)
    )
    db.session.execute(
        update(StatsCursor)
        .where(StatsCursor.name == contest_cursor(contest_id))
        .values(position=0)
    )


def reset_signups() -> None:
    """Forget the folded registrations (in the caller's transaction)."""
    db.session.execute(delete(StatsSignup))
    db.session.execute(
        update(StatsCursor).where(StatsCursor.name == USERS_CURSOR).values(position=0)
    )


def cursor_position(name: str) -> int:
    return (
        db.session.scalar(select(StatsCursor.position).where(StatsCursor.name == name))
        or 0
    )
