"""Staff rollups: attempts, answers and registrations folded into small tables.

The dashboards must not scan a million attempts (twenty million answers) on
every read, and must not add work to the citizen's finish path. So figures
that add up are folded into per-(contest, region, day) and per-(contest,
region, category) rows, and registrations into per-(region, quarter hour)
rows.

An attempt is folded in two parts. Its *start* (one attempt on the day it
started; a participant of the contest, and of that day, if it is the
citizen's first, which is fixed once the attempt exists) is known as soon
as the attempt is committed. Its *finish* (one finish on the day it
finished; its items and correct items per category) is known once it is
finished, and never changes after that (a regrade resets the contest).

A contest's cursor (`c<id>` in stats_cursor) is a watermark on attempt id:
every attempt up to it has its start folded, and its finish too unless it
is in stats_pending (still open when a refresh passed it). A refresh, under
the cursor row's lock, folds the finish of pending attempts that finished
since, then the attempts past the watermark that started more than SETTLE
ago (younger rows may still be committing out of id order): both parts of
the finished ones, the start of the open ones, which join the pending list.
So a citizen who leaves an attempt open holds back that attempt's finish,
never the attempts after it.

A read adds the tail in memory, folded the same way (`fold_tail`): the
finish of pending attempts that finished since the last refresh (an open one
costs one row), and both parts of the attempts past the watermark (about
SETTLE plus the refresh interval of traffic). It reads the cursors with
FOR SHARE, so no refresh commits between its reads of the cursor, the pending
list and the tables; the sum is then exactly a fold of every attempt from
scratch, at every moment.

Registrations have no open state: their watermark (`users`) moves over
accounts created more than SETTLE ago, and a read adds the newer ones.

The tables are derived data: `reset()` empties a contest's and the next
refresh rebuilds them from the attempts (a regrade does this for its
contest, since it changes which answers are correct).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, insert, select, update

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
    StatsPending,
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
#: a new cursor row's refresh time: due at once
NEVER = datetime(2000, 1, 1, tzinfo=UTC)


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


class Folded(NamedTuple):
    """What fold_attempts read."""

    #: the last attempt id read (None if there was none)
    last: int | None
    #: attempts read
    attempts: int
    #: ids of those still open (their start folded, their finish not)
    open: list[int]


@dataclass(frozen=True)
class Tail:
    """What a read folded in memory on top of the tables."""

    #: pending attempts read (the open ones cost one row each)
    pending: int
    #: of those, finished since the last refresh: their finish was added
    finished: int
    #: attempts past the watermark, folded whole
    past: int
    #: False if more than the read's limit were past the watermark
    complete: bool

    @property
    def attempts(self) -> int:
        """Attempts the read folded in memory."""
        return self.pending + self.past


def bucket_of(moment: datetime) -> datetime:
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // BUCKET) * BUCKET


def _chunks(items: Sequence, n: int = 900) -> Iterable[Sequence]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _regions(user_ids: Iterable[int]) -> dict[int, str]:
    """user id -> region, by primary key."""
    region: dict[int, str] = {}
    for chunk in _chunks(sorted(set(user_ids))):
        region.update(
            db.session.execute(
                select(User.id, User.region_code).where(User.id.in_(chunk))
            ).all()
        )
    return region


def fold_attempts(
    contest: Contest, lo: int, hi: int | None, out: Fold, *, limit: int | None = None
) -> Folded:
    """Add the attempts of `contest` with lo < id <= hi (hi None: no bound) to
    `out`: the start of each, the finish of the finished ones."""
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
        return Folded(None, 0, [])
    last = rows[-1].id
    # Regions, and the earlier attempts that decide "first of the contest/day",
    # by primary key and ix_attempt_user_contest_started (no join that could
    # turn into a scan of every account).
    region = _regions(r.user_id for r in rows)
    earlier: dict[int, list[tuple[int, date]]] = defaultdict(list)
    for chunk in _chunks(sorted(region)):
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
    still_open: list[int] = []
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
        else:
            still_open.append(r.id)
    if finished:
        # One grouped range scan of the attempt_answer index.
        _fold_answers(
            and_(
                AttemptAnswer.attempt_id >= rows[0].id, AttemptAnswer.attempt_id <= last
            ),
            finished,
            out,
        )
    return Folded(last, len(rows), still_open)


def _fold_finishes(contest: Contest, rows: Sequence[Any], out: Fold) -> None:
    """Add the finish of these finished attempts (rows of id, user_id,
    finished_at) to `out`; their start is folded already."""
    tz = ZoneInfo(contest.timezone)
    region = _regions(r.user_id for r in rows)
    finished: dict[int, str] = {}
    for r in rows:
        code = region[r.user_id]
        out.days[(code, r.finished_at.astimezone(tz).date())][1] += 1
        finished[r.id] = code
    for chunk in _chunks(sorted(finished)):
        _fold_answers(AttemptAnswer.attempt_id.in_(chunk), finished, out)


def _fold_answers(which, finished: dict[int, str], out: Fold) -> None:
    """Answers of the attempts `which` picks (a condition on attempt_id) by
    attempt and category; only those of `finished` (id -> region) are added."""
    q = (
        select(
            AttemptAnswer.attempt_id,
            Question.category_code,
            func.count(AttemptAnswer.id),
            func.count(AttemptAnswer.id).filter(AttemptAnswer.is_correct.is_(True)),
        )
        .join(Question, Question.id == AttemptAnswer.question_id)
        .where(which)
        .group_by(AttemptAnswer.attempt_id, Question.category_code)
    )
    for attempt_id, category, answered, correct in db.session.execute(q):
        code = finished.get(attempt_id)
        if code is None:
            continue
        cell = out.cats[(code, category)]
        cell[0] += answered
        cell[1] += correct or 0


def _pending(contest_id: int, *, finished: bool = False, limit: int | None = None):
    """The contest's pending attempts (id, user_id, finished_at) by id; only
    the finished ones with `finished`."""
    q = (
        select(Attempt.id, Attempt.user_id, Attempt.finished_at)
        .join(StatsPending, StatsPending.attempt_id == Attempt.id)
        .where(StatsPending.contest_id == contest_id)
        .order_by(Attempt.id)
    )
    if finished:
        q = q.where(Attempt.finished_at.is_not(None))
    if limit is not None:
        q = q.limit(limit)
    return db.session.execute(q).all()


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


# --------------------------------------------------------------------- reading


def read_positions(contest_id: int) -> tuple[int, int]:
    """The contest's attempt watermark and the registrations' one, with the
    two cursor rows locked FOR SHARE (PostgreSQL) until the transaction ends:
    a refresh skips them meanwhile, so the tables and the pending list the
    caller reads next belong to these positions. (SQLite: the read
    transaction is one snapshot already.) A cursor row that does not exist
    yet reads as 0 and cannot be locked; only a contest's very first refresh
    can then commit in between."""
    names = (contest_cursor(contest_id), USERS_CURSOR)
    q = select(StatsCursor.name, StatsCursor.position).where(
        StatsCursor.name.in_(names)
    )
    if db.engine.dialect.name == "postgresql":
        q = q.with_for_update(read=True)
    found = dict(db.session.execute(q).all())
    return found.get(names[0], 0), found.get(names[1], 0)


def fold_tail(contest: Contest, position: int, out: Fold, *, limit: int) -> Tail:
    """Add to `out` what the tables of `contest` lack at watermark `position`:
    the finish of its pending attempts that finished since, and at most
    `limit` attempts past the watermark, whole."""
    rows = _pending(contest.id)
    done = [r for r in rows if r.finished_at is not None]
    if done:
        _fold_finishes(contest, done, out)
    past = fold_attempts(contest, position, None, out, limit=limit)
    complete = past.attempts < limit or not db.session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(Attempt.contest_id == contest.id, Attempt.id > past.last)
    )
    return Tail(len(rows), len(done), past.attempts, complete)


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


def _ensure_cursor(name: str) -> None:
    """Create the cursor row at position 0, due at once, unless it exists."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    db.session.execute(
        upsert(StatsCursor)
        .values(name=name, position=0, updated_at=NEVER)
        .on_conflict_do_nothing(index_elements=["name"])
    )


