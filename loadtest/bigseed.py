"""A contest at city scale in a fresh PostgreSQL database, for benchmarks.

Builds, with set-based SQL (no Python loop per row):

* the regions, the starter bank (as `flask setup` loads it) and synthetic
  region populations (plausible orders of magnitude, NOT official figures);
* one seven-day contest with the default rules (20 questions: 10 single,
  5 multiple, 5 judge; 5 points each; exact multiple-choice scoring);
* `citizens` accounts (default: 45 % of the attempts, so a citizen makes
  about 2.2 attempts), spread over the regions by the load test's weights,
  registered a few minutes before their first attempt;
* `attempts` finished, scored attempts with `per_attempt` answer rows each
  (1M attempts = 20M answers by default), started between 08:00 and 22:00
  contest time on the seven contest days, more on the first day;
* answers whose correctness depends on the attempt's ability, the question's
  difficulty and a fixed bias per (region, category), so facility,
  discrimination, knowledge-gap maps and score histograms look like a real
  contest's and differ between counties; about 2 % are left blank; wrong
  multiple-choice answers drop a keyed option or add a distractor;
* scores, correct counts and rank keys computed in SQL with the contest's
  own codec parameters, and `contest_best` filled by the app's `fill_best`.

Question draws ignore category quotas and option shuffling (`option_order`
is the original order): a benchmark measures figures over the rows, not the
drawing. Randomness comes from PostgreSQL's `setseed`, so a run with the same
arguments gives the same figures.

As a library (what the benchmarks do):

    from bigseed import big_database, make_app, seed
    with big_database() as url:
        app = make_app(url, redis_url)
        info = seed(app, attempts=1_000_000)

On the command line (prints the figures of the seeding; `--keep` leaves the
database for a later run and prints its URL):

    .venv/bin/python loadtest/bigseed.py --attempts 1000000 [--keep]

1M attempts take a few minutes here and about 4 GB of disk; drop the
database when done (the context manager does).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

DEFAULT_PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: the password of every seeded citizen (one shared hash)
PASSWORD = "big-seed-2023"
#: 2023 National Science Popularization Day week, 00:00 Asia/Shanghai
START = datetime(2023, 9, 16, 16, 0, tzinfo=UTC)
DAYS = 7
#: synthetic populations in thousands (orders of magnitude only, not official)
POPULATION_K = {
    "lunan": 330,
    "lubei": 780,
    "guye": 340,
    "kaiping": 250,
    "fengnan": 500,
    "fengrun": 800,
    "caofeidian": 280,
    "luanzhou": 530,
    "zunhua": 700,
    "qianan": 770,
    "luannan": 560,
    "laoting": 460,
    "qianxi": 370,
    "yutian": 670,
    "gaoxin": 120,
    "haigang": 60,
    "lutai": 60,
    "hangu": 50,
    "shizhi": 0,
}
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国志红"


@dataclass(frozen=True)
class BigSeed:
    contest_id: int
    citizens: int
    attempts: int
    answers: int
    seconds: float


@contextlib.contextmanager
def big_database(
    pg_admin: str | None = None, prefix: str = "big", keep: bool = False
) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    pg_admin = pg_admin or os.environ.get("QUIZ_TEST_PG_ADMIN", DEFAULT_PG_ADMIN)
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = sa.create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield pg_admin.rsplit("/", 1)[0] + "/" + name
    finally:
        if not keep:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def make_app(url: str, redis_url: str | None = None, **overrides):
    """The app on that database (migrated); Redis only where boards are used."""
    from flask_migrate import upgrade

    from quiz_app import create_app
    from quiz_app.config import Config

    redis_url = redis_url or "redis://127.0.0.1:6379/15"
    app = create_app(
        Config,
        SQLALCHEMY_DATABASE_URI=url,
        REDIS_URL=redis_url,
        RATELIMIT_STORAGE_URI=redis_url,
        **{"SECRET_KEY": secrets.token_hex(32), **overrides},
    )
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
    return app


def _step(n: int) -> int:
    """A stride coprime to n, so k*step mod n is distinct for k < n."""
    for p in (37, 41, 43, 47, 53, 59, 61, 67):
        if math.gcd(p, n) == 1:
            return p
    return 1


def seed(
    app,
    *,
    attempts: int = 1_000_000,
    citizens: int | None = None,
    batch: int = 100_000,
    random_seed: float = 0.2023,
    log=print,
) -> BigSeed:
    """Seed the app's (empty, migrated) database; see the module docstring."""
    from seeding import REGION_WEIGHTS

    from quiz_app.auth.services import hash_password
    from quiz_app.bank.services import import_directory
    from quiz_app.contest.services import create_contest
    from quiz_app.extensions import db
    from quiz_app.leaderboard.services import fill_best
    from quiz_app.models import Region
    from quiz_app.regions import sync_regions

    t_start = time.perf_counter()
    citizens = citizens or max(1, int(attempts * 0.45))
    with app.app_context():
        sync_regions()
        import_directory(ROOT / "question_bank", now=START - timedelta(days=30))
        for code, k in POPULATION_K.items():
            region = db.session.get(Region, code)
            if region is not None and k:
                region.population = k * 1000
        db.session.commit()
        contest = create_contest(
            title="2023年唐山市公民科学素质知识网络竞赛（基准数据）",
            starts_at=START,
            ends_at=START + timedelta(days=DAYS),
            now=START - timedelta(days=1),
        )
        codec = contest.codec
        cid = contest.id
        points = contest.points_per_question
        type_counts = dict(contest.type_counts)
        pw_hash = hash_password(PASSWORD)
        conn = db.session.connection()
        x = conn.exec_driver_sql

        x(f"SELECT setseed({random_seed})")
        # Regions weighted like the load test: a lookup of cumulative shares.
        total_w = sum(REGION_WEIGHTS.values())
        x("CREATE UNLOGGED TABLE seed_region (code text, lo float8, hi float8)")
        acc = 0.0
        for code, w in REGION_WEIGHTS.items():
            conn.execute(
                sa.text("INSERT INTO seed_region VALUES (:c, :lo, :hi)"),
                {"c": code, "lo": acc, "hi": acc + w / total_w},
            )
            acc += w / total_w
        x("UPDATE seed_region SET hi = 2 WHERE hi = (SELECT max(hi) FROM seed_region)")
        t0 = time.perf_counter()
        conn.execute(
            sa.text(
                """
                INSERT INTO "user" (phone, name, region_code, password_hash, role,
                                    public_ranking, city_wide, disabled,
                                    must_change_password, created_at)
                SELECT '13' || lpad(g::text, 9, '0'),
                       substr(w.sur, 1 + (g % length(w.sur)), 1)
                         || substr(w.giv, 1 + ((g * 7 + g / 29) % length(w.giv)), 1)
                         || CASE WHEN g % 3 = 0 THEN ''
                            ELSE substr(w.giv, 1 + ((g * 11 + g / 31) % length(w.giv)),
                                        1)
                            END,
                       r.code, :pw, 'citizen', random() < 0.8, false, false, false,
                       :start
                FROM (SELECT g, random() AS u
                      FROM generate_series(1, CAST(:n AS int)) g) s
                CROSS JOIN (SELECT CAST(:sur AS text) AS sur,
                                   CAST(:giv AS text) AS giv) w
                JOIN seed_region r ON s.u >= r.lo AND s.u < r.hi
                """
            ),
            {
                "sur": SURNAMES,
                "giv": GIVEN,
                "pw": pw_hash,
                "n": citizens,
                "start": START.replace(tzinfo=None),
            },
        )
        first_user = conn.scalar(
            sa.text("SELECT min(id) FROM \"user\" WHERE role = 'citizen'")
        )
        log(f"citizens: {citizens} in {time.perf_counter() - t0:.1f} s")

        # The pool per type: active questions' current revisions, numbered.
        x(
            """
            CREATE UNLOGGED TABLE seed_pool AS
            SELECT r.type, (row_number() OVER (PARTITION BY r.type ORDER BY q.id)) - 1
                     AS idx,
                   q.id AS question_id, r.id AS revision_id, r.answer,
                   json_array_length(r.options::json) AS n_options,
                   q.difficulty, q.category_code AS category
            FROM question q JOIN question_revision r
              ON r.question_id = q.id AND r.number = q.revision
            WHERE q.active
            """
        )
        x("CREATE INDEX ON seed_pool (type, idx)")
        sizes = dict(
            conn.execute(sa.text("SELECT type, count(*) FROM seed_pool GROUP BY type"))
            .tuples()
            .all()
        )
        # Slots: display position -> (type, k-th of that type, stride).
        x(
            "CREATE UNLOGGED TABLE seed_slot (position int, type text, k int, "
            "n int, step int)"
        )
        pos = 1
        for qtype, count in type_counts.items():
            for k in range(count):
                conn.execute(
                    sa.text("INSERT INTO seed_slot VALUES (:p, :t, :k, :n, :s)"),
                    {
                        "p": pos,
                        "t": qtype,
                        "k": k,
                        "n": sizes[qtype],
                        "s": _step(sizes[qtype]),
                    },
                )
                pos += 1
        # A fixed bias per (region, category): the knowledge-gap map's signal.
        x(
            """
            CREATE UNLOGGED TABLE seed_bias AS
            SELECT r.code AS region, c.code AS category,
                   (random() - 0.5) * 0.3 AS bias
            FROM region r CROSS JOIN category c
            """
        )
        db.session.commit()

        per_attempt = sum(type_counts.values())
        made = 0
        t0 = time.perf_counter()
        while made < attempts:
            n = min(batch, attempts - made)
            _seed_batch(db, cid, codec, first_user, citizens, made, n, points)
            db.session.commit()
            made += n
            log(f"attempts: {made}/{attempts} ({time.perf_counter() - t0:.0f} s)")
        conn = db.session.connection()
        # Registered a few minutes before the first attempt.
        conn.exec_driver_sql(
            """
            UPDATE "user" u SET created_at = f.first - interval '7 minutes'
            FROM (SELECT user_id, min(started_at) AS first FROM attempt
                  GROUP BY user_id) f
            WHERE u.id = f.user_id
            """
        )
        fill_best(db.session.get(type(contest), cid))
        db.session.commit()
        conn = db.session.connection()
        for table in ("seed_region", "seed_pool", "seed_slot", "seed_bias"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql("ANALYZE")
        db.session.commit()
        info = BigSeed(
            contest_id=cid,
            citizens=citizens,
            attempts=attempts,
            answers=attempts * per_attempt,
            seconds=time.perf_counter() - t_start,
        )
        db.session.remove()
    return info


def _seed_batch(db, cid, codec, first_user, citizens, offset, n, points) -> None:
    """Attempts offset+1..offset+n with their answers, scores and rank keys."""
    conn = db.session.connection()
    params = {
        "cid": cid,
        "first_user": first_user,
        "citizens": citizens,
        "lo": offset + 1,
        "hi": offset + n,
        "start": START.replace(tzinfo=None),
        "points": points,
        "limit_ms": codec.max_duration_ms,
    }
    # Attempt a belongs to citizen (a-1) mod citizens; day 0 gets a third of
    # them, the other six days share the rest; started 08:00-22:00 local
    # (00:00-14:00 UTC with the contest starting at 16:00 UTC the day before).
    conn.execute(
        sa.text(
            """
            CREATE TEMP TABLE seed_attempt ON COMMIT DROP AS
            SELECT g AS n,
                   :first_user + ((g - 1) % :citizens) AS user_id,
                   :start + make_interval(
                       days => CASE WHEN random() < 0.33 THEN 0
                                    ELSE 1 + floor(random() * 6)::int END,
                       secs => 8 * 3600 + random() * 14 * 3600) AS started_at,
                   60000 + floor(random() * (:limit_ms - 60000))::bigint
                     AS duration_ms,
                   random() AS ability
            FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) g
            """
        ),
        params,
    )
    conn.execute(
        sa.text(
            """
            INSERT INTO attempt (user_id, contest_id, started_at, deadline_at,
                                 finished_at, finish_kind, duration_ms)
            SELECT user_id, :cid, started_at,
                   started_at + make_interval(secs => :limit_ms / 1000),
                   started_at + make_interval(secs => duration_ms / 1000.0),
                   'submitted', duration_ms
            FROM seed_attempt ORDER BY n
            """
        ),
        params,
    )
    # The attempt ids just made, in the order of n (ids come from a sequence).
    conn.exec_driver_sql(
        """
        CREATE TEMP TABLE seed_ids ON COMMIT DROP AS
        SELECT a.id, s.n, s.ability, u.region_code
        FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM attempt
              WHERE finished_at IS NOT NULL AND score IS NULL) a
        JOIN (SELECT n, ability, user_id, row_number() OVER (ORDER BY n) AS rn
              FROM seed_attempt) s ON s.rn = a.rn
        JOIN "user" u ON u.id = s.user_id
        """
    )
    conn.execute(
        sa.text(
            """
            INSERT INTO attempt_answer (attempt_id, position, question_id,
                                        revision_id, option_order, choices,
                                        version, is_correct)
            SELECT d.id, d.position, d.question_id, d.revision_id,
                   substr('ABCDEF', 1, d.n_options),
                   CASE WHEN d.blank THEN NULL
                        WHEN d.ok THEN d.answer
                        WHEN d.type = 'judge' THEN
                          CASE d.answer WHEN 'A' THEN 'B' ELSE 'A' END
                        WHEN d.type = 'single' THEN
                          chr(65 + ((ascii(d.answer) - 65 + 1
                                     + floor(d.u * (d.n_options - 1))::int)
                                    % d.n_options))
                        WHEN length(d.answer) > 1 AND d.u < 0.5 THEN
                          overlay(d.answer PLACING ''
                                  FROM 1 + floor(d.u * 2 * length(d.answer))::int
                                  FOR 1)
                        ELSE (SELECT string_agg(c, '' ORDER BY c) FROM
                              regexp_split_to_table(d.answer || left(translate(
                                substr('ABCDEF', 1, d.n_options), d.answer, ''),
                                1), '') c)
                   END,
                   CASE WHEN d.blank THEN 0 ELSE 1 END,
                   NOT d.blank AND d.ok
            FROM (
              SELECT i.id, sl.position, p.question_id, p.revision_id, p.answer,
                     p.n_options, p.type, random() AS u,
                     random() < 0.02 AS blank,
                     random() < least(0.97, greatest(0.05,
                         1.05 - 0.17 * p.difficulty + 0.55 * (i.ability - 0.5)
                         + coalesce(b.bias, 0))) AS ok
              FROM seed_ids i
              CROSS JOIN seed_slot sl
              JOIN seed_pool p ON p.type = sl.type
               AND p.idx = ((i.n * 7919) % sl.n + sl.k * sl.step) % sl.n
              LEFT JOIN seed_bias b ON b.region = i.region_code
               AND b.category = p.category
            ) d
            """
        )
    )
    # Scores and rank keys with the contest's own codec (see ranking.py).
    conn.execute(
        sa.text(
            """
            UPDATE attempt a
            SET correct_count = s.c, score = s.c * :points,
                rank_key = (s.c * :points)::bigint * :d * :f
                         + (:d - 1 - least(a.duration_ms, :maxd)) * :f
                         + (:f - 1 - least(greatest(floor(extract(epoch FROM
                              (a.finished_at - :wstart)) * 1000), 0), :wms)::bigint
                              / :unit)
            FROM (SELECT aa.attempt_id, count(*) FILTER (WHERE aa.is_correct) AS c
                  FROM attempt_answer aa JOIN seed_ids i ON i.id = aa.attempt_id
                  GROUP BY aa.attempt_id) s
            WHERE a.id = s.attempt_id
            """
        ),
        {
            "points": points,
            "d": codec.d,
            "f": codec.f,
            "maxd": codec.max_duration_ms,
            "wstart": codec.window_start.replace(tzinfo=None),
            "wms": codec.window_ms,
            "unit": codec.unit_ms,
        },
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, default=1_000_000)
    ap.add_argument("--citizens", type=int, default=None)
    ap.add_argument("--pg-admin", default=None)
    ap.add_argument(
        "--keep", action="store_true", help="keep the database and print its URL"
    )
    args = ap.parse_args()
    with big_database(args.pg_admin, keep=args.keep) as url:
        app = make_app(url)
        info = seed(app, attempts=args.attempts, citizens=args.citizens)
        with app.app_context():
            from quiz_app.extensions import db

            size = db.session.scalar(
                sa.text("SELECT pg_size_pretty(pg_database_size(current_database()))")
            )
            db.session.remove()
            db.engine.dispose()
        print(
            f"seeded contest {info.contest_id}: {info.citizens} citizens, "
            f"{info.attempts} attempts, {info.answers} answers "
            f"in {info.seconds:.0f} s; database size {size}"
        )
        if args.keep:
            print(f"database kept: {url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
