"""Locust scenarios for the contest (HTTP only; never imports quiz_app).

Users:
  Citizen    logs in with a seeded account (or, rarely, registers), starts an
             attempt, answers every question with a think time, submits, views
             the result, the leaderboard and "my attempts", repeats within the
             daily limit. Every acknowledged answer is logged for the checker.
  Spectator  home page and leaderboard tabs, polling.
  Staff      the participation dashboard and its API.

Environment (set by loadtest/run):
  LOAD_ACCOUNTS_FILE  seeded citizen phones, one per line
  LOAD_PASSWORD       their password
  LOAD_STAFF_PHONE / LOAD_STAFF_PASSWORD   a city-wide staff account
  LOAD_ACK_DIR        where acknowledged answers are written (jsonl)
  LOAD_THINK_S        think time per question, seconds (default 3)
  LOAD_SHAPE          opening | steady | deadline (optional; else -u/-r)
  LOAD_USERS, LOAD_DURATION_S   the shape's target users and length
  LOAD_SUBMIT_AT_REMAINING_S    deadline shape: submit when this little time is left
  LOAD_SETTLE_S       reset the figures this long after every user is in
  LOAD_STAFF_USERS    how many Staff users poll the dashboard (default 1)
  LOAD_LATENCY_DIR    A/B runs: write every non-staff response time there
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import random
import time

import gevent
import locust.runners
from locust import FastHttpUser, LoadTestShape, between, events, task

# The generator shares 2 cores with the stack: under overload a worker can miss
# Locust's 3 s heartbeat, and the master would then move its users to another
# worker mid-attempt. Allow 30 s before a worker counts as missing.
locust.runners.HEARTBEAT_LIVENESS = 30

THINK_S = float(os.environ.get("LOAD_THINK_S", "3"))
PASSWORD = os.environ.get("LOAD_PASSWORD", "")
SHAPE = os.environ.get("LOAD_SHAPE", "")
ACK_DIR = os.environ.get("LOAD_ACK_DIR", "")
_accounts: list[str] = []
_counter = itertools.count()
_ack_file = None


def accounts() -> list[str]:
    if not _accounts:
        path = os.environ.get("LOAD_ACCOUNTS_FILE")
        if path:
            with open(path, encoding="utf-8") as fh:
                _accounts.extend(line.strip() for line in fh if line.strip())
    return _accounts


_sessions: dict[str, str] = {}


def held_session(phone: str) -> str | None:
    """The session cookie this citizen kept from an earlier day, if any
    (LOAD_SESSIONS_FILE: 'phone cookie' lines)."""
    path = os.environ.get("LOAD_SESSIONS_FILE")
    if path and not _sessions:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    p, cookie = line.split()
                    _sessions[p] = cookie
    return _sessions.get(phone)


def next_phone(environment) -> str | None:
    """Each seeded account goes to one simulated citizen only, across every
    Locust process of the run (a counter file under a lock on this machine):
    two users sharing an account would share its open attempt. Once every
    account is handed out, new users register instead (None)."""
    phones = accounts()
    if not phones:
        return None
    k = next(_counter)
    if ACK_DIR:
        path = os.path.join(ACK_DIR, "accounts.next")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.read(fd, 32)
            k = int(raw) if raw.strip() else 0
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, str(k + 1).encode())
        finally:
            os.close(fd)  # closing releases the lock
    return phones[k] if k < len(phones) else None


def log_ack(record: dict) -> None:
    global _ack_file
    if not ACK_DIR:
        return
    if _ack_file is None:
        _ack_file = open(
            os.path.join(ACK_DIR, f"acks-{os.getpid()}.jsonl"), "a", encoding="utf-8"
        )
    _ack_file.write(json.dumps(record) + "\n")


@events.init.add_listener
def _settle_then_reset(environment, **_kw):
    """Steady shape: the figures start LOAD_SETTLE_S seconds after the last
    citizen is in, so the arrival backlog (each login is a memory-hard hash)
    is not counted as evening-peak latency. Workers send their stats as
    deltas, so resetting the master's totals is enough."""
    settle = float(os.environ.get("LOAD_SETTLE_S", "0") or 0)
    if settle <= 0 or isinstance(environment.runner, locust.runners.WorkerRunner):
        return
    done = []

    def reset() -> None:
        environment.runner.stats.reset_all()
        print(f"stats reset {settle:.0f} s after every citizen was in", flush=True)

    def on_complete(**_kw) -> None:
        if not done:
            done.append(True)
            gevent.spawn_later(settle, reset)

    environment.events.spawning_complete.add_listener(on_complete)