def _claim(name: str, now: datetime, min_age: timedelta) -> StatsCursor | None:
    """The cursor row, locked, if it is due for a refresh and nobody else is
    refreshing it (PostgreSQL: SKIP LOCKED; SQLite holds the write lock)."""
    _ensure_cursor(name)
    q = select(StatsCursor).where(StatsCursor.name == name)
    if db.engine.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True)
    cursor = db.session.scalar(q.execution_options(populate_existing=True))
    if cursor is None or now - cursor.updated_at < min_age:
        return None
    return cursor


def settled_end(contest: Contest, lo: int, now: datetime) -> int:
    """The highest attempt id of the contest past `lo` started more than
    SETTLE ago (lo if there is none): every id below it is committed, open
    or not."""
    q = select(func.max(Attempt.id)).where(
        Attempt.contest_id == contest.id,
        Attempt.id > lo,
        Attempt.started_at < now - SETTLE,
    )
    return db.session.scalar(q) or lo


def _pend(contest_id: int, attempt_ids: list[int]) -> None:
    for chunk in _chunks(attempt_ids):
        db.session.execute(
            insert(StatsPending),
            [{"contest_id": contest_id, "attempt_id": a} for a in chunk],
        )


def _unpend(contest_id: int, attempt_ids: list[int]) -> None:
    for chunk in _chunks(attempt_ids):
        db.session.execute(
            delete(StatsPending).where(
                StatsPending.contest_id == contest_id,
                StatsPending.attempt_id.in_(chunk),
            )
        )


