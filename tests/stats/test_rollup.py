"""The rollups' watermark and pending list: an attempt left open holds back
only its own finish, a read folds only the pending attempts and those past
the watermark, and the figures equal a from-scratch recomputation after
every refresh and every read, whatever order citizens start, answer,
finish, expire and get disqualified in."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from quiz_app.contest import services as svc
from quiz_app.contest.disqualify import disqualify_attempt
from quiz_app.contest.regrade import regrade_question
from quiz_app.extensions import db
from quiz_app.models import Attempt, Contest, Question, StatsPending, User
from quiz_app.stats import rollup
from tests.conftest import NOW, bank_rows, rows_to_csv

from .scene import add_attempt, assert_exact, local, read

GRACE = 5
#: the batch a refresh really takes (larger than anything here)
FULL = rollup.BATCH
REGIONS = ("lunan", "qianan", "fengrun")


@pytest.fixture
def quiet(config):
    """Reads never refresh on their own: each test says when."""
    config(STATS_REFRESH_S=10**6)


def add_citizens(n: int) -> list[int]:
    """`n` citizens over REGIONS, inserted directly (no password hashing)."""
    rows = [
        {
            "phone": f"137{i:08d}",
            "name": f"市民{i}",
            "region_code": REGIONS[i % len(REGIONS)],
            "password_hash": "!",
            "role": "citizen",
            "created_at": local(10, 8),
        }
        for i in range(n)
    ]
    db.session.execute(insert(User), rows)
    return list(
        db.session.scalars(
            select(User.id).where(User.phone.like("137%")).order_by(User.id)
        )
    )


def watermark(contest: Contest) -> int:
    return rollup.cursor_position(rollup.contest_cursor(contest.id))


def past(contest: Contest) -> int:
    """Attempts of the contest past its watermark."""
    return db.session.scalar(
        select(func.count())
        .select_from(Attempt)
        .where(Attempt.contest_id == contest.id, Attempt.id > watermark(contest))
    )


def totals(snap) -> tuple[int, int, int]:
    """(attempts, finished, participants) over every region and day."""
    return tuple(sum(v[i] for v in snap.days.values()) for i in (0, 1, 2))


def test_after_a_refresh_a_read_folds_only_the_old_open_attempt(
    ctx, make_bank, make_contest, quiet
):
    """One citizen leaves an attempt open early; 300 finished attempts follow.
    The refresh folds all of them; a read then folds the open one alone (it
    used to fold all 301 on every read until the open one ended)."""
    make_bank()
    c = make_contest(starts_at=local(17, 0), ends_at=local(20, 0))
    contest = db.session.get(Contest, c.id)
    questions = [
        db.session.scalars(
            select(Question).where(Question.category_code == cat)
        ).first()
        for cat in ("health", "safety")
    ]
    users = add_citizens(40)
    held = add_attempt(contest, users[0], local(17, 8), 0, 0, (True, True), questions,
                       finish=False)  # fmt: skip
    for i in range(300):
        start = local(17 + i % 3, 9 + i % 12, i % 60)
        ok = (i % 2 == 0, i % 3 == 0)
        add_attempt(contest, users[1 + i % 39], start, 120, 10 * sum(ok), ok, questions)
    db.session.commit()
    now = local(20, 1)
    assert rollup.refresh(contest, now=now)
    assert watermark(contest) > held.id
    snap = read(contest, now)
    assert (snap.tail.pending, snap.tail.finished, snap.tail.past) == (1, 0, 0)
    assert snap.tail.attempts == 1 and snap.complete
    assert totals(snap) == (301, 300, 40)
    assert_exact(contest, snap)
    # Newer attempts past the watermark are the only other thing a read folds.
    for i in range(5):
        add_attempt(contest, users[1 + i], local(19, 22, i), 60, 20, (True, True),
                    questions)  # fmt: skip
    db.session.commit()
    snap = read(contest, now)
    assert (snap.tail.pending, snap.tail.past) == (1, 5)
    assert_exact(contest, snap)
    rollup.refresh(contest, now=now)
    snap = read(contest, now)
    assert snap.tail.attempts == 1
    assert_exact(contest, snap)


# ------------------------------------------------- a pending attempt's ends


def two_category_bank(make_bank):
    """Four single-choice questions (two per category): every attempt draws
    all of them, so a regrade of one touches every finished attempt."""
    make_bank(categories=("health", "safety"), per_type=(2, 0, 0))


def correct_key(ext_id: str, new_answer: str) -> None:
    from quiz_app.bank.services import import_file

    rows = bank_rows(categories=("health", "safety"), per_type=(2, 0, 0))
    row = next(r for r in rows[1:] if r[0] == ext_id)
    row[11] = new_answer
    import_file(rows_to_csv(rows), "fix.csv", now=NOW)


def answer_all(attempt: Attempt, user, letter: str, now) -> None:
    for ans, _rev in svc.attempt_items(attempt):
        svc.save_answer(attempt.id, user, ans.position, [letter], now=now)


@pytest.mark.parametrize(
    "ending", ["submitted", "expired", "swept", "disqualified", "regraded"]
)
def test_a_pending_attempt_is_counted_once_however_it_ends(
    ctx, make_bank, make_contest, make_user, quiet, ending
):
    two_category_bank(make_bank)
    c = make_contest(
        starts_at=NOW - timedelta(hours=1),
        ends_at=NOW + timedelta(days=2),
        type_counts={"single": 4},
        time_limit_s=600,
    )
    held_by, *others = [
        make_user(region=REGIONS[i % 3], name=f"选手{i}") for i in range(4)
    ]
    organizer = make_user(role="organizer")
    contest = db.session.get(Contest, c.id)
    held, _ = svc.start_attempt(held_by, contest, now=NOW, grace_s=GRACE)
    answer_all(held, held_by, "A", NOW + timedelta(seconds=30))
    for i, user in enumerate(others):
        a, _ = svc.start_attempt(
            user, contest, now=NOW + timedelta(minutes=1), grace_s=GRACE
        )
        answer_all(a, user, "AB"[i % 2], NOW + timedelta(minutes=2))
        svc.submit_attempt(a.id, user, now=NOW + timedelta(minutes=3), grace_s=GRACE)
    t = NOW + timedelta(minutes=5)
    rollup.refresh(contest, now=t)
    assert db.session.scalars(select(StatsPending.attempt_id)).all() == [held.id]
    snap = read(contest, t)
    assert snap.tail.attempts == 1
    assert totals(snap) == (4, 3, 4)
    assert_exact(contest, snap)

    if ending == "regraded":
        # A key fix while the attempt is pending: the rollups start again.
        correct_key("health-001", "B")
        regrade_question(contest.id, "health-001", actor=None, ip=None, now=t)
        assert watermark(contest) == 0 and rollup.pending_count(contest.id) == 0
        snap = read(contest, t)
        assert snap.tail.past == 4 and totals(snap) == (4, 3, 4)
        assert_exact(contest, snap)
        rollup.refresh(contest, now=t)
        assert rollup.pending_count(contest.id) == 1
    after_deadline = held.deadline_at + timedelta(seconds=GRACE + 1)
    if ending in ("submitted", "disqualified", "regraded"):
        svc.submit_attempt(held.id, held_by, now=t, grace_s=GRACE)
    elif ending == "expired":  # the citizen comes back after the deadline
        svc.get_attempt(held.id, held_by, now=after_deadline, grace_s=GRACE)
    else:
        assert svc.sweep_expired(now=after_deadline, grace_s=GRACE) == 1
    if ending == "disqualified":
        actor = db.session.get(User, organizer.id)
        disqualify_attempt(held.id, "代答", actor=actor, ip=None, now=t)
    assert db.session.get(Attempt, held.id).finished_at is not None

    later = after_deadline + timedelta(minutes=1)
    snap = read(contest, later)  # the tail adds the finish
    assert (snap.tail.pending, snap.tail.finished, snap.tail.past) == (1, 1, 0)
    assert totals(snap) == (4, 4, 4)
    assert_exact(contest, snap)
    for _ in range(2):  # folded once, and never again
        rollup.refresh(contest, now=later)
        assert rollup.pending_count(contest.id) == 0
        snap = read(contest, later)
        assert snap.tail.attempts == 0
        assert totals(snap) == (4, 4, 4)
        assert_exact(contest, snap)


# ------------------------------------------------------ random interleaving


@pytest.mark.parametrize("seed, batch", [(1, FULL), (2, FULL), (3, 2)])
def test_random_interleaving_matches_a_recomputation(
    ctx, make_bank, make_contest, make_user, quiet, monkeypatch, seed, batch
):
    """Starts, answers, submits, expiries (on read and by the sweeper),
    disqualifications, resets, refreshes and reads in a seeded random order
    over a few simulated days; after every refresh and every read the figures
    are the from-scratch ones, and a read folds exactly the pending attempts
    and those past the watermark. With batch=2 a refresh folds at most two
    pending finishes and two new attempts."""
    monkeypatch.setattr(rollup, "BATCH", batch)
    rng = random.Random(seed)
    make_bank()
    c = make_contest(
        starts_at=NOW - timedelta(hours=2),
        ends_at=NOW + timedelta(days=3),
        time_limit_s=600,
        attempts_per_day=4,
    )
    users = [make_user(region=REGIONS[i % 3], name=f"选手{i}") for i in range(9)]
    organizer = make_user(role="organizer")
    by_id = {u.id: u for u in users}
    contest = db.session.get(Contest, c.id)
    clock = NOW
    checks = 0
    #: reads that folded a pending attempt open / one finished since
    seen = {"open": 0, "finished": 0}

    def open_attempts() -> list[Attempt]:
        return list(
            db.session.scalars(
                select(Attempt)
                .where(Attempt.contest_id == contest.id, Attempt.finished_at.is_(None))
                .order_by(Attempt.id)
            )
        )

    def check_read() -> None:
        nonlocal checks
        snap = read(contest, clock)
        assert_exact(contest, snap)
        assert snap.tail.pending == rollup.pending_count(contest.id)
        assert snap.tail.past == past(contest)
        checks += 1
        seen["open"] += snap.tail.pending > snap.tail.finished
        seen["finished"] += snap.tail.finished > 0

    for _step in range(400):
        clock += timedelta(
            seconds=rng.choice(
                [rng.randint(0, 60)] * 14
                + [rng.randint(60, 600)] * 5
                + [rng.randint(2 * 3600, 8 * 3600)]
            )
        )
        action = rng.choices(
            [
                "start", "answer", "submit", "expire", "sweep",
                "disqualify", "reset", "refresh", "read",
            ],
            weights=[26, 22, 12, 4, 4, 3, 2, 14, 12],
        )[0]  # fmt: skip
        opened = open_attempts()
        if action == "start":
            user = rng.choice(users)
            try:
                svc.start_attempt(
                    user, contest, now=clock, grace_s=GRACE, rng=random.Random(_step)
                )
            except (svc.DailyLimitReached, svc.ContestNotOpen):
                db.session.rollback()
        elif action in ("answer", "submit", "expire") and opened:
            a = rng.choice(opened)
            user = by_id[a.user_id]
            try:
                if action == "answer":
                    svc.save_answer(
                        a.id, user, rng.randint(1, 10), [rng.choice("AB")], now=clock
                    )
                elif action == "submit":
                    svc.submit_attempt(a.id, user, now=clock, grace_s=GRACE)
                else:
                    svc.get_attempt(a.id, user, now=clock, grace_s=GRACE)
            except svc.AttemptClosed:
                db.session.rollback()
        elif action == "sweep":
            svc.sweep_expired(now=clock, grace_s=GRACE)
        elif action == "disqualify":
            done = db.session.scalars(
                select(Attempt.id).where(
                    Attempt.contest_id == contest.id,
                    Attempt.finished_at.is_not(None),
                    Attempt.disqualified_at.is_(None),
                )
            ).all()
            if done:
                actor = db.session.get(User, organizer.id)
                disqualify_attempt(
                    rng.choice(done), "测试", actor=actor, ip=None, now=clock
                )
        elif action == "reset":  # what a regrade does to the rollups
            rollup.reset(contest.id)
            db.session.commit()
        elif action == "refresh":
            rollup.refresh(contest, now=clock)
            mark = watermark(contest)
            pending = set(db.session.scalars(select(StatsPending.attempt_id)))
            assert all(a <= mark for a in pending)
            if batch == FULL:
                # Everything that finished was folded: only open ones wait.
                assert pending == {a.id for a in open_attempts() if a.id <= mark}
            check_read()
        elif action == "read":
            check_read()
    # Whatever was left: the sweeper ends every attempt, refreshes catch up.
    clock += timedelta(hours=1)
    svc.sweep_expired(now=clock, grace_s=GRACE)
    check_read()
    rollup.refresh_all(contest, now=clock)
    assert rollup.pending_count(contest.id) == 0 and past(contest) == 0
    check_read()
    attempts = db.session.scalar(
        select(func.count()).where(Attempt.contest_id == contest.id)
    )
    assert attempts > 60 and checks > 60
    assert seen["open"] > 10 and seen["finished"] > 3, seen


# ------------------------------------------------------------- concurrency


@pytest.mark.postgres_only
def test_a_read_keeps_refreshes_out_until_it_has_read_and_then_lets_go(
    app, ctx, make_bank, make_contest, quiet
):
    """A read locks the two cursor rows FOR SHARE before it reads the tables
    and the pending list: a refresh in another process meanwhile skips (it
    would otherwise move the watermark between those reads). The read's
    transaction ends with it, so the lock is not held through the rest of
    the request."""
    make_bank()
    c = make_contest(starts_at=local(17, 0), ends_at=local(20, 0))
    contest = db.session.get(Contest, c.id)
    question = db.session.scalars(select(Question)).first()
    users = add_citizens(3)
    add_attempt(contest, users[0], local(17, 8), 60, 10, (True,), [question])
    db.session.commit()
    now = local(20, 1)
    rollup.refresh(contest, now=now)
    add_attempt(contest, users[1], local(17, 9), 60, 10, (True,), [question])
    db.session.commit()
    mark = watermark(contest)

    def refresh_elsewhere() -> bool:
        with app.app_context():  # its own session and connection
            moved = rollup.refresh(
                db.session.get(Contest, contest.id), now=now + timedelta(minutes=1)
            )
            db.session.remove()
            return moved

    assert rollup.read_positions(contest.id) == (mark, watermark_of_users())
    assert refresh_elsewhere() is False  # skipped: the reader holds the rows
    db.session.rollback()
    snap = read(contest, now)  # reads, then lets go
    assert snap.tail.past == 1
    assert refresh_elsewhere() is True
    assert watermark(contest) > mark


def watermark_of_users() -> int:
    return rollup.cursor_position(rollup.USERS_CURSOR)