#: A/B runs: every non-staff request's (wall time, ms), written at the end
LATENCY_DIR = os.environ.get("LOAD_LATENCY_DIR", "")
_latencies: list[tuple[float, float]] = []
STAFF_PREFIXES = ("/staff", "/api/v1/stats")


@events.request.add_listener
def _record_latency(name, response_time, **_kw):
    if LATENCY_DIR and not name.startswith(STAFF_PREFIXES):
        _latencies.append((time.time(), response_time))


@events.quitting.add_listener
def _quitting(environment, **_kw):
    if LATENCY_DIR and _latencies:
        path = os.path.join(LATENCY_DIR, f"latency-{os.getpid()}.txt")
        with open(path, "a", encoding="utf-8") as fh:
            fh.writelines(f"{t:.3f} {ms:.1f}\n" for t, ms in _latencies)
    if _ack_file is not None:
        _ack_file.flush()
    if environment.stats.total.fail_ratio > 0:
        environment.process_exit_code = 1


class ApiUser(FastHttpUser):
    abstract = True
    csrf = ""

    def fetch_csrf(self) -> None:
        with self.client.get(
            "/api/v1/csrf", name="/api/v1/csrf", catch_response=True
        ) as r:
            if r.status_code == 200:
                self.csrf = r.json()["csrf_token"]
            else:
                r.failure(f"csrf {r.status_code}")

    def headers(self) -> dict:
        return {"X-CSRFToken": self.csrf, "Accept": "application/json"}

    def start_attempt(self):
        """Start (or resume) an attempt in the current contest."""
        return self.client.post(
            "/api/v1/attempts",
            json={},
            headers=self.headers(),
            name="/api/v1/attempts [start]",
        )

    def login(self, phone: str, password: str) -> bool:
        self.fetch_csrf()
        with self.client.post(
            "/api/v1/auth/login",
            json={"phone": phone, "password": password},
            headers=self.headers(),
            name="/api/v1/auth/login",
            catch_response=True,
        ) as r:
            if r.status_code != 200:
                r.failure(f"login {r.status_code}")
                return False
        self.fetch_csrf()  # a new session at login: a fresh token
        return True


