"""Boards from SQL, served while Redis is down or being rebuilt; contest_best.

contest_best holds each citizen's best finish, upserted in the finish's own
transaction, so the top of a city or region board is an index range scan, and
"my rank" is the page's cached citizens-per-score plus index counts inside the
citizen's own score band. Day boards aggregate the day's attempts. Everything
cached lives in bounded TTL caches (LEADERBOARD_SQL_CACHE_S).
"""

from __future__ import annotations

import threading

from cachetools import TTLCache
from flask import current_app
from sqlalchemy import and_, bindparam, func, literal, or_, select, text, tuple_
from sqlalchemy.orm import aliased

from ..clock import day_bounds
from ..extensions import db
from ..models import Attempt, Contest, ContestBest, User, UTCDateTime
from .common import Board, Entry, MyRank, Scope, _codec, region_names, sql_names

#: board pages (contest, scope, limit) -> (entries, total, citizens per score)
PAGE_CACHE_SIZE = 512
#: a citizen's place on a day board (contest, day, user) -> MyRank | None
DAY_RANK_CACHE_SIZE = 20_000

_lock = threading.Lock()
_pages: TTLCache | None = None
_day_ranks: TTLCache | None = None


def clear_cache() -> None:
    """Forget every cached SQL board of this process."""
    global _pages, _day_ranks
    with _lock:
        _pages = _day_ranks = None


def cache_info() -> dict[str, int]:
    """How many entries this process's SQL caches hold (ops, tests)."""
    with _lock:
        return {
            "pages": len(_pages) if _pages is not None else 0,
            "day_ranks": len(_day_ranks) if _day_ranks is not None else 0,
        }


def _caches() -> tuple[TTLCache, TTLCache] | None:
    """The bounded caches, made for the configured lifetime; None if it is 0."""
    global _pages, _day_ranks
    ttl = current_app.config["LEADERBOARD_SQL_CACHE_S"]
    if ttl <= 0:
        return None
    with _lock:
        if _pages is None or _pages.ttl != ttl:
            _pages = TTLCache(maxsize=PAGE_CACHE_SIZE, ttl=ttl)
            _day_ranks = TTLCache(maxsize=DAY_RANK_CACHE_SIZE, ttl=ttl)
        return _pages, _day_ranks


def _cached(cache: TTLCache | None, key, compute):
    if cache is None:
        return compute()
    with _lock:
        if key in cache:
            return cache[key]
    value = compute()
    with _lock:
        cache[key] = value
    return value


# ---------------------------------------------------------------- contest_best


def _upsert(values: dict, *, only_if_better: bool):
    """INSERT ... ON CONFLICT (contest_id, user_id) DO UPDATE (SQLite and PG)."""
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(ContestBest).values(**values)
    columns = [c for c in values if c not in ("contest_id", "user_id")]
    return stmt.on_conflict_do_update(
        index_elements=[ContestBest.contest_id, ContestBest.user_id],
        set_={c: stmt.excluded[c] for c in columns},
        where=(stmt.excluded.rank_key > ContestBest.rank_key)
        if only_if_better
        else None,
    )


def record_best(attempt: Attempt) -> None:
    """Keep the citizen's best up to date with a just-finished attempt.

    Runs in the caller's transaction (flushed with it, committed with it): the
    row changes only if this attempt ranks higher than the stored best (a tie
    keeps the earlier attempt).
    """
    if attempt.rank_key is None:
        return
    region = select(User.region_code).where(User.id == attempt.user_id)
    db.session.execute(
        _upsert(
            {
                "contest_id": attempt.contest_id,
                "user_id": attempt.user_id,
                "region_code": region.scalar_subquery(),
                "rank_key": attempt.rank_key,
                "score": attempt.score,
                "duration_ms": attempt.duration_ms,
                "finished_at": attempt.finished_at,
                "attempt_id": attempt.id,
            },
            only_if_better=True,
        )
    )


