"""Attempt engine rules, called as services with an explicit `now`."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import Attempt, AttemptAnswer, Contest, Question
from tests.conftest import NOW

GRACE = 5


def start(user, contest_id, now=NOW, seed=1):
    contest = db.session.get(Contest, contest_id)
    return svc.start_attempt(
        user, contest, now=now, grace_s=GRACE, rng=random.Random(seed)
    )


def correct_display(attempt_id, position):
    """The right answer in display letters (what a perfect citizen would send)."""
    ans = db.session.scalars(
        select(AttemptAnswer).where(
            AttemptAnswer.attempt_id == attempt_id, AttemptAnswer.position == position
        )
    ).one()
    q = db.session.get(Question, ans.question_id)
    return svc.to_display(ans.option_order, q.answer)


@pytest.fixture
def setup(ctx, make_bank, make_contest, make_user):
    make_bank()
    contest = make_contest()
    return contest, make_user()


def test_draw_follows_type_counts_without_repeats(setup):
    contest, user = setup
    attempt, created = start(user, contest.id)
    assert created
    items = svc.attempt_items(attempt)
    assert len(items) == 10
    assert Counter(q.type for _, q in items) == {"single": 4, "multiple": 3, "judge": 3}
    assert len({a.question_id for a, _ in items}) == 10
    assert [a.position for a, _ in items] == list(range(1, 11))
    # Spread over the three categories: none gets more than 4 of 10.
    assert max(Counter(a.question.category_code for a, _ in items).values()) <= 4


def test_option_order_shuffled_but_judge_fixed(setup):
    contest, user = setup
    pool = svc.question_pool()
    orders = Counter()
    c = db.session.get(Contest, contest.id)
    for seed in range(30):
        for item, order in svc.draw_questions(c, pool, random.Random(seed)):
            if item.type == "judge":
                assert order == "AB"
            else:
                assert sorted(order) == list("ABCDE"[: item.option_count])
                orders[order] += 1
    assert len(orders) > 10  # many different permutations appear


def test_category_quotas_are_met(ctx, make_bank, make_contest, make_user):
    make_bank()
    contest = make_contest(category_quotas={"science": 5})
    c = db.session.get(Contest, contest.id)
    for seed in range(10):
        drawn = svc.draw_questions(c, svc.question_pool(), random.Random(seed))
        cats = Counter(item.category for item, _ in drawn)
        assert cats["science"] >= 5


def test_bank_too_small_is_refused(ctx, make_bank, make_contest, make_user):
    make_bank(per_type=(1, 1, 0))
    contest = make_contest()
    with pytest.raises(svc.BankTooSmall):
        start(make_user(), contest.id)
    assert db.session.scalar(select(func.count(Attempt.id))) == 0


def test_deadline_is_start_plus_limit(setup):
    contest, user = setup
    attempt, _ = start(user, contest.id)
    assert attempt.deadline_at == NOW + timedelta(seconds=900)


def test_contest_end_inside_time_limit_cuts_deadline(
    ctx, make_bank, make_contest, make_user
):
    make_bank()
    contest = make_contest(ends_at=NOW + timedelta(minutes=5))
    attempt, _ = start(make_user(), contest.id)
    assert attempt.deadline_at == NOW + timedelta(minutes=5)


def test_start_twice_resumes_the_same_attempt(setup):
    contest, user = setup
    first, created = start(user, contest.id)
    again, created_again = start(user, contest.id, now=NOW + timedelta(minutes=3))
    assert created and not created_again
    assert again.id == first.id
    assert again.deadline_at == first.deadline_at  # a restart never resets the timer


@pytest.mark.parametrize("offset", [timedelta(days=-2), timedelta(days=6)])
def test_contest_window_is_enforced(setup, offset):
    contest, user = setup
    with pytest.raises(svc.ContestNotOpen):
        start(user, contest.id, now=NOW + offset)


def test_daily_limit_counts_days_in_shanghai(ctx, make_bank, make_contest, make_user):
    make_bank()
    contest = make_contest(attempts_per_day=2)
    user = make_user()
    # 2023-09-18 23:50 and 23:55 in Shanghai = 15:50/15:55 UTC.
    late = datetime(2023, 9, 18, 15, 50, tzinfo=UTC)
    for k in range(2):
        a, _ = start(user, contest.id, now=late + timedelta(minutes=5 * k))
        svc.submit_attempt(
            a.id, user, now=late + timedelta(minutes=5 * k, seconds=30), grace_s=GRACE
        )
    with pytest.raises(svc.DailyLimitReached):
        start(user, contest.id, now=late + timedelta(minutes=9))
    # 00:01 the next day in Shanghai (16:01 UTC, still the same UTC day): allowed.
    a, created = start(user, contest.id, now=datetime(2023, 9, 18, 16, 1, tzinfo=UTC))
    assert created


def test_answer_just_before_deadline_is_saved(setup):
    contest, user = setup
    a, _ = start(user, contest.id)
    svc.save_answer(a.id, user, 1, ["A"], now=a.deadline_at - timedelta(seconds=1))
    assert svc.attempt_items(a)[0][0].choices is not None


def test_answer_after_deadline_is_refused_and_changes_nothing(setup):
    contest, user = setup
    a, _ = start(user, contest.id)
    svc.save_answer(a.id, user, 1, ["A"], now=NOW + timedelta(seconds=10))
    before = svc.attempt_items(a)[0][0].choices
    with pytest.raises(svc.AttemptClosed):
        svc.save_answer(a.id, user, 1, ["B"], now=a.deadline_at + timedelta(seconds=1))
    db.session.expire_all()
    assert svc.attempt_items(a)[0][0].choices == before


def test_submit_in_grace_is_accepted(setup):
    contest, user = setup
    a, _ = start(user, contest.id)
    done = svc.submit_attempt(
        a.id, user, now=a.deadline_at + timedelta(seconds=GRACE - 1), grace_s=GRACE
    )
    assert done.status == "submitted"
    # Duration never counts the grace.
    assert done.duration_ms == 900_000


def test_submit_after_grace_expires_with_saved_answers(setup):
    contest, user = setup
    a, _ = start(user, contest.id)
    right = correct_display(a.id, 1)
    svc.save_answer(a.id, user, 1, right, now=NOW + timedelta(minutes=1))
    with pytest.raises(svc.AttemptClosed):
        svc.submit_attempt(
            a.id, user, now=a.deadline_at + timedelta(seconds=GRACE + 1), grace_s=GRACE
        )
    db.session.expire_all()
    stored = db.session.get(Attempt, a.id)
    assert stored.status == "expired"
    assert stored.finished_at == stored.deadline_at
    assert stored.correct_count == 1


def test_submit_twice_scores_once(setup):
    contest, user = setup
    a, _ = start(user, contest.id)
    for pos in range(1, 11):
        svc.save_answer(
            a.id,
            user,
            pos,
            correct_display(a.id, pos),
            now=NOW + timedelta(seconds=pos),
        )
    first = svc.submit_attempt(
        a.id, user, now=NOW + timedelta(minutes=2), grace_s=GRACE
    )
    assert (first.score, first.correct_count) == (100, 10)
    second = svc.submit_attempt(
        a.id, user, now=NOW + timedelta(minutes=3), grace_s=GRACE
    )
    assert second.finished_at == first.finished_at
    assert second.score == first.score


def test_multiple_choice_scores_only_when_exact(setup):
    contest, user = setup
    a, _ = start(user, contest.id)
    items = svc.attempt_items(a)
    pos = next(ans.position for ans, q in items if q.type == "multiple")
    right = correct_display(a.id, pos)
    svc.save_answer(a.id, user, pos, right[:-1], now=NOW + timedelta(seconds=5))
    done = svc.submit_attempt(a.id, user, now=NOW + timedelta(seconds=6), grace_s=GRACE)
    assert done.correct_count == 0


def test_sweeper_finishes_abandoned_attempts_once(
    ctx, make_bank, make_contest, make_user
):
    make_bank()
    contest = make_contest()
    users = [make_user() for _ in range(3)]
    attempts = [start(u, contest.id)[0] for u in users]
    svc.save_answer(attempts[0].id, users[0], 1, ["A"], now=NOW + timedelta(seconds=3))
    later = NOW + timedelta(minutes=16)
    assert svc.sweep_expired(now=later, grace_s=GRACE) == 3
    assert svc.sweep_expired(now=later, grace_s=GRACE) == 0
    db.session.expire_all()
    for a in attempts:
        stored = db.session.get(Attempt, a.id)
        assert stored.status == "expired"
        assert stored.finished_at == stored.deadline_at


def test_sweeper_leaves_running_attempts(setup):
    contest, user = setup
    start(user, contest.id)
    assert svc.sweep_expired(now=NOW + timedelta(minutes=10), grace_s=GRACE) == 0


def test_stale_version_is_refused(setup):
    contest, user = setup
    a, _ = start(user, contest.id)
    saved = svc.save_answer(a.id, user, 1, ["A"], now=NOW, expected_version=0)
    assert saved.version == 1 and saved.deadline_at == a.deadline_at
    with pytest.raises(svc.StaleAnswer):
        svc.save_answer(a.id, user, 1, ["B"], now=NOW, expected_version=0)


@pytest.mark.parametrize("choices", [["Z"], ["A", "B"], ["AB"], [""]])
def test_invalid_choices_on_single_are_refused(setup, choices):
    contest, user = setup
    a, _ = start(user, contest.id)
    pos = next(ans.position for ans, q in svc.attempt_items(a) if q.type == "single")
    with pytest.raises(svc.InvalidChoice):
        svc.save_answer(a.id, user, pos, choices, now=NOW)


def test_other_citizens_attempt_is_not_found(setup, make_user):
    contest, user = setup
    a, _ = start(user, contest.id)
    other = make_user()
    with pytest.raises(svc.NotFound):
        svc.save_answer(a.id, other, 1, ["A"], now=NOW)
    with pytest.raises(svc.NotFound):
        svc.submit_attempt(a.id, other, now=NOW, grace_s=GRACE)
    with pytest.raises(svc.NotFound):
        svc.get_attempt(a.id, other, now=NOW, grace_s=GRACE)


def test_best_attempt_prefers_score_then_time(setup):
    contest, user = setup
    a, _ = start(user, contest.id)
    svc.save_answer(a.id, user, 1, correct_display(a.id, 1), now=NOW)
    slow = svc.submit_attempt(a.id, user, now=NOW + timedelta(minutes=5), grace_s=GRACE)
    b, _ = start(user, contest.id, now=NOW + timedelta(minutes=10))
    svc.save_answer(
        b.id, user, 1, correct_display(b.id, 1), now=NOW + timedelta(minutes=10)
    )
    fast = svc.submit_attempt(
        b.id, user, now=NOW + timedelta(minutes=11), grace_s=GRACE
    )
    assert slow.score == fast.score
    assert (
        svc.best_attempt(
            svc.user_attempts(user, db.session.get(Contest, contest.id))
        ).id
        == fast.id
    )
