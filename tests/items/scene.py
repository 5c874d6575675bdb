"""A contest of exactly three single-choice questions, six finished attempts
whose answers are fixed below, so every figure can be worked out by hand."""

from __future__ import annotations

import random
from datetime import timedelta

from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Attempt, Contest

GRACE = 5
#: original letters chosen per citizen for health-001 (key A), -002 (key B)
#: and -003 (key C); None leaves the item blank
ANSWERS = [
    ("A", "B", "D"),
    ("A", "B", "D"),
    ("A", "B", "C"),
    ("B", "C", "C"),
    ("C", "A", "C"),
    ("A", None, "C"),
]


def answer(attempt, user, picks, *, now):
    """Save the given original letters for each question of the attempt."""
    by_id = dict(zip(("health-001", "health-002", "health-003"), picks, strict=True))
    for ans, _rev in svc.attempt_items(attempt):
        choice = by_id[ans.question.ext_id]
        if choice is not None:
            shown = svc.to_display(ans.option_order, choice)
            svc.save_answer(attempt.id, user, ans.position, shown, now=now)


def seed_three_items(make_bank, make_contest, make_user):
    make_bank(categories=("health",), per_type=(3, 0, 0))
    now = utcnow() - timedelta(minutes=10)  # started long enough ago to count
    contest = make_contest(
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=3),
        type_counts={"single": 3},
        points_per_question=10,
    )
    users = [make_user(name=f"选手{i}") for i in range(len(ANSWERS))]
    contest = db.session.get(Contest, contest.id)
    ids = []
    for i, (user, picks) in enumerate(zip(users, ANSWERS, strict=True)):
        attempt, _ = svc.start_attempt(
            user, contest, now=now, grace_s=GRACE, rng=random.Random(i)
        )
        answer(attempt, user, picks, now=now)
        svc.submit_attempt(
            attempt.id, user, now=now + timedelta(seconds=20 + i), grace_s=GRACE
        )
        ids.append(attempt.id)
    assert [db.session.get(Attempt, a).correct_count for a in ids] == [2, 2, 3, 1, 1, 2]
    db.session.rollback()  # end the read (SQLite): other sessions may write
    return contest, users, ids, now