class Citizen(ApiUser):
    weight = 12
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.done_for_today = False
        phone = next_phone(self.environment)
        cookie = held_session(phone) if phone else None
        if phone is None:
            self.register()
        elif cookie:
            self.resume(cookie)
        else:
            self.logged_in = self.login(phone, PASSWORD)

    def resume(self, cookie: str) -> None:
        """Back with yesterday's session: the browser sends its cookie, and
        the page asks for a CSRF token; no login, no password hash."""
        from urllib.parse import urlsplit

        from requests.cookies import create_cookie

        host = urlsplit(self.host).hostname
        self.client.cookiejar.set_cookie(
            create_cookie("session", cookie, domain=host, path="/")
        )
        self.fetch_csrf()
        self.logged_in = bool(self.csrf)

    def register(self) -> None:
        self.fetch_csrf()
        phone = "19" + "".join(random.choice("0123456789") for _ in range(9))
        with self.client.post(
            "/api/v1/auth/register",
            json={
                "phone": phone,
                "name": "压测用户",
                "region": random.choice(
                    ["lunan", "lubei", "fengrun", "qianan", "zunhua"]
                ),
                "password": "load-test-pw",
                "public_ranking": True,
            },
            headers=self.headers(),
            name="/api/v1/auth/register",
            catch_response=True,
        ) as r:
            # A random phone may collide with an earlier one: 409 is fine here.
            if r.status_code == 409:
                r.success()
                self.logged_in = False
                return
            self.logged_in = r.status_code == 201
        self.fetch_csrf()

    @task
    def take_quiz(self) -> None:
        if not getattr(self, "logged_in", False) or self.done_for_today:
            time.sleep(5)
            return
        with self.client.post(
            "/api/v1/attempts",
            json={},
            headers=self.headers(),
            name="/api/v1/attempts [start]",
            catch_response=True,
        ) as r:
            if r.status_code == 409 and r.json()["error"]["code"] in (
                "daily_limit",
                "contest_not_open",
            ):
                r.success()
                self.done_for_today = True
                return
            if r.status_code not in (200, 201):
                r.failure(f"start {r.status_code}")
                return
            attempt = r.json()
        aid = attempt["id"]
        versions = {int(k): v for k, v in attempt.get("versions", {}).items()}
        for q in attempt["questions"]:
            time.sleep(random.uniform(0.5, 1.5) * THINK_S)
            keys = [o["key"] for o in q["options"]]
            choice = (
                sorted(random.sample(keys, 2))
                if q["type"] == "multiple"
                else [random.choice(keys)]
            )
            pos = q["position"]
            # Logged before sending: if this user is stopped with the request
            # in flight, the checker knows the stored row may be this write.
            log_ack(
                {
                    "attempt": aid,
                    "position": pos,
                    "choices": choice,
                    "sent_version": versions.get(pos, 0),
                }
            )
            with self.client.put(
                f"/api/v1/attempts/{aid}/answers/{pos}",
                json={"choices": choice, "version": versions.get(pos, 0)},
                headers=self.headers(),
                name="/api/v1/attempts/[id]/answers/[pos]",
                catch_response=True,
            ) as r:
                if r.status_code == 200:
                    body = r.json()
                    versions[pos] = body["version"]
                    log_ack(
                        {
                            "attempt": aid,
                            "position": pos,
                            "choices": choice,
                            "version": body["version"],
                        }
                    )
                    remaining = body["remaining_s"]
                elif r.status_code == 409 and SHAPE == "deadline":
                    # The contest closed under this citizen: the server refuses
                    # late answers by design (nothing was acknowledged).
                    r.success()
                    self.done_for_today = True
                    return
                else:
                    r.failure(f"answer {r.status_code}")
                    return
        if SHAPE == "deadline":
            # Hold the paper until the last moments before the deadline.
            margin = float(os.environ.get("LOAD_SUBMIT_AT_REMAINING_S", "20"))
            time.sleep(max(remaining - random.uniform(2, margin), 0))
        with self.client.post(
            f"/api/v1/attempts/{aid}/submit",
            json={},
            headers=self.headers(),
            name="/api/v1/attempts/[id]/submit",
            catch_response=True,
        ) as r:
            if r.status_code != 200:
                r.failure(f"submit {r.status_code}")
                return
        self.client.get(f"/api/v1/attempts/{aid}", name="/api/v1/attempts/[id]")
        self.client.get(
            "/api/v1/leaderboard?scope=all&limit=50",
            name="/api/v1/leaderboard?scope=all",
        )
        self.client.get("/api/v1/me/attempts", name="/api/v1/me/attempts")


class NewCitizen(Citizen):
    """Registers during the peak instead of using a seeded account."""

    weight = 1

    def on_start(self) -> None:
        self.done_for_today = False
        self.register()


class Spectator(ApiUser):
    weight = 2
    wait_time = between(3, 8)

    @task(3)
    def leaderboard_api(self) -> None:
        scope = random.choice(["all", "region:lunan", "region:qianan"])
        self.client.get(
            f"/api/v1/leaderboard?scope={scope}&limit=50",
            name="/api/v1/leaderboard?scope=" + scope.split(":")[0],
        )

    @task(1)
    def pages(self) -> None:
        self.client.get("/", name="/ (home)")
        self.client.get("/leaderboard?tab=day", name="/leaderboard")