def _best_attempts(contest_id: int):
    """Per (contest, citizen) the best finished attempt: no better one exists."""
    other = aliased(Attempt)
    better = (
        select(literal(1))
        .where(
            other.user_id == Attempt.user_id,
            other.contest_id == Attempt.contest_id,
            other.rank_key.is_not(None),
            or_(
                other.rank_key > Attempt.rank_key,
                and_(other.rank_key == Attempt.rank_key, other.id < Attempt.id),
            ),
        )
        .exists()
    )
    return (
        select(
            Attempt.contest_id,
            Attempt.user_id,
            User.region_code,
            Attempt.rank_key,
            Attempt.score,
            Attempt.duration_ms,
            Attempt.finished_at,
            Attempt.id,
        )
        .join(User, User.id == Attempt.user_id)
        .where(
            Attempt.contest_id == contest_id,
            Attempt.rank_key.is_not(None),
            ~better,
        )
    )


def refresh_best(contest: Contest, user_ids: list[int]) -> None:
    """Recompute the given citizens' best from their attempts (may lower or
    delete a row). Runs in the caller's transaction; does not commit."""
    if not user_ids:
        return
    rows = db.session.execute(
        _best_attempts(contest.id).where(Attempt.user_id.in_(user_ids))
    ).all()
    found = {r.user_id for r in rows}
    gone = [u for u in user_ids if u not in found]
    if gone:
        db.session.execute(
            ContestBest.__table__.delete().where(
                ContestBest.contest_id == contest.id, ContestBest.user_id.in_(gone)
            )
        )
    for r in rows:
        db.session.execute(
            _upsert(
                {
                    "contest_id": r.contest_id,
                    "user_id": r.user_id,
                    "region_code": r.region_code,
                    "rank_key": r.rank_key,
                    "score": r.score,
                    "duration_ms": r.duration_ms,
                    "finished_at": r.finished_at,
                    "attempt_id": r.id,
                },
                only_if_better=False,
            )
        )


def fill_best(contest: Contest) -> int:
    """Rebuild the contest's contest_best rows from its attempts (bulk loads,
    repairs). Runs in the caller's transaction; returns the rows written."""
    db.session.execute(
        ContestBest.__table__.delete().where(ContestBest.contest_id == contest.id)
    )
    best = _best_attempts(contest.id)
    db.session.execute(
        ContestBest.__table__.insert().from_select(
            [
                "contest_id",
                "user_id",
                "region_code",
                "rank_key",
                "score",
                "duration_ms",
                "finished_at",
                "attempt_id",
            ],
            best,
        )
    )
    return (
        db.session.scalar(
            select(func.count()).where(ContestBest.contest_id == contest.id)
        )
        or 0
    )


# ---------------------------------------------------------------- SQL order


def _best_query(contest: Contest, scope: Scope):
    """Per citizen: best key among finished attempts in the scope (subquery)."""
    q = (
        select(Attempt.user_id.label("user_id"), func.max(Attempt.rank_key).label("k"))
        .where(Attempt.contest_id == contest.id, Attempt.rank_key.is_not(None))
        .group_by(Attempt.user_id)
    )
    if scope.kind == "region":
        q = q.join(User, User.id == Attempt.user_id).where(
            User.region_code == scope.region
        )
    elif scope.kind == "day":
        start, end = day_bounds(scope.day, contest.timezone)
        q = q.where(Attempt.finished_at >= start, Attempt.finished_at < end)
    return q.subquery()


def sql_ranking(
    contest: Contest, scope: Scope, limit: int | None = None
) -> list[tuple[int, int]]:
    """(user_id, key) in board order, straight from the attempts (the truth):
    key descending, then user id ascending."""
    best = _best_query(contest, scope)
    q = select(best.c.user_id, best.c.k).order_by(best.c.k.desc(), best.c.user_id)
    if limit is not None:
        q = q.limit(limit)
    return [(r.user_id, int(r.k)) for r in db.session.execute(q)]


