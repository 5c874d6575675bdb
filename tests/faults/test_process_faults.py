"""Process faults against a real gunicorn: a worker killed
with SIGKILL in the middle of a submit, and the whole app restarted in the
middle of an attempt."""

from __future__ import annotations

import http.cookiejar
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from quiz_app.extensions import db
from quiz_app.models import Attempt, AttemptAnswer, QuestionRevision
from tests.conftest import TEST_PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """gunicorn with one sync worker on the test database and Valkey."""

    def __init__(self, database_url: str, redis_url: str, log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.update(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "SECRET_KEY": "test-secret",
                "COOKIE_SECURE": "0",
            }
        )
        self.log = log
        self.log_file = None
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        if self.log_file is None:
            self.log_file = self.log.open("a")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "wsgi:app",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "1",
                "--timeout",
                "30",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready()

    def wait_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer; see {self.log}")

    def worker_pid(self) -> int:
        assert self.proc is not None
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = path.read_text().split()
            if children:
                return int(children[0])
            time.sleep(0.05)
        raise RuntimeError("no gunicorn worker")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self) -> None:
        self.stop()
        if self.log_file is not None:
            self.log_file.close()


class Browser:
    """A phone: a cookie jar and the JSON API with the CSRF header."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.csrf = ""

    def call(self, method: str, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "X-CSRFToken": self.csrf},
        )
        try:
            with self.opener.open(req, timeout=20) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def login(self, phone: str) -> None:
        self.csrf = self.call("GET", "/api/v1/csrf")[1]["csrf_token"]
        status, body = self.call(
            "POST", "/api/v1/auth/login", {"phone": phone, "password": TEST_PASSWORD}
        )
        assert status == 200, body
        self.csrf = self.call("GET", "/api/v1/csrf")[1]["csrf_token"]


@pytest.fixture
def live(app, database_url, redis_server, tmp_path):
    server = LiveServer(
        database_url, redis_server.connection_url, tmp_path / "gunicorn.log"
    )
    server.start()
    yield server
    server.close()


@pytest.fixture
def open_contest(make_open_contest):
    return make_open_contest(days=1, attempts_per_day=20)


def answer_some(phone: Browser, attempt: dict, n: int = 3) -> None:
    for q in attempt["questions"][:n]:
        key = q["options"][0]["key"]
        status, body = phone.call(
            "PUT",
            f"/api/v1/attempts/{attempt['id']}/answers/{q['position']}",
            {"choices": [key]},
        )
        assert status == 200, body


def recount(app, attempt_id: int) -> tuple[int, int]:
    """(stored score, correct answers recounted from the stored rows)."""
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        correct = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AttemptAnswer)
            .join(QuestionRevision, QuestionRevision.id == AttemptAnswer.revision_id)
            .where(
                AttemptAnswer.attempt_id == attempt_id,
                AttemptAnswer.choices == QuestionRevision.answer,
            )
        )
        score, finished = attempt.score, attempt.finished_at
        db.session.remove()
    assert finished is not None
    return score, correct


@pytest.mark.parametrize("delay_ms", [0, 3, 10, 30])
def test_worker_killed_mid_submit_then_retry_submits_exactly_once(
    app, live, open_contest, make_user, delay_ms
):
    user = make_user()
    phone = Browser(live.base)
    phone.login(user.phone)
    status, attempt = phone.call("POST", "/api/v1/attempts", {})
    assert status == 201, attempt
    answer_some(phone, attempt)
    url = f"/api/v1/attempts/{attempt['id']}/submit"

    first: list = []

    def submit() -> None:
        try:
            first.append(phone.call("POST", url, {}))
        except OSError as exc:  # the connection died with the worker
            first.append(exc)

    worker = live.worker_pid()
    t = threading.Thread(target=submit)
    t.start()
    time.sleep(delay_ms / 1000)
    os.kill(worker, signal.SIGKILL)
    t.join(timeout=30)
    assert first, "the first submit never returned"
    if isinstance(first[0], tuple):  # finished before the kill
        assert first[0][0] == 200, first[0]

    # The master starts a new worker; the phone retries.
    live.wait_ready()
    status, result = phone.call("POST", url, {})
    assert status == 200, result
    again_status, again = phone.call("POST", url, {})
    assert again_status == 200 and again == result  # the stored result, unchanged
    if isinstance(first[0], tuple):
        assert first[0][1] == result
    score, correct = recount(app, attempt["id"])
    assert result["score"] == score == correct * open_contest.points_per_question
    with app.app_context():
        rows = db.session.scalars(
            sa.select(Attempt).where(Attempt.user_id == user.id)
        ).all()
        assert len(rows) == 1 and rows[0].finished_at is not None
        db.session.remove()


def test_app_restart_mid_attempt_resumes_with_the_right_time(
    app, live, open_contest, make_user
):
    user = make_user()
    phone = Browser(live.base)
    phone.login(user.phone)
    status, attempt = phone.call("POST", "/api/v1/attempts", {})
    assert status == 201
    answer_some(phone, attempt, n=2)
    before = phone.call("GET", f"/api/v1/attempts/{attempt['id']}")[1]
    t0 = time.monotonic()

    live.stop()
    time.sleep(1.5)
    live.start()

    status, after = phone.call("GET", f"/api/v1/attempts/{attempt['id']}")
    elapsed = time.monotonic() - t0
    assert status == 200, after  # the session cookie outlives the restart
    assert after["status"] == "open"
    assert after["answers"] == before["answers"]
    # The server's clock kept running while the app was down: no time was
    # given back and none was lost beyond what passed.
    lost = before["remaining_s"] - after["remaining_s"]
    assert int(elapsed) - 1 <= lost <= elapsed + 1
