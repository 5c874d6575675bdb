"""Data for the load run: the load contest, bulk citizen accounts (COPY), the
staff account, an optional history of finished attempts; and the deadline
shape's early close of the contest.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stack import Stack

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


def seed(env: dict[str, str], args: argparse.Namespace, report: Path) -> dict:
    """Contest, citizens (COPY, one shared password hash), staff, history."""
    os.environ.update(env)

    from quiz_app import create_app
    from quiz_app.auth.services import create_user
    from quiz_app.contest.services import create_contest
    from quiz_app.extensions import db

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
            city_wide=True,
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
                "disabled, created_at"
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
                            False,
                            now.replace(tzinfo=None),
                        )
                    )
            raw.commit()
            if args.history:
                codec = contest.codec
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
    if args.held_sessions > 0:
        info["sessions_file"] = str(
            held_sessions(app, phones[: args.accounts], args.held_sessions, report)
        )
    return info


def held_sessions(app, phones: list[str], share: float, report: Path) -> Path:
    """Citizens who logged in on an earlier day and kept their phone's session
    (citizen sessions last the contest week): for every 1/share-th account a
    session row started yesterday and the signed cookie a browser would hold.
    Such a citizen arrives without a login (no password hash). Written as
    'phone cookie' lines for the Locust users."""
    from quiz_app.auth.services import start_session
    from quiz_app.extensions import db
    from quiz_app.models import User

    step = max(1, round(1 / share))
    chosen = set(phones[::step])
    yesterday = datetime.now(UTC) - timedelta(days=1)
    lines = []
    with app.app_context():
        signer = app.session_interface.get_signing_serializer(app)
        for user in db.session.query(User).filter(User.phone.in_(chosen)):
            row = start_session(user, now=yesterday)
            db.session.flush()
            cookie = signer.dumps(
                {
                    "_user_id": f"{user.id}:{row.token}",
                    "_fresh": False,
                    "_permanent": True,
                }
            )
            lines.append(f"{user.phone} {cookie}")
        db.session.commit()
        db.session.remove()
    path = report / "sessions.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


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
