"""Certificate fixtures: a citizen who finished an attempt with a chosen score."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.models import AttemptAnswer, Contest, Question
from tests.conftest import NOW

GRACE = 5


def finish(user, contest_id: int, correct: int, now=NOW):
    """Start and submit an attempt of `user` (from make_user) with `correct`
    questions answered right (10 points each in the test contest)."""
    contest = db.session.get(Contest, contest_id)
    attempt, _ = svc.start_attempt(
        user, contest, now=now, grace_s=GRACE, rng=random.Random(user.id)
    )
    answers = db.session.scalars(
        select(AttemptAnswer)
        .where(AttemptAnswer.attempt_id == attempt.id)
        .order_by(AttemptAnswer.position)
    ).all()
    for ans in answers[:correct]:
        key = db.session.get(Question, ans.question_id).answer
        letters = list(svc.to_display(ans.option_order, key))
        svc.save_answer(attempt.id, user, ans.position, letters, now=now)
    return svc.submit_attempt(
        attempt.id, user, now=now + timedelta(minutes=2), grace_s=GRACE
    )


@pytest.fixture
def contest(make_bank, make_contest):
    make_bank()
    return make_contest(excellent_min=30, title="2023年唐山市公民科学素质知识网络竞赛")


@pytest.fixture
def citizen(make_user):
    return make_user(name="张三明", region="lunan")


@pytest.fixture
def finished(app, contest, citizen):
    """The citizen has a finished attempt of 40 points (优秀 from 30)."""
    with app.app_context():
        finish(citizen, contest.id, correct=4)
    return citizen


def my_code(api) -> str:
    r = api.get("/api/v1/me/certificate")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["code"]
