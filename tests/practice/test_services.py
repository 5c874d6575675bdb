"""Practice services with an explicit `now`: the draw, feedback once per
answer, the daily cap in the contest's zone, and no trace on the contest."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from quiz_app.contest import services as contest_svc
from quiz_app.extensions import db
from quiz_app.leaderboard import services as boards
from quiz_app.models import (
    Attempt,
    ContestBest,
    PracticeItem,
    PracticeRound,
    QuestionRevision,
    User,
)
from quiz_app.practice import services as practice
from quiz_app.practice.presenters import round_view
from tests.conftest import NOW

RULES = practice.PracticeRules(round_size=5, daily_cap=12, timezone="Asia/Shanghai")
# NOW is 10:00 on 18 Sept in Tangshan; its next day starts at 16:00 UTC the
# same UTC day, so a cap counted in UTC days would not reset here.
LAST_MINUTE = NOW + timedelta(hours=13, minutes=59)
NEXT_DAY = NOW + timedelta(hours=14)


@pytest.fixture
def citizen(ctx, make_bank, make_user):
    make_bank()
    return db.session.get(User, make_user().id)


def rng(seed=7):
    return random.Random(seed)


def keys_of(practice_round) -> dict[int, tuple[str, str]]:
    """position -> (option order, original key) straight from SQL."""
    rows = db.session.execute(
        select(
            PracticeItem.position, PracticeItem.option_order, QuestionRevision.answer
        )
        .join(QuestionRevision, QuestionRevision.id == PracticeItem.revision_id)
        .where(PracticeItem.round_id == practice_round.id)
    )
    return {r.position: (r.option_order, r.answer) for r in rows}


def display_key(order: str, key: str) -> list[str]:
    return contest_svc.to_display(order, key)


def wrong_choice(order: str, key: str) -> list[str]:
    right = display_key(order, key)
    return ["A"] if right != ["A"] else ["B"]


def answer_all(practice_round, user, now):
    for pos, (order, key) in keys_of(practice_round).items():
        practice.answer_item(
            practice_round.id, user, pos, display_key(order, key), now=now
        )


def test_a_round_draws_five_with_a_short_type_mix_and_shows_no_key(citizen):
    started, created = practice.start_round(citizen, RULES, now=NOW, rng=rng())
    assert created and started.size == 5
    view = round_view(started, left_today=7)
    types = Counter(q["type"] for q in view["questions"])
    assert types == {"single": 3, "multiple": 1, "judge": 1}
    assert all(q["feedback"] is None for q in view["questions"])
    text = json.dumps(view, default=str, ensure_ascii=False)
    assert "解析" not in text and "测试来源" not in text
    assert "correct_choices" not in text and "is_correct" not in text


def test_the_key_comes_with_the_answer_and_the_first_answer_stands(citizen):
    started, _ = practice.start_round(citizen, RULES, now=NOW, rng=rng())
    order, key = keys_of(started)[2]
    first = practice.answer_item(
        started.id, citizen, 2, wrong_choice(order, key), now=NOW
    )
    assert first.is_correct is False and first.repeated is False
    assert first.correct_choices == display_key(order, key)
    assert "解析" in first.explanation and first.source == "测试来源"

    # Only the answered question carries feedback.
    view = round_view(started, left_today=7)
    assert [q["feedback"] is not None for q in view["questions"]] == [
        False,
        True,
        False,
        False,
        False,
    ]

    # Answering again with the right key changes nothing.
    again = practice.answer_item(
        started.id, citizen, 2, display_key(order, key), now=NOW + timedelta(seconds=5)
    )
    assert again.repeated is True
    assert again.is_correct is False and again.choices == first.choices
    item = db.session.scalars(
        select(PracticeItem).where(
            PracticeItem.round_id == started.id, PracticeItem.position == 2
        )
    ).one()
    assert item.answered_at == NOW and item.is_correct is False


@pytest.mark.parametrize(
    "choices, message",
    [([], "请先选择答案"), (["F"], "该题没有选项 F"), (["AB"], "所选选项无效")],
)
def test_bad_choices_are_refused_and_reveal_nothing(citizen, choices, message):
    started, _ = practice.start_round(citizen, RULES, now=NOW, rng=rng())
    with pytest.raises(contest_svc.InvalidChoice) as exc:
        practice.answer_item(started.id, citizen, 1, choices, now=NOW)
    assert exc.value.message == message
    assert round_view(started, left_today=7)["questions"][0]["feedback"] is None


def test_two_letters_on_a_single_choice_question_are_refused(citizen):
    started, _ = practice.start_round(citizen, RULES, now=NOW, rng=rng())
    view = round_view(started, left_today=7)
    single = next(q for q in view["questions"] if q["type"] == "single")
    with pytest.raises(contest_svc.InvalidChoice):
        practice.answer_item(
            started.id, citizen, single["position"], ["A", "B"], now=NOW
        )


def test_the_daily_cap_counts_drawn_questions_and_resets_at_local_midnight(
    citizen,
):
    sizes = []
    for _ in range(3):
        started, created = practice.start_round(citizen, RULES, now=NOW, rng=rng())
        assert created
        sizes.append(started.size)
        answer_all(started, citizen, NOW)
    assert sizes == [5, 5, 2]  # the last round is cut to what the cap leaves
    assert practice.left_today(citizen, RULES, now=NOW) == 0
    with pytest.raises(practice.PracticeCapReached) as exc:
        practice.start_round(citizen, RULES, now=LAST_MINUTE)
    assert exc.value.status == 429 and "12 道练习题已用完" in exc.value.message
    assert db.session.scalar(select(func.count(PracticeRound.id))) == 3

    assert practice.left_today(citizen, RULES, now=NEXT_DAY) == 12
    started, created = practice.start_round(citizen, RULES, now=NEXT_DAY)
    assert created and started.size == 5


def test_an_unfinished_round_is_resumed_not_drawn_again(citizen):
    first, created = practice.start_round(citizen, RULES, now=NOW, rng=rng())
    practice.answer_item(first.id, citizen, 1, ["A"], now=NOW)
    again, created_again = practice.start_round(citizen, RULES, now=NOW, rng=rng(8))
    assert created and not created_again and again.id == first.id
    assert practice.left_today(citizen, RULES, now=NOW) == 7


def test_another_citizens_round_is_not_found(citizen, make_user):
    started, _ = practice.start_round(citizen, RULES, now=NOW, rng=rng())
    other = db.session.get(User, make_user().id)
    with pytest.raises(contest_svc.NotFound):
        practice.get_round(started.id, other)
    with pytest.raises(contest_svc.NotFound):
        practice.answer_item(started.id, other, 1, ["A"], now=NOW)
    assert round_view(started, left_today=7)["answered"] == 0


def test_practice_leaves_no_trace_on_the_contest(citizen, make_contest):
    db.session.rollback()  # make_contest writes from its own app context
    contest = contest_svc.contest_by_id(make_contest().id)
    before = contest_svc.attempts_left_today(citizen, contest, NOW)
    for _ in range(2):
        started, _ = practice.start_round(citizen, RULES, now=NOW, rng=rng())
        answer_all(started, citizen, NOW)
    assert contest_svc.attempts_left_today(citizen, contest, NOW) == before == 3
    assert db.session.scalar(select(func.count(Attempt.id))) == 0
    assert db.session.scalar(select(func.count(ContestBest.user_id))) == 0
    board = boards.read_board(
        contest, boards.Scope("all"), limit=10, user_id=citizen.id
    )
    assert board.total == 0 and board.entries == [] and board.me is None


@pytest.mark.parametrize("offset", [timedelta(days=-3), timedelta(days=30)])
def test_practice_works_before_the_contest_opens_and_after_it_closes(
    citizen, make_contest, offset
):
    db.session.rollback()  # make_contest writes from its own app context
    contest = contest_svc.contest_by_id(
        make_contest(
            starts_at=NOW + timedelta(days=2), ends_at=NOW + timedelta(days=9)
        ).id
    )
    when = contest.starts_at + offset if offset.days < 0 else contest.ends_at + offset
    assert contest.status(when) in ("upcoming", "closed")
    rules = practice.practice_rules(
        {"PRACTICE_ROUND_SIZE": 5, "PRACTICE_DAILY_CAP": 30, "QUIZ_TIMEZONE": "UTC"},
        contest,
    )
    assert rules.timezone == "Asia/Shanghai"  # the contest's zone, not the default
    started, created = practice.start_round(citizen, rules, now=when, rng=rng())
    assert created and started.size == 5
    answer_all(started, citizen, when)
    assert round_view(started, left_today=25)["correct"] == 5


def test_a_bank_without_multiple_choice_still_fills_a_round(ctx, make_bank, make_user):
    make_bank(per_type=(3, 0, 2))
    user = db.session.get(User, make_user().id)
    started, _ = practice.start_round(user, RULES, now=NOW, rng=rng())
    types = Counter(q["type"] for q in round_view(started, left_today=0)["questions"])
    assert sum(types.values()) == 5 and types["multiple"] == 0


def test_a_bank_too_small_for_a_round_draws_nothing(ctx, make_bank, make_user):
    make_bank(categories=("health",), per_type=(1, 1, 1))
    user = db.session.get(User, make_user().id)
    with pytest.raises(contest_svc.BankTooSmall):
        practice.start_round(user, RULES, now=NOW, rng=rng())
    assert practice.left_today(user, RULES, now=NOW) == 12
