"""Staff figures at city scale: 1M finished attempts (20M answers).

Seeds a fresh PostgreSQL database with bigseed (or uses `--url`), then:

1. the naive way, once each, for comparison: the old grouped query over the
   attempts (participation by region) and the knowledge-gap query straight
   over the answers;
2. the first fold of the rollups (what `flask stats refresh` does after a
   bulk load), leaving the contest's last `--tail-hours` of attempts unfolded
   so that reads also fold a realistic tail;
3. every stats endpoint and staff page through the app (in-process test
   client, a logged-in city staff account): `--requests` reads each with the
   per-process cache as configured (STATS_CACHE_S; the RESULTS.md run had
   10 s), and the same with the cache off, so every read recomputes the
   figures (the cost the one request per cache period pays);
4. the incremental fold of that tail (what a refresh during the week costs);
5. the tail cost with one old open attempt followed by `--open-tail` N
   finished ones (copies of the newest attempts in a copy of the contest,
   removed afterwards): attempts a read folds in memory and the read's time
   before a refresh passes them (what every read cost, while the open
   attempt lasted, before the pending list) and after it (the pending list:
   only the open attempt).

    .venv/bin/python loadtest/bench_stats.py [--attempts 1000000] [--url URL]

Prints a Markdown table (copied into loadtest/RESULTS.md). The database is
dropped afterwards unless `--keep` (or `--url`, which is never dropped).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import sqlalchemy as sa  # noqa: E402
from bigseed import START, big_database, make_app, seed  # noqa: E402

STAFF_PHONE, STAFF_PASSWORD = "13900000077", "bench-staff-2023-pw"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def naive(app, contest_id: int) -> list[str]:
    """The queries a dashboard without rollups would run on every read."""
    from quiz_app.extensions import db

    out = []
    with app.app_context():
        x = db.session.execute
        x(sa.text("SET statement_timeout = '180s'"))
        regions_sql = sa.text(
            "SELECT region, count(uid), sum(n), avg(best) FROM ("
            " SELECT u.region_code AS region, a.user_id AS uid, count(a.id) AS n,"
            " max(a.score) FILTER (WHERE a.rank_key IS NOT NULL) AS best"
            ' FROM attempt a JOIN "user" u ON u.id = a.user_id'
            " WHERE a.contest_id = :c GROUP BY u.region_code, a.user_id) t"
            " GROUP BY region"
        )
        cats_sql = sa.text(
            "SELECT u.region_code, q.category_code, count(*),"
            " count(*) FILTER (WHERE aa.is_correct)"
            " FROM attempt_answer aa JOIN attempt a ON a.id = aa.attempt_id"
            ' JOIN "user" u ON u.id = a.user_id'
            " JOIN question q ON q.id = aa.question_id"
            " WHERE a.contest_id = :c AND a.finished_at IS NOT NULL"
            " GROUP BY u.region_code, q.category_code"
        )
        # The county search before migration 0013: a substring of name or
        # phone over the county's best rows (the count, then page 3).
        search_sql = sa.text(
            'SELECT (SELECT count(*) FROM contest_best b JOIN "user" u'
            " ON u.id = b.user_id WHERE b.contest_id = :c AND b.region_code = 'lubei'"
            " AND (u.name LIKE '%138%' OR u.phone LIKE '%138%')),"
            " (SELECT count(*) FROM (SELECT b.user_id FROM contest_best b"
            ' JOIN "user" u ON u.id = b.user_id WHERE b.contest_id = :c'
            " AND b.region_code = 'lubei'"
            " AND (u.name LIKE '%138%' OR u.phone LIKE '%138%')"
            " ORDER BY b.rank_key DESC, b.user_id OFFSET 100 LIMIT 50) t)"
        )
        for label, q in (
            ("participation by region over attempts (the old query)", regions_sql),
            ("knowledge gaps straight over the answers", cats_sql),
            ("the old county search, LIKE '%138%' (count and page 3)", search_sql),
        ):
            ms = timed(lambda q=q: x(q, {"c": contest_id}).all())
            out.append(f"| naive: {label} | 1 | {ms:.0f} | | |")
        db.session.rollback()
    return out


def first_fold(app, contest_id: int, tail_hours: float) -> tuple[str, int]:
    from quiz_app.extensions import db
    from quiz_app.models import Attempt, Contest
    from quiz_app.stats import rollup

    with app.app_context():
        c = db.session.get(Contest, contest_id)
        last_start = db.session.scalar(
            sa.select(sa.func.max(Attempt.started_at)).where(
                Attempt.contest_id == contest_id
            )
        )
        cut = last_start - timedelta(hours=tail_hours) + rollup.SETTLE
        t = time.perf_counter()
        rounds = rollup.refresh_all(c, now=cut)
        seconds = time.perf_counter() - t
        tail = db.session.scalar(
            sa.select(sa.func.count()).where(
                Attempt.contest_id == contest_id,
                Attempt.id > rollup.cursor_position(rollup.contest_cursor(c.id)),
            )
        )
        # the next read must not fold (the cursor was just refreshed "now")
        db.session.execute(
            sa.update(rollup.StatsCursor).values(updated_at=sa.func.now())
        )
        db.session.commit()
    return (
        f"| first fold of the rollups ({rounds} batches of {rollup.BATCH}) "
        f"| 1 | {seconds * 1000:.0f} | | |",
        tail,
    )


def login(client) -> None:
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    r = client.post(
        "/api/v1/auth/login",
        json={"phone": STAFF_PHONE, "password": STAFF_PASSWORD},
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 200, r.get_json()


def endpoints(contest_id: int) -> list[tuple[str, str]]:
    c = f"contest={contest_id}"
    return [
        ("GET /api/v1/stats/summary", f"/api/v1/stats/summary?{c}"),
        ("GET /api/v1/stats/regions", f"/api/v1/stats/regions?{c}"),
        ("GET /api/v1/stats/daily", f"/api/v1/stats/daily?{c}"),
        ("GET /api/v1/stats/scores", f"/api/v1/stats/scores?{c}"),
        ("GET /api/v1/stats/categories", f"/api/v1/stats/categories?{c}"),
        (
            "GET /api/v1/stats/categories?by=region",
            f"/api/v1/stats/categories?{c}&by=region",
        ),
        (
            "GET /api/v1/stats/daily?region=lubei",
            f"/api/v1/stats/daily?{c}&region=lubei",
        ),
        ("GET /api/v1/stats/winners?limit=100", f"/api/v1/stats/winners?{c}&limit=100"),
        ("GET /staff/ (dashboard page)", f"/staff/?{c}"),
        ("GET /staff/regions/lubei (county page)", f"/staff/regions/lubei?{c}"),
        # The search a county office makes: a number's last four digits, its
        # first seven, a surname (the most common one of bigseed's names).
        (
            "GET /staff/regions/lubei?q=5678 (search: number's end)",
            f"/staff/regions/lubei?{c}&q=5678",
        ),
        (
            "GET /staff/regions/lubei?q=1300001 (search: number's start)",
            f"/staff/regions/lubei?{c}&q=1300001",
        ),
        (
            "GET /staff/regions/lubei?q=王 (search: surname, page 2)",
            f"/staff/regions/lubei?{c}&q=%E7%8E%8B&page=2",
        ),
        ("GET /staff/winners (prize list, top 50)", f"/staff/winners?{c}"),
    ]


def read_all(app, contest_id: int, n: int, label: str) -> list[str]:
    from quiz_app.stats import services as stats

    stats.clear_cache()
    client = app.test_client()
    login(client)
    out = []
    for name, path in endpoints(contest_id):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            r = client.get(path)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200, (path, r.status_code)
        out.append(
            f"| {name} ({label}) | {n} | {statistics.median(times):.1f} "
            f"| {pct(times, 95):.1f} | {max(times):.1f} |"
        )
    return out


def incremental(app, contest_id: int) -> str:
    from quiz_app.clock import utcnow
    from quiz_app.extensions import db
    from quiz_app.models import Contest
    from quiz_app.stats import rollup

    with app.app_context():
        c = db.session.get(Contest, contest_id)
        t = time.perf_counter()
        rounds = rollup.refresh_all(c, now=utcnow())
        ms = (time.perf_counter() - t) * 1000
    return f"| incremental fold of the tail ({rounds} batches) | 1 | {ms:.0f} | | |"


def copy_contest(contest_id: int, n: int) -> tuple[int, int]:
    """A copy of the contest holding copies of its newest n + 1 attempts and
    their answers, the oldest of them open; (copy id, attempts copied)."""
    from quiz_app.extensions import db

    x = db.session.execute
    first = x(
        sa.text(
            "SELECT min(id) FROM (SELECT id FROM attempt WHERE contest_id = :c"
            " ORDER BY id DESC LIMIT :n) t"
        ),
        {"c": contest_id, "n": n + 1},
    ).scalar()
    copy = x(
        sa.text(
            "INSERT INTO contest (title, description, starts_at, ends_at, timezone,"
            " time_limit_s, questions_per_attempt, attempts_per_day,"
            " points_per_question, type_counts, category_quotas, multiple_scoring,"
            " excellent_min, created_at, rank_max_score, rank_max_duration_ms,"
            " rank_window_start, rank_window_ms, rank_unit_ms)"
            " SELECT title || ' (bench copy)', description, starts_at, ends_at,"
            " timezone, time_limit_s, questions_per_attempt, attempts_per_day,"
            " points_per_question, type_counts, category_quotas, multiple_scoring,"
            " excellent_min, created_at, rank_max_score, rank_max_duration_ms,"
            " rank_window_start, rank_window_ms, rank_unit_ms"
            " FROM contest WHERE id = :c RETURNING id"
        ),
        {"c": contest_id},
    ).scalar()
    # New ids above every existing one, in the same order (the open one first).
    off = x(sa.text("SELECT max(id) FROM attempt")).scalar() + 1 - first
    src = "FROM attempt WHERE contest_id = :c AND id >= :first"
    params = {"c": contest_id, "first": first, "off": off, "copy": copy}
    copied = x(
        sa.text(
            "INSERT INTO attempt (id, user_id, contest_id, started_at, deadline_at,"
            " finished_at, finish_kind, score, correct_count, duration_ms, rank_key)"
            " SELECT id + :off, user_id, :copy, started_at, deadline_at,"
            " CASE WHEN id = :first THEN NULL ELSE finished_at END,"
            " CASE WHEN id = :first THEN NULL ELSE finish_kind END,"
            " CASE WHEN id = :first THEN NULL ELSE score END,"
            " CASE WHEN id = :first THEN NULL ELSE correct_count END,"
            " CASE WHEN id = :first THEN NULL ELSE duration_ms END,"
            " CASE WHEN id = :first THEN NULL ELSE rank_key END " + src
        ),
        params,
    ).rowcount
    x(
        sa.text(
            "INSERT INTO attempt_answer (attempt_id, position, question_id,"
            " revision_id, option_order, choices, version, saved_at, is_correct)"
            " SELECT aa.attempt_id + :off, aa.position, aa.question_id,"
            " aa.revision_id, aa.option_order, aa.choices, aa.version, aa.saved_at,"
            " aa.is_correct FROM attempt_answer aa JOIN attempt a"
            " ON a.id = aa.attempt_id WHERE a.contest_id = :c AND a.id >= :first"
        ),
        params,
    )
    x(sa.text("SELECT setval('attempt_id_seq', (SELECT max(id) FROM attempt))"))
    x(sa.text("ANALYZE attempt"))
    return copy, copied


def drop_copy(copy: int) -> None:
    from quiz_app.extensions import db

    x = db.session.execute
    p = {"c": copy}
    for table in ("stats_pending", "stats_day", "stats_category", "contest_best"):
        x(sa.text(f"DELETE FROM {table} WHERE contest_id = :c"), p)
    x(sa.text("DELETE FROM stats_cursor WHERE name = :n"), {"n": f"c{copy}"})
    x(
        sa.text(
            "DELETE FROM attempt_answer WHERE attempt_id IN"
            " (SELECT id FROM attempt WHERE contest_id = :c)"
        ),
        p,
    )
    x(sa.text("DELETE FROM attempt WHERE contest_id = :c"), p)
    x(sa.text("DELETE FROM contest WHERE id = :c"), p)


def open_tail(app, contest_id: int, n: int, reads: int) -> list[str]:
    """Reads of a contest whose oldest unfolded attempt stays open, before
    and after a refresh passes it (see the module docstring, step 5)."""
    from quiz_app.clock import utcnow
    from quiz_app.extensions import db
    from quiz_app.models import Contest, StatsCursor
    from quiz_app.stats import rollup
    from quiz_app.stats import services as stats

    out = []
    app.config["STATS_CACHE_S"] = 0
    app.config["STATS_REFRESH_S"] = 10**6  # only the refresh below folds
    with app.app_context():
        copy, copied = copy_contest(contest_id, n)
        # Existing, fresh cursor: the reads do not refresh on their own.
        db.session.add(
            StatsCursor(
                name=rollup.contest_cursor(copy), position=0, updated_at=utcnow()
            )
        )
        db.session.commit()
        c = db.session.get(Contest, copy)
        try:

            def reads_of(label: str) -> None:
                times, folded = [], set()
                for _ in range(reads):
                    t = time.perf_counter()
                    snap = stats.compute_snapshot(c, now=utcnow())
                    times.append((time.perf_counter() - t) * 1000)
                    folded.add(snap.tail.attempts)
                out.append(
                    f"| one open attempt + {copied - 1:,} finished, {label}: read"
                    f" folds {'/'.join(f'{f:,}' for f in sorted(folded))} attempts"
                    f" in memory | {reads} | {statistics.median(times):.0f}"
                    f" | {pct(times, 95):.0f} | {max(times):.0f} |"
                )

            reads_of("before a refresh passes them (the old cursor's tail)")
            t = time.perf_counter()
            rounds = rollup.refresh_all(c, now=utcnow())
            ms = (time.perf_counter() - t) * 1000
            out.append(
                f"| the refresh that passes them ({rounds} batches; pending"
                f" afterwards: {rollup.pending_count(copy)}) | 1 | {ms:.0f} | | |"
            )
            reads_of("after the refresh (pending list)")
        finally:
            db.session.rollback()
            drop_copy(copy)
            db.session.commit()
    return out


def run(url: str, args, info_contest: int | None) -> list[str]:
    from quiz_app.auth.services import create_user
    from quiz_app.extensions import db
    from quiz_app.models import Attempt, AttemptAnswer, Contest, ContestBest

    app = make_app(url)
    with app.app_context():
        contest_id = info_contest or db.session.scalar(
            sa.select(sa.func.max(Contest.id))
        )
        if not db.session.scalar(
            sa.text('SELECT 1 FROM "user" WHERE phone = :p'), {"p": STAFF_PHONE}
        ):
            create_user(
                name="基准市科协",
                phone=STAFF_PHONE,
                region="lunan",
                password=STAFF_PASSWORD,
                role="staff",
                city_wide=True,
                now=START,
            )
        counts = [
            db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Attempt, AttemptAnswer, ContestBest)
        ]
    lines = [
        f"data: {counts[0]:,} attempts, {counts[1]:,} answers, "
        f"{counts[2]:,} citizens with a best",
        "",
        "| what | n | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|---|",
    ]
    if not args.skip_naive:
        lines += naive(app, contest_id)
    fold, tail = first_fold(app, contest_id, args.tail_hours)
    lines.append(fold)
    lines.append(f"| (unfolded tail left for the reads: {tail:,} attempts) | | | | |")
    lines += read_all(app, contest_id, args.requests, "cache on")
    app.config["STATS_CACHE_S"] = 0
    app.config["STATS_REFRESH_S"] = 10**6  # reads recompute, never fold here
    lines += read_all(app, contest_id, args.cold_requests, "cache off: recompute")
    app.config["STATS_REFRESH_S"] = 15
    lines.append(incremental(app, contest_id))
    if args.open_tail:
        lines += open_tail(app, contest_id, args.open_tail, args.cold_requests)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, default=1_000_000)
    ap.add_argument("--url", help="an already seeded database (kept)")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--cold-requests", type=int, default=20)
    ap.add_argument("--tail-hours", type=float, default=2.0)
    ap.add_argument(
        "--open-tail",
        type=int,
        default=20_000,
        help="finished attempts after the open one in step 5 (0: skip it)",
    )
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.url:
        lines = run(args.url, args, None)
    else:
        with contextlib.ExitStack() as stack:
            url = stack.enter_context(big_database(keep=args.keep))
            info = seed(make_app(url), attempts=args.attempts)
            lines = run(url, args, info.contest_id)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
