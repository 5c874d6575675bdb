"""The load run behind `loadtest/run` (see loadtest/README.md): the command line
and the order of the phases. The parts live beside it: stack.py (processes),
seeding.py (data), checks.py (pass/fail), report.py (figures and summary).

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
import sys
import threading
import time
from datetime import UTC, datetime

from checks import check_invariants, request_failures
from report import CpuMeter, probe_summary, rps, scenario_summary
from seeding import close_contest_for_deadline, seed
from stack import HERE, ROOT, Stack, locust

# The seeding and checks import the app (quiz_app) from the repository root.
sys.path.insert(0, str(ROOT))


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
    ap.add_argument("--app-threads", type=int, default=4)
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
        "--pgbouncer",
        action="store_true",
        help="app processes reach PostgreSQL through PgBouncer (Debian's "
        "package, transaction pooling)",
    )
    ap.add_argument(
        "--redis-cluster",
        action="store_true",
        help="a three-master Valkey cluster instead of one Valkey server",
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
    ap.add_argument(
        "--staff-users",
        type=int,
        default=1,
        help="Staff users polling the dashboard during the scenario (0: none)",
    )
    ap.add_argument(
        "--staff-ab",
        action="store_true",
        help="run the scenario twice back to back, A without Staff users and "
        "B with --staff-users of them, and compare the citizens' p95",
    )
    ap.add_argument(
        "--held-sessions",
        type=float,
        default=0.0,
        help="share of the seeded citizens who arrive with a session from an "
        "earlier day (no login); 0.5 for the opening storm's 'half of them'",
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


def run_scenario(
    stack: Stack,
    args: argparse.Namespace,
    env: dict[str, str],
    stamp: str,
    *,
    name: str = "scenario",
    staff_users: int | None = None,
) -> tuple[list[str], list[str], float | None]:
    """The scenario phase: Locust, invariant checks, the endpoint table; and
    the citizens' p95 (every request but the staff ones, after the settle
    time) in ms."""
    if args.shape == "deadline":
        close_contest_for_deadline(stack, args)
    staff_users = args.staff_users if staff_users is None else staff_users
    meter = CpuMeter(stack)
    before = meter.sample()
    t_run = time.monotonic()
    started = time.time()
    # The measured window of a steady run starts after the arrivals and the
    # settle time (when Locust's figures are reset): sample the CPU there too.
    window: dict = {}
    timer = None
    if args.shape == "steady":
        timer = threading.Timer(
            args.users / args.ramp_rate + args.settle,
            lambda: window.update(before=meter.sample(), at=time.time()),
        )
        timer.daemon = True
        timer.start()
    classes = ["Citizen", "NewCitizen", "Spectator"] + (
        ["Staff"] if staff_users else []
    )
    latency_dir = stack.report / f"{name}-latency"
    latency_dir.mkdir(exist_ok=True)
    rows = locust(
        stack,
        args,
        name,
        classes,
        args.users + staff_users,
        args.duration,
        extra_env={
            "LOAD_STAFF_USERS": str(staff_users),
            "LOAD_LATENCY_DIR": str(latency_dir),
        },
        shape=None if args.shape == "steady" else args.shape,
    )
    wall = time.monotonic() - t_run
    after = meter.sample()
    ended = time.time()
    if timer is not None:
        timer.cancel()
    stack.stop_app()
    failures = check_invariants(env, stack.report, stack.info["contest_id"])
    failures += request_failures(rows, args)
    summary = scenario_summary(rows, args, stamp, meter.spent(before, after), wall)
    summary.insert(0, f"### {name}: {staff_users} Staff users")
    cutoff = started + (
        args.users / args.ramp_rate + args.settle if args.shape == "steady" else 0
    )
    if "before" in window:
        summary += cost_per_attempt(
            env, meter.spent(window["before"], after), window["at"], ended
        )
    p95 = citizen_p95(latency_dir, cutoff)
    if p95 is not None:
        summary.append(
            f"citizens' p95 (all non-staff requests after settle): {p95:.0f} ms"
        )
    return failures, summary, p95


def cost_per_attempt(
    env: dict[str, str], cpu: dict[str, float], start: float, end: float
) -> list[str]:
    """CPU milliseconds (app + PostgreSQL + PgBouncer + Valkey; nginx and
    Locust apart) per attempt finished in the measured window."""
    import sqlalchemy as sa

    engine = sa.create_engine(env["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            finished = conn.execute(
                sa.text(
                    "SELECT count(*) FROM attempt WHERE finished_at >= :a"
                    " AND finished_at < :b"
                ),
                {
                    "a": datetime.fromtimestamp(start, UTC).replace(tzinfo=None),
                    "b": datetime.fromtimestamp(end, UTC).replace(tzinfo=None),
                },
            ).scalar()
    finally:
        engine.dispose()
    server = sum(cpu.get(k, 0.0) for k in ("app", "postgres", "pgbouncer", "valkey"))
    line = (
        f"measured window {end - start:.0f} s: {finished} attempts finished; "
        f"server CPU {server:.1f} s (app {cpu.get('app', 0):.1f}, PostgreSQL "
        f"{cpu.get('postgres', 0):.1f}, PgBouncer {cpu.get('pgbouncer', 0):.1f}, "
        f"Valkey {cpu.get('valkey', 0):.1f})"
    )
    if finished:
        line += f" = **{server / finished * 1000:.0f} CPU ms per finished attempt**"
    return ["", line]


def citizen_p95(folder, cutoff: float) -> float | None:
    """p95 of the non-staff response times the Locust processes wrote."""
    times = []
    for path in folder.glob("latency-*.txt"):
        for line in path.read_text().splitlines():
            t, ms = line.split()
            if float(t) >= cutoff:
                times.append(float(ms))
    if not times:
        return None
    times.sort()
    return times[min(len(times) - 1, int(0.95 * len(times)))]


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
        probe_cpu: dict[str, dict[str, float]] = {}
        if not args.no_probes:
            meter = CpuMeter(stack)
            for cls, endpoint in (
                ("Health", "/healthz"),
                ("SatAnswer", "/api/v1/attempts/[id]/answers/[pos]"),
                ("SatStart", "/api/v1/attempts [start]"),
                ("SatBoard", "/api/v1/leaderboard?scope=all"),
            ):
                before = meter.sample()
                rows = locust(
                    stack,
                    args,
                    f"probe-{cls}",
                    [cls],
                    args.probe_users,
                    args.probe_seconds,
                )
                probes[endpoint] = rps(rows, endpoint)
                # CPU per request (a start probe's unit is the start + submit
                # pair): the whole probe, its users' logins included.
                units = float(rows.get(endpoint, {}).get("Request Count", 0) or 0)
                if units:
                    spent = meter.spent(before, meter.sample())
                    probe_cpu[endpoint] = {
                        k: 1000.0 * v / units for k, v in spent.items()
                    }
                print(f"probe {cls:<10} {probes[endpoint]:8.1f} req/s")
            # Probe attempts are not part of the scenario: finish them.
            stack.flask("contest", "sweep")
        if not args.probes_only and args.staff_ab:
            more, summary_a, p95_a = run_scenario(
                stack, args, env, stamp, name="scenario-a", staff_users=0
            )
            failures += more
            # B right after A on the same data; accounts are handed out again
            (stack.report / "accounts.next").unlink(missing_ok=True)
            stack.start_app()
            more, summary_b, p95_b = run_scenario(
                stack, args, env, stamp, name="scenario-b"
            )
            failures += more
            summary = summary_a + [""] + summary_b + [""]
            if p95_a and p95_b:
                summary.append(
                    f"A/B: citizens' p95 {p95_a:.0f} ms without Staff, "
                    f"{p95_b:.0f} ms with {args.staff_users} Staff users "
                    f"({(p95_b - p95_a) / p95_a * 100:+.1f} %)"
                )
        elif not args.probes_only:
            more_failures, summary, _ = run_scenario(stack, args, env, stamp)
            failures += more_failures
        if probes:
            summary += probe_summary(probes, args, probe_cpu)
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