def _in_scope(contest: Contest, scope: Scope):
    conds = [ContestBest.contest_id == contest.id]
    if scope.kind == "region":
        conds.append(ContestBest.region_code == scope.region)
    return conds


def _score_counts(contest: Contest, scope: Scope) -> dict[int, int]:
    """Citizens per score on a city or region board (one aggregate)."""
    rows = db.session.execute(
        select(ContestBest.score, func.count())
        .where(*_in_scope(contest, scope))
        .group_by(ContestBest.score)
    )
    return {score: n for score, n in rows}


def _page_from_best(contest: Contest, scope: Scope, limit: int):
    """Top `limit` of a city or region board and the citizens per score."""
    rows = db.session.execute(
        select(ContestBest.user_id, ContestBest.score, ContestBest.duration_ms)
        .where(*_in_scope(contest, scope))
        .order_by(ContestBest.rank_key.desc(), ContestBest.user_id)
        .limit(limit)
    ).all()
    counts = _score_counts(contest, scope)
    return [(r.user_id, r.score, r.duration_ms) for r in rows], counts


def _my_rank_from_best(
    contest: Contest, scope: Scope, user_id: int, counts: dict[int, int]
) -> MyRank | None:
    """The citizen's place: everyone with a higher score (from `counts`, the
    page's cached per-score totals), plus two index range counts inside the
    citizen's own score band (higher keys, and equal keys of lower user ids)."""
    mine = db.session.execute(
        select(
            ContestBest.rank_key,
            ContestBest.score,
            ContestBest.duration_ms,
            ContestBest.region_code,
        ).where(ContestBest.contest_id == contest.id, ContestBest.user_id == user_id)
    ).first()
    if mine is None or (scope.kind == "region" and mine.region_code != scope.region):
        return None
    conds = _in_scope(contest, scope)
    # Keys of one score form one band: [score * span, (score + 1) * span).
    codec = _codec(contest)
    span = codec.d * codec.f
    band_top = (mine.rank_key // span + 1) * span
    higher = select(func.count()).where(
        *conds, ContestBest.rank_key > mine.rank_key, ContestBest.rank_key < band_top
    )
    tied = select(func.count()).where(
        *conds, ContestBest.rank_key == mine.rank_key, ContestBest.user_id < user_id
    )
    ahead_in_band = db.session.scalar(
        select(higher.scalar_subquery() + tied.scalar_subquery())
    )
    band_score = mine.rank_key // span
    above = sum(n for score, n in counts.items() if score > band_score)
    return MyRank(above + int(ahead_in_band) + 1, mine.score, mine.duration_ms)


def _stored_results(
    contest: Contest, pairs: list[tuple[int, int]]
) -> dict[tuple[int, int], tuple[int, int]]:
    """(user, key) -> (score, duration_ms) as stored on those attempts."""
    if not pairs:
        return {}
    rows = db.session.execute(
        select(
            Attempt.user_id, Attempt.rank_key, Attempt.score, Attempt.duration_ms
        ).where(
            Attempt.contest_id == contest.id,
            tuple_(Attempt.user_id, Attempt.rank_key).in_(pairs),
        )
    )
    return {(r.user_id, r.rank_key): (r.score, r.duration_ms) for r in rows}


def _page_of_day(contest: Contest, scope: Scope, limit: int):
    """Top `limit` of a day board and its size (an aggregate over the day)."""
    ranked = sql_ranking(contest, scope, limit)
    stored = _stored_results(contest, ranked)
    best = _best_query(contest, scope)
    total = db.session.scalar(select(func.count()).select_from(best)) or 0
    return [(uid, *stored.get((uid, k), (0, 0))) for uid, k in ranked], total


def _my_rank_of_day(contest: Contest, scope: Scope, user_id: int) -> MyRank | None:
    best = _best_query(contest, scope)
    mine = db.session.scalar(select(best.c.k).where(best.c.user_id == user_id))
    if mine is None:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(best)
        .where(or_(best.c.k > mine, and_(best.c.k == mine, best.c.user_id < user_id)))
    )
    score, duration = _stored_results(contest, [(user_id, mine)]).get(
        (user_id, mine), (0, 0)
    )
    return MyRank(int(ahead) + 1, score, duration)


