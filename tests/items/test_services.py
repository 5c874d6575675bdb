"""Item statistics from their additive sums: figures worked out by hand for
the six attempts of tests/items/conftest.py, incremental refresh, and the
adjustments made by a regrade or a disqualification."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from quiz_app.bank.services import import_file
from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.contest.disqualify import disqualify_attempt
from quiz_app.contest.regrade import regrade_preview, regrade_question
from quiz_app.extensions import db
from quiz_app.items import services as items
from quiz_app.models import Contest, ItemStat, ItemStatPending, User
from tests.conftest import bank_rows, rows_to_csv

from .scene import GRACE, answer

LATER = timedelta(minutes=2)  # past the settle time of the attempts' starts


def figures(contest_id):
    th = items.thresholds(current_app.config)
    return {(i.ext_id, i.revision): i for i in items.contest_items(contest_id, th)}


def sums(contest_id):
    rows = db.session.scalars(
        select(ItemStat)
        .where(ItemStat.contest_id == contest_id)
        .order_by(ItemStat.revision_id)
    )
    return [(r.revision_id, *(getattr(r, c) for c in items.SUM_COLUMNS)) for r in rows]


def test_hand_computed_figures(three_items):
    contest, _users, ids, now = three_items
    r = items.refresh(contest, now=now + LATER)
    assert (r.added, r.attempts, r.watermark, r.pending) == (6, 6, max(ids), 0)
    f = figures(contest.id)
    q1, q2, q3 = f[("health-001", 1)], f[("health-002", 1)], f[("health-003", 1)]
    # health-001, key A: x = 1,1,1,0,0,1; other items right T = 1,1,2,1,1,1
    # n=6 Σx=4 ΣT=7 ΣT²=9 ΣxT=5 -> r = (30-28)/sqrt((24-16)(54-49)) = 2/sqrt(40)
    assert (q1.exposures, q1.answered, q1.correct) == (6, 6, 4)
    assert q1.facility == pytest.approx(4 / 6)
    assert q1.discrimination == pytest.approx(2 / math.sqrt(40))
    assert q1.options == pytest.approx({"A": 4 / 6, "B": 1 / 6, "C": 1 / 6, "D": 0})
    # health-002, key B, one blank: x = 1,1,1,0,0,0; T = 1,1,2,1,1,2
    # n=6 Σx=3 ΣT=8 ΣxT=4 -> n·ΣxT - Σx·ΣT = 24 - 24 = 0
    assert (q2.exposures, q2.answered, q2.correct) == (6, 5, 3)
    assert q2.facility == pytest.approx(0.5)
    assert q2.discrimination == pytest.approx(0.0)
    assert q2.options == pytest.approx({"A": 1 / 6, "B": 3 / 6, "C": 1 / 6, "D": 0})
    # health-003, key C, right only by the weaker half: x = 0,0,1,1,1,1;
    # T = 2,2,2,0,0,1; Σx=4 ΣT=7 ΣT²=13 ΣxT=3 -> (18-28)/sqrt(8·29)
    assert q3.facility == pytest.approx(4 / 6)
    assert q3.discrimination == pytest.approx(-10 / math.sqrt(232))
    assert q3.options == pytest.approx({"A": 0, "B": 0, "C": 4 / 6, "D": 2 / 6})
    # Top group: T >= ceil(0.8 * 2) = 2 -> attempts 1-3; they pick D, D, C.
    assert q3.top_n == 3 and q3.top_options == pytest.approx(
        {"A": 0, "B": 0, "C": 1 / 3, "D": 2 / 3}
    )
    assert q3.flags == ["suspect_key"]
    assert q1.flags == [] and q2.flags == []


def test_flags_wait_for_enough_answers(three_items, config):
    contest, _users, _ids, now = three_items
    items.refresh(contest, now=now + LATER)
    config(ITEM_STATS_MIN_EXPOSURES=7)
    assert all(i.flags == [] for i in figures(contest.id).values())


@pytest.mark.parametrize(
    "correct, flags", [(38, []), (39, ["too_easy"]), (8, []), (7, ["too_hard"])]
)
def test_facility_flags(correct, flags):
    """Of 40 answers: 39 right (0.975) is too easy, 38 (0.95) not; 7 (0.175)
    too hard, 8 (0.2) not."""
    from quiz_app.models import Question, QuestionRevision

    n = 40
    row = ItemStat(exposures=n, answered=n, correct=correct, top_n=0)
    for c in items.STAT_LETTERS:
        setattr(row, f"pick_{c}", 0)
        setattr(row, f"top_{c}", 0)
    # Every other item right or wrong together with this one: r = 1.
    row.sum_t = row.sum_tt = row.sum_xt = correct
    rev = QuestionRevision(number=1, type="judge", options=["正确", "错误"], answer="A")
    q = Question(ext_id="x-001", category_code="health", revision=1)
    got = items.figures_of(row, rev, q, items.Thresholds(30, 10))
    assert got.flags == flags
    assert got.discrimination == pytest.approx(1.0)


def test_incremental_refresh_counts_late_finishers_once(three_items, make_user):
    contest, _users, ids, now = three_items
    first = items.refresh(contest, now=now + LATER)
    before = sums(contest.id)
    # A citizen starts now and is still answering at the next refresh.
    db.session.rollback()  # SQLite: let make_user's own session write
    late = make_user(name="晚到")
    attempt, _ = svc.start_attempt(
        late, contest, now=now, grace_s=GRACE, rng=random.Random(9)
    )
    answer(attempt, late, ("A", "B", "C"), now=now)
    second = items.refresh(contest, now=now + LATER * 2)
    assert (second.added, second.pending) == (0, 1)
    assert second.watermark == attempt.id > first.watermark
    assert sums(contest.id) == before
    assert db.session.scalar(select(ItemStatPending.attempt_id)) == attempt.id
    # It expires (the sweeper) long after; the next refresh adds it once.
    svc.sweep_expired(now=now + timedelta(hours=1), grace_s=GRACE)
    third = items.refresh(contest, now=now + timedelta(hours=1))
    assert (third.added, third.attempts, third.pending) == (1, 7, 0)
    fourth = items.refresh(contest, now=now + timedelta(hours=2))
    assert (fourth.added, fourth.attempts) == (0, 7)
    f = figures(contest.id)
    assert f[("health-001", 1)].exposures == 7 and f[("health-001", 1)].correct == 5
    incremental = sums(contest.id)
    items.refresh(contest, now=now + timedelta(hours=2), full=True)
    assert sums(contest.id) == incremental


def test_settle_time_leaves_just_started_attempts_for_later(three_items):
    contest, _users, _ids, now = three_items
    r = items.refresh(contest, now=now + timedelta(seconds=30))
    assert (r.added, r.watermark) == (0, 0)


def test_max_age_skips_a_fresh_refresh_and_batch_caps_the_range(three_items):
    contest, _users, ids, now = three_items
    assert items.refresh(contest, now=now + LATER, batch=4).more
    state = items.state_of(contest.id)
    assert (state.watermark, state.attempts) == (ids[3], 4)
    skipped = items.refresh(
        contest, now=now + LATER + timedelta(seconds=10), max_age=timedelta(minutes=5)
    )
    assert skipped is None
    rest = items.refresh(contest, now=now + timedelta(minutes=10), batch=4)
    assert (rest.added, rest.attempts, rest.more) == (2, 6, False)


def correct_key(ext_id, new_answer):
    rows = bank_rows(categories=("health",), per_type=(3, 0, 0))
    row = next(r for r in rows[1:] if r[0] == ext_id)
    row[11] = new_answer
    import_file(rows_to_csv(rows), "fix.csv", now=utcnow())


def test_regrade_moves_the_sums_to_the_new_revision(three_items):
    contest, _users, ids, now = three_items
    items.refresh(contest, now=now + LATER)
    correct_key("health-003", "D")
    preview = regrade_preview(contest.id, "health-003")
    # Every attempt flips on health-003: C was right, D now is.
    assert (preview.attempts_affected, preview.scores_changed) == (6, 6)
    regrade_question(contest.id, "health-003", actor=None, ip=None, now=now + LATER)
    f = figures(contest.id)
    assert ("health-003", 1) not in f
    q3 = f[("health-003", 2)]
    assert (q3.exposures, q3.correct) == (6, 2) and q3.key == "D"
    # Totals now 3,3,2,0,0,1: health-001's T = 2,2,1,0,0,0 with x = 1,1,1,0,0,1
    # n=6 Σx=4 ΣT=5 ΣT²=9 ΣxT=5 -> (30-20)/sqrt((24-16)(54-25)) = 10/sqrt(232)
    assert f[("health-001", 1)].discrimination == pytest.approx(10 / math.sqrt(232))
    adjusted = sums(contest.id)
    items.refresh(contest, now=now + LATER, full=True)
    assert sums(contest.id) == adjusted


def test_disqualification_leaves_the_statistics(three_items, make_user):
    contest, _users, ids, now = three_items
    items.refresh(contest, now=now + LATER)
    db.session.rollback()  # SQLite: let make_user's own session write
    organizer = db.session.get(User, make_user(role="organizer").id)
    disqualify_attempt(ids[2], "代答", actor=organizer, ip=None, now=now + LATER)
    f = figures(contest.id)
    # Attempt 3 (A, B, C: all right) is gone.
    assert f[("health-001", 1)].exposures == 5
    assert f[("health-002", 1)].correct == 2
    assert items.state_of(contest.id).attempts == 5
    adjusted = sums(contest.id)
    items.refresh(contest, now=now + LATER, full=True)
    assert sums(contest.id) == adjusted
    # An attempt never counted (disqualified before any refresh) changes nothing.
    other = db.session.get(Contest, contest.id)
    assert items.refresh(other, now=now + LATER * 3).added == 0


@pytest.mark.postgres_only
def test_a_second_refresh_skips_while_one_holds_the_lock(three_items, app):
    """Two organizers' views at once: the one that finds the contest's state
    row locked shows what is there instead of waiting or counting twice."""
    contest, _users, _ids, now = three_items
    items.refresh(contest, now=now + LATER)
    other = db.engine.connect()
    try:
        other.exec_driver_sql(
            "SELECT 1 FROM item_stat_state WHERE contest_id = %s FOR UPDATE",
            (contest.id,),
        )
        later = now + timedelta(hours=1)
        assert items.refresh(contest, now=later, wait=False) is None
        items.refresh_for_view(contest, app.config, now=later)  # no wait, no error
        assert items.state_of(contest.id).refreshed_at == now + LATER
    finally:
        other.rollback()
        other.close()
    db.session.rollback()
    assert items.refresh(contest, now=now + timedelta(hours=1), wait=False)


@pytest.mark.postgres_only
def test_an_attempt_finishing_during_a_refresh_is_counted_once(
    three_items, make_user, monkeypatch
):
    """Read committed: each statement of a refresh sees the commits made
    since the one before. An attempt open when the refresh read the open
    attempts, and submitted by its citizen in another request while the
    refresh is summing, stays on the pending list and is counted by the
    next refresh, exactly once."""
    import threading

    contest, _users, _ids, now = three_items
    items.refresh(contest, now=now + LATER)
    db.session.rollback()
    late = make_user(name="交卷中")
    attempt, _ = svc.start_attempt(
        late, contest, now=now, grace_s=GRACE, rng=random.Random(9)
    )
    answer(attempt, late, ("A", "B", "C"), now=now)
    db.session.commit()
    app = current_app._get_current_object()
    real_count = items._count
    submitted = []

    def submit_elsewhere():
        with app.app_context():
            user = db.session.get(User, late.id)
            svc.submit_attempt(attempt.id, user, now=now + LATER, grace_s=GRACE)
            submitted.append(attempt.id)

    calls = []

    def count_while_it_is_submitted(*args, **kwargs):
        # The second count is the pending list's pass: the attempt range has
        # been summed without the (then open) attempt.
        calls.append(1)
        if len(calls) == 2:
            worker = threading.Thread(target=submit_elsewhere)
            worker.start()
            worker.join(10)
        return real_count(*args, **kwargs)

    monkeypatch.setattr(items, "_count", count_while_it_is_submitted)
    second = items.refresh(contest, now=now + LATER * 2)
    monkeypatch.setattr(items, "_count", real_count)
    assert submitted == [attempt.id]
    assert (second.added, second.pending) == (0, 1)
    third = items.refresh(contest, now=now + LATER * 3)
    assert (third.added, third.attempts, third.pending) == (1, 7, 0)
    assert figures(contest.id)[("health-001", 1)].exposures == 7
    incremental = sums(contest.id)
    items.refresh(contest, now=now + LATER * 3, full=True)
    assert sums(contest.id) == incremental