class Staff(ApiUser):
    """Staff with the dashboard open: every poll loads the page and the stats
    API it is built from; now and then the prize list or a county page. How
    many run is LOAD_STAFF_USERS (the runner leaves the class out for 0)."""

    weight = 1
    fixed_count = max(1, int(os.environ.get("LOAD_STAFF_USERS", "1") or 1))
    wait_time = between(5, 15)
    API = ("summary", "regions", "daily", "scores", "categories?by=region")

    def on_start(self) -> None:
        phone = os.environ.get("LOAD_STAFF_PHONE")
        self.ready = bool(phone) and self.login(
            phone, os.environ.get("LOAD_STAFF_PASSWORD", "")
        )

    @task(5)
    def dashboard(self) -> None:
        if not self.ready:
            time.sleep(10)
            return
        self.client.get("/staff/", name="/staff/")
        for part in self.API:
            self.client.get(f"/api/v1/stats/{part}", name=f"/api/v1/stats/{part}")

    @task(1)
    def follow_up(self) -> None:
        if not self.ready:
            return
        if random.random() < 0.5:
            self.client.get("/staff/winners", name="/staff/winners")
        else:
            code = random.choice(["lunan", "lubei", "qianan", "zunhua"])
            self.client.get(f"/staff/regions/{code}", name="/staff/regions/[code]")


# ---- saturation probes: no think time, run one class at a time by name ----


class Health(FastHttpUser):
    """The framework ceiling: the app's trivial endpoint."""

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="/healthz")


class SatAnswer(ApiUser):
    """Answer saving at saturation: one open attempt, saves in a loop."""

    def on_start(self) -> None:
        self.aid = None
        phone = next_phone(self.environment)
        if phone and self.login(phone, PASSWORD):
            r = self.start_attempt()
            if r.status_code in (200, 201):
                data = r.json()
                self.aid = data["id"]
                self.questions = data["questions"]

    @task
    def save(self) -> None:
        if self.aid is None:
            time.sleep(1)
            return
        q = random.choice(self.questions)
        self.client.put(
            f"/api/v1/attempts/{self.aid}/answers/{q['position']}",
            json={"choices": [q["options"][0]["key"]]},
            headers=self.headers(),
            name="/api/v1/attempts/[id]/answers/[pos]",
        )


class SatStart(ApiUser):
    """Starting (and at once submitting) attempts at saturation."""

    def on_start(self) -> None:
        phone = next_phone(self.environment)
        self.ok = bool(phone) and self.login(phone, PASSWORD)

    @task
    def start_submit(self) -> None:
        if not self.ok:
            time.sleep(1)
            return
        r = self.start_attempt()
        if r.status_code in (200, 201):
            aid = r.json()["id"]
            self.client.post(
                f"/api/v1/attempts/{aid}/submit",
                json={},
                headers=self.headers(),
                name="/api/v1/attempts/[id]/submit",
            )


class SatBoard(FastHttpUser):
    """Leaderboard reads at saturation (anonymous, city board, top 50)."""

    @task
    def board(self) -> None:
        self.client.get(
            "/api/v1/leaderboard?scope=all&limit=50",
            name="/api/v1/leaderboard?scope=all",
        )


if SHAPE:

    class ContestShape(LoadTestShape):
        """opening: the start storm (ramp in 50 s); steady: the evening peak;
        deadline: everyone holds until the last minutes before the close."""

        users = int(os.environ.get("LOAD_USERS", "100"))
        duration = float(os.environ.get("LOAD_DURATION_S", "120"))

        def tick(self):
            t = self.get_run_time()
            if t > self.duration:
                return None
            if SHAPE == "opening":
                ramp = min(50.0, self.duration / 3)
                return self.users, max(self.users / ramp, 1)
            if SHAPE == "deadline":
                ramp = min(60.0, self.duration / 4)
                return self.users, max(self.users / ramp, 1)
            # Logins cost a password hash each: ramp no faster than LOAD_RAMP_RATE.
            rate = float(os.environ.get("LOAD_RAMP_RATE", "20"))
            ramp = max(self.duration * 0.2, self.users / rate)
            return self.users, max(self.users / ramp, 1)