def sql_board(contest: Contest, scope: Scope, limit: int, user_id: int | None) -> Board:
    """A board page from SQL, marked delayed. Pages (and places on day boards)
    are cached per process for LEADERBOARD_SQL_CACHE_S, in bounded caches."""
    caches = _caches()
    pages, day_ranks = caches if caches else (None, None)

    def page():
        counts: dict[int, int] = {}
        if scope.kind == "day":
            rows, total = _page_of_day(contest, scope, limit)
        else:
            rows, counts = _page_from_best(contest, scope, limit)
            total = sum(counts.values())
        names = sql_names([uid for uid, _, _ in rows])
        regions = region_names()
        entries = []
        for pos, (uid, score, duration) in enumerate(rows, start=1):
            name, region = names.get(uid, ("匿名参赛者", ""))
            entries.append(
                Entry(pos, name, region, regions.get(region, ""), score, duration)
            )
        return entries, total, counts

    entries, total, counts = _cached(pages, (contest.id, scope, limit), page)
    me = None
    if user_id is not None:
        if scope.kind == "day":
            me = _cached(
                day_ranks,
                (contest.id, scope.day, user_id),
                lambda: _my_rank_of_day(contest, scope, user_id),
            )
        else:
            me = _my_rank_from_best(contest, scope, user_id, counts)
    return Board(entries, me, True, total)


def _finish_statement():
    """PostgreSQL: store a finished attempt's result and move the citizen's
    best in one statement: the attempt UPDATE feeds the contest_best upsert
    through a data-modifying CTE, instead of an ORM flush and a second round
    trip. Same rule as record_best: only a strictly better key replaces the
    stored best. Written as SQL text because SQLAlchemy does not cache the
    compiled form of PostgreSQL's INSERT ... ON CONFLICT (it compiled the
    upsert on every finish)."""
    return text(
        """
        WITH done AS (
            UPDATE attempt
               SET finished_at = :p_finished_at, finish_kind = :p_finish_kind,
                   score = :p_score, correct_count = :p_correct,
                   duration_ms = :p_duration, rank_key = :p_rank_key
             WHERE id = :p_attempt
         RETURNING id, user_id, contest_id, rank_key, score, duration_ms,
                   finished_at
        )
        INSERT INTO contest_best AS best
               (contest_id, user_id, region_code, rank_key, score, duration_ms,
                finished_at, attempt_id)
        SELECT done.contest_id, done.user_id, u.region_code, done.rank_key,
               done.score, done.duration_ms, done.finished_at, done.id
          FROM done JOIN "user" AS u ON u.id = done.user_id
        ON CONFLICT (contest_id, user_id) DO UPDATE
           SET region_code = excluded.region_code,
               rank_key = excluded.rank_key, score = excluded.score,
               duration_ms = excluded.duration_ms,
               finished_at = excluded.finished_at,
               attempt_id = excluded.attempt_id
         WHERE excluded.rank_key > best.rank_key
        """
    ).bindparams(bindparam("p_finished_at", type_=UTCDateTime()))


_FINISH = _finish_statement()


def store_finish_and_best(attempt: Attempt) -> None:
    """PostgreSQL only: write the finished attempt's result columns (as set on
    `attempt`, which the caller keeps clean) and upsert the citizen's best, in
    the caller's transaction, one round trip."""
    # On the session's connection (same transaction), as a Core statement:
    # through Session.execute an ORM insert with parameters takes the ORM
    # bulk path.
    db.session.connection().execute(
        _FINISH,
        {
            "p_attempt": attempt.id,
            "p_finished_at": attempt.finished_at,
            "p_finish_kind": attempt.finish_kind,
            "p_score": attempt.score,
            "p_correct": attempt.correct_count,
            "p_duration": attempt.duration_ms,
            "p_rank_key": attempt.rank_key,
        },
    )