def refresh(
    contest: Contest, *, now: datetime, min_age: timedelta = timedelta(0)
) -> bool:
    """Fold into the rollups the finish of pending attempts that finished,
    then newly settled attempts of `contest` (open or finished), and new
    registrations: at most BATCH of each; commits. Skips what another process
    is refreshing or what was refreshed less than `min_age` ago. True if
    anything was folded.

    Which pending attempts finished, and which new ones are open, is decided
    from the rows this refresh read, never from a second look that could see
    an attempt finish in between."""
    begin_write()
    moved = False
    cursor = _claim(contest_cursor(contest.id), now, min_age)
    if cursor is not None:
        out = Fold()
        done = _pending(contest.id, finished=True, limit=BATCH)
        if done:
            _fold_finishes(contest, done, out)
            _unpend(contest.id, [r.id for r in done])
            moved = True
        end = settled_end(contest, cursor.position, now)
        if end > cursor.position:
            got = fold_attempts(contest, cursor.position, end, out, limit=BATCH)
            _pend(contest.id, got.open)
            cursor.position = got.last or end
            moved = True
        _persist(contest.id, out)
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
    next refresh folds its attempts again from the first. The cursor row is
    written first: a refresh holding it commits before the rows are deleted
    (so none of its rows survives the reset), and later ones skip it until
    the caller commits."""
    name = contest_cursor(contest_id)
    _ensure_cursor(name)
    db.session.execute(
        update(StatsCursor).where(StatsCursor.name == name).values(position=0)
    )
    for model in (StatsDay, StatsCategory, StatsPending):
        db.session.execute(delete(model).where(model.contest_id == contest_id))


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


def pending_count(contest_id: int) -> int:
    """Attempts at or below the contest's watermark still waiting to finish."""
    return db.session.scalar(
        select(func.count())
        .select_from(StatsPending)
        .where(StatsPending.contest_id == contest_id)
    )
