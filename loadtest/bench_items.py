"""Item statistics benchmark at city scale (1M finished attempts, 20M answers).

In a fresh PostgreSQL database seeded by bigseed.py, measures:

* the full rebuild of the contest's item statistics (`refresh(full=True)`,
  what `flask items refresh --contest ID --full` runs);
* the statistics API and pages through the Flask test client, logged in as
  an organizer, with the rollups fresh: p50/p95 over `--repeats` requests of
  the API (every item, a flag filter, a sort) and of the per-contest page and
  one question page;
* an incremental refresh after `--new` more finished attempts (copies of
  existing ones, with their answers, under new ids), and one page view that
  does that refresh itself;
* the regrade/disqualification adjustment: subtracting and adding back the
  attempts that drew one question (rolled back);
* that the incrementally kept sums equal a second full rebuild.

    .venv/bin/python loadtest/bench_items.py [--attempts 1000000] [--repeats 30]
        [--new 10000] [--url postgresql+psycopg://...  (reuse a seeded database)]

The database is dropped at the end unless --keep (or --url) is given.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "loadtest"))

import sqlalchemy as sa  # noqa: E402
from bigseed import DAYS, START, big_database, make_app, seed  # noqa: E402

NOW = START + timedelta(days=DAYS + 1)
OVERRIDES = {
    "COOKIE_SECURE": False,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "session",
    "REMEMBER_COOKIE_SECURE": False,
    "RATELIMIT_ENABLED": False,
    # Measure reads of fresh rollups; the refresh is timed on its own.
    "ITEM_STATS_MAX_AGE_S": 10**8,
}


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def sums(db, cid: int):
    return db.session.execute(
        sa.text("SELECT * FROM item_stat WHERE contest_id = :c ORDER BY revision_id"),
        {"c": cid},
    ).all()


def copy_attempts(db, cid: int, n: int) -> int:
    """n more finished attempts: copies of random existing ones (set-based)."""
    x = db.session.execute
    x(sa.text("DROP TABLE IF EXISTS bench_copy"))
    x(
        sa.text(
            "CREATE TEMP TABLE bench_copy AS "
            "SELECT id AS old_id, nextval(pg_get_serial_sequence('attempt', 'id')) "
            "AS new_id FROM (SELECT id FROM attempt WHERE contest_id = :c "
            "AND disqualified_at IS NULL ORDER BY random() LIMIT :n) s"
        ),
        {"c": cid, "n": n},
    )
    x(
        sa.text(
            "INSERT INTO attempt (id, user_id, contest_id, started_at, deadline_at, "
            "finished_at, finish_kind, score, correct_count, duration_ms, rank_key) "
            "SELECT m.new_id, a.user_id, a.contest_id, a.started_at, a.deadline_at, "
            "a.finished_at, a.finish_kind, a.score, a.correct_count, a.duration_ms, "
            "a.rank_key FROM bench_copy m JOIN attempt a ON a.id = m.old_id"
        )
    )
    x(
        sa.text(
            "INSERT INTO attempt_answer (attempt_id, position, question_id, "
            "revision_id, option_order, choices, version, saved_at, is_correct) "
            "SELECT m.new_id, aa.position, aa.question_id, aa.revision_id, "
            "aa.option_order, aa.choices, aa.version, aa.saved_at, aa.is_correct "
            "FROM bench_copy m JOIN attempt_answer aa ON aa.attempt_id = m.old_id"
        )
    )
    db.session.commit()
    return n


def login(app, phone: str, password: str):
    client = app.test_client()
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    r = client.post(
        "/api/v1/auth/login",
        json={"phone": phone, "password": password},
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 200, r.get_json()
    return client


def bench_requests(client, paths: dict[str, str], repeats: int) -> list[tuple]:
    rows = []
    for name, path in paths.items():
        for _ in range(2):  # warm-up (caches, first compile)
            assert client.get(path).status_code == 200, path
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = client.get(path)
            samples.append((time.perf_counter() - t0) * 1000)
            assert r.status_code == 200, (path, r.status_code)
        rows.append((name, path, len(r.data), pct(samples, 0.5), pct(samples, 0.95)))
    return rows


def run(app, cid: int, args) -> None:
    from quiz_app.auth.services import create_user
    from quiz_app.extensions import db
    from quiz_app.items import services as items
    from quiz_app.models import AttemptAnswer, Contest, ItemStat, Question

    print(f"== item statistics, contest {cid}")
    with app.app_context():
        counts = db.session.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM attempt WHERE contest_id = :c), "
                "(SELECT count(*) FROM attempt_answer)"
            ),
            {"c": cid},
        ).one()
        print(f"attempts {counts[0]:,}, answers {counts[1]:,}")
        contest = db.session.get(Contest, cid)
        took, r = timed(lambda: items.refresh(contest, now=NOW, full=True))
        revisions = db.session.scalar(sa.select(sa.func.count()).select_from(ItemStat))
        print(
            f"full rebuild: {took:.1f} s ({r.attempts:,} attempts counted, "
            f"{revisions} revision rows)"
        )
        password = secrets.token_urlsafe(12)
        phone = "199" + f"{secrets.randbelow(10**8):08d}"
        create_user(
            name="基准组织者",
            phone=phone,
            region="shizhi",
            password=password,
            role="organizer",
            public_ranking=False,
            now=NOW,
        )
        ext_id = db.session.scalar(
            sa.select(Question.ext_id)
            .join(AttemptAnswer, AttemptAnswer.question_id == Question.id)
            .limit(1)
        )
        db.session.remove()

    client = login(app, phone, password)
    api = f"/api/v1/admin/contests/{cid}/items"
    paths = {
        "API all items (per_page=200)": api + "?per_page=200",
        "API flag=suspect_key": api + "?flag=suspect_key",
        "API sort=-discrimination": api + "?sort=-discrimination&per_page=50",
        "page /admin/contests/<id>/items": f"/admin/contests/{cid}/items",
        "page question (chart)": f"/admin/questions/{ext_id}",
    }
    print(f"requests through the Flask test client, {args.repeats} each (ms):")
    print(f"  {'what':36} {'bytes':>8} {'p50':>8} {'p95':>8}")
    for name, _path, size, p50, p95 in bench_requests(client, paths, args.repeats):
        print(f"  {name:36} {size:>8} {p50:>8.1f} {p95:>8.1f}")

    with app.app_context():
        contest = db.session.get(Contest, cid)
        took, _ = timed(lambda: copy_attempts(db, cid, args.new))
        print(f"added {args.new:,} finished attempts (copies) in {took:.1f} s")
        took, r = timed(lambda: items.refresh(contest, now=NOW))
        print(
            f"incremental refresh: {took * 1000:.0f} ms for {r.added:,} attempts "
            f"({r.attempts:,} counted)"
        )
        took, r = timed(lambda: items.refresh(contest, now=NOW))
        print(f"incremental refresh with nothing new: {took * 1000:.0f} ms")
        copy_attempts(db, cid, args.new)
        db.session.remove()
    app.config["ITEM_STATS_MAX_AGE_S"] = 0
    t0 = time.perf_counter()
    resp = client.get(f"/admin/contests/{cid}/items")
    took = time.perf_counter() - t0
    assert resp.status_code == 200
    app.config["ITEM_STATS_MAX_AGE_S"] = OVERRIDES["ITEM_STATS_MAX_AGE_S"]
    print(
        f"page view that refreshes {args.new:,} new attempts itself: "
        f"{took * 1000:.0f} ms"
    )

    with app.app_context():
        contest = db.session.get(Contest, cid)
        qid = db.session.scalar(sa.select(Question.id).where(Question.ext_id == ext_id))
        ids = list(
            db.session.scalars(
                sa.select(AttemptAnswer.attempt_id).where(
                    AttemptAnswer.question_id == qid
                )
            )
        )
        t0 = time.perf_counter()
        items.retract(contest, ids)
        items.restore(contest, ids)
        took = time.perf_counter() - t0
        db.session.rollback()
        print(
            f"regrade adjustment (retract + restore) of the {len(ids):,} attempts "
            f"that drew {ext_id}: {took:.1f} s"
        )
        t0 = time.perf_counter()
        items.retract(contest, ids[:1])
        took = time.perf_counter() - t0
        db.session.rollback()
        print(f"disqualification adjustment of one attempt: {took * 1000:.0f} ms")

        kept = sums(db, cid)
        took, r = timed(lambda: items.refresh(contest, now=NOW, full=True))
        same = sums(db, cid) == kept
        print(
            f"second full rebuild: {took:.1f} s ({r.attempts:,} attempts); "
            f"incremental sums {'EQUAL' if same else 'DIFFER FROM'} the rebuild"
        )
        size = db.session.scalar(
            sa.text("SELECT pg_size_pretty(pg_total_relation_size('item_stat'))")
        )
        print(f"item_stat size: {size}")
        db.session.remove()
        db.engine.dispose()
        if not same:
            raise SystemExit("incremental sums differ from a full rebuild")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument("--url", help="a database bigseed.py --keep already seeded")
    ap.add_argument("--keep", action="store_true", help="keep the new database")
    args = ap.parse_args()
    if args.url:
        app = make_app(args.url, **OVERRIDES)
        with app.app_context():
            from quiz_app.extensions import db

            cid = db.session.scalar(sa.text("SELECT max(id) FROM contest"))
            db.session.remove()
        run(app, cid, args)
        return 0
    with big_database(keep=args.keep) as url:
        app = make_app(url, **OVERRIDES)
        took, info = timed(lambda: seed(app, attempts=args.attempts))
        print(
            f"seeded {info.attempts:,} attempts / {info.answers:,} answers "
            f"in {took:.0f} s"
        )
        run(app, info.contest_id, args)
        if args.keep:
            print(f"database kept: {url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
