"""Checks after a load run: the invariants in the database and Redis, and the
request failures and latency limits from Locust's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path


def check_invariants(env: dict[str, str], report: Path, contest_id: int) -> list[str]:
    """Acknowledged answers stored, one open attempt, scores recomputed, ranks equal."""
    os.environ.update(env)
    import sqlalchemy as sa

    from quiz_app import create_app
    from quiz_app.contest.services import to_display
    from quiz_app.extensions import db, redis_client
    from quiz_app.leaderboard import services as boards
    from quiz_app.leaderboard.ranking import member_id, user_id_of
    from quiz_app.models import Attempt, AttemptAnswer, Contest, QuestionRevision

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
                    sa.case(
                        (AttemptAnswer.choices == QuestionRevision.answer, 1), else_=0
                    )
                ),
            )
            .join(AttemptAnswer, AttemptAnswer.attempt_id == Attempt.id)
            .join(QuestionRevision, QuestionRevision.id == AttemptAnswer.revision_id)
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


def request_failures(rows: dict, args: argparse.Namespace) -> list[str]:
    """Failed requests, and endpoints (>= 20 requests) over the p95/p99 limits."""
    failures: list[str] = []
    total = rows.get("Aggregated", {})
    if int(total.get("Failure Count", 0) or 0):
        failures.append(f"{total['Failure Count']} failed requests")
    for name, r in rows.items():
        if name in ("_exit", "Aggregated") or not isinstance(r, dict):
            continue
        if int(r["Request Count"]) >= 20:
            auth = "/auth/" in name
            p95_limit = args.auth_p95_ms if auth else args.p95_ms
            p99_limit = max(args.p99_ms, p95_limit) if auth else args.p99_ms
            if float(r["95%"]) > p95_limit:
                failures.append(f"{name}: p95 {r['95%']} ms > {p95_limit:.0f}")
            if float(r["99%"]) > p99_limit:
                failures.append(f"{name}: p99 {r['99%']} ms > {p99_limit:.0f}")
    return failures
