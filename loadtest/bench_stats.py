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
4. the incremental fold of that tail (what a refresh during the week costs).

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
        for label, q in (
            ("participation by region over attempts (the old query)", regions_sql),
            ("knowledge gaps straight over the answers", cats_sql),
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
        (
            "GET /staff/regions/lubei?q=138 (search)",
            f"/staff/regions/lubei?{c}&q=138&page=3",
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
