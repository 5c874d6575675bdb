"""Regrade after a key correction: finished attempts holding the older revision
are re-scored against the current key; scores, rank keys and boards follow."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app import redis_keys as keys
from quiz_app.bank.services import import_file
from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.contest.regrade import regrade_question
from quiz_app.extensions import db, redis_client
from quiz_app.leaderboard import services as boards
from quiz_app.leaderboard.ranking import user_id_of
from quiz_app.models import Attempt, AuditEvent, Contest, Question
from tests.conftest import bank_rows, rows_to_csv

GRACE = 5


@pytest.fixture
def finished(ctx, make_open_contest, make_user):
    """Six citizens who answered every question with the key of revision 1."""
    contest = make_open_contest()
    users = [make_user(name=f"选手{i}") for i in range(6)]
    contest = db.session.get(Contest, contest.id)
    now = utcnow()
    attempts = {}
    for i, user in enumerate(users):
        attempt, _ = svc.start_attempt(
            user, contest, now=now, grace_s=GRACE, rng=random.Random(i)
        )
        for ans, rev in svc.attempt_items(attempt):
            shown = svc.to_display(ans.option_order, rev.answer)
            svc.save_answer(attempt.id, user, ans.position, shown, now=now)
        svc.submit_attempt(
            attempt.id, user, now=now + timedelta(seconds=20 + i), grace_s=GRACE
        )
        attempts[user.id] = attempt.id
    return contest, users, attempts


def drawn_by(attempt_ids):
    """question ext id -> attempt ids that drew it."""
    out: dict[str, set[int]] = {}
    for aid in attempt_ids:
        for ans, _ in svc.attempt_items(db.session.get(Attempt, aid)):
            out.setdefault(ans.question.ext_id, set()).add(aid)
    return out


def correct_key(ext_id, new_answer=None, new_options=None):
    """Re-import the bank with one question's key (or options) changed."""
    rows = bank_rows()
    row = next(r for r in rows[1:] if r[0] == ext_id)
    if new_answer:
        row[11] = new_answer
    if new_options:
        row[5:11] = new_options
    import_file(rows_to_csv(rows), "fix.csv", now=utcnow())


def board_scores(contest):
    board = boards.read_board(
        svc.contest_by_id(contest.id), boards.Scope("all"), limit=10
    )
    return [(e.rank, e.score) for e in board.entries]


def test_regrade_rescores_finished_attempts_and_moves_the_boards(finished, make_user):
    contest, users, attempts = finished
    assert board_scores(contest) == [(i, 100) for i in range(1, 7)]
    by_question = drawn_by(attempts.values())
    ext_id, holders = max(
        ((e, a) for e, a in by_question.items() if e.split("-")[1] <= "006"),
        key=lambda item: len(item[1]),
    )
    q = db.session.scalar(select(Question).where(Question.ext_id == ext_id))
    assert q.current.type == "single" and 0 < len(holders) < 6
    old_key = q.current.answer
    new_key = next(ch for ch in "ABCD" if ch != old_key)
    correct_key(ext_id, new_answer=new_key)

    result = regrade_question(
        contest.id, ext_id, actor=None, ip="127.0.0.1", now=utcnow()
    )
    assert (result.attempts_rescored, result.scores_changed) == (
        len(holders),
        len(holders),
    )
    assert result.attempts_skipped == 0
    db.session.expire_all()
    for aid in attempts.values():
        a = db.session.get(Attempt, aid)
        expected = 90 if aid in holders else 100
        assert a.score == expected and a.correct_count == expected // 10
        assert a.rank_key == svc.contest_by_id(contest.id).codec.encode(
            a.score, a.duration_ms, a.finished_at
        )
    # The boards (Redis) and the SQL order agree and put the 90s last.
    scores = [s for _, s in board_scores(contest)]
    assert scores == [100] * (6 - len(holders)) + [90] * len(holders)
    sql = boards.sql_ranking(svc.contest_by_id(contest.id), boards.Scope("all"))
    assert [k for _, k in sql] == sorted((k for _, k in sql), reverse=True)
    live = redis_client.client.zrevrange(keys.board_all(contest.id), 0, -1)
    assert [user_id_of(m) for m in live] == [uid for uid, _ in sql]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "regrade"))
    assert ext_id in event.object and f"rescored={len(holders)}" in event.object
    # Running it again changes nothing.
    again = regrade_question(contest.id, ext_id, actor=None, ip=None, now=utcnow())
    assert (again.attempts_rescored, again.scores_changed) == (0, 0)


def test_a_changed_shape_is_skipped_not_rescored(finished):
    contest, users, attempts = finished
    by_question = drawn_by(attempts.values())
    ext_id = next(e for e, a in by_question.items() if e.split("-")[1] <= "006")
    correct_key(ext_id, new_answer="B", new_options=["甲", "乙", "丙", "", "", ""])
    result = regrade_question(contest.id, ext_id, actor=None, ip=None, now=utcnow())
    assert result.attempts_rescored == 0
    assert result.attempts_skipped == len(by_question[ext_id])
    db.session.expire_all()
    assert {db.session.get(Attempt, a).score for a in attempts.values()} == {100}


def test_unknown_question_or_contest_is_not_found(finished):
    contest, _, _ = finished
    with pytest.raises(svc.NotFound):
        regrade_question(contest.id, "nope-001", actor=None, ip=None, now=utcnow())
    with pytest.raises(svc.NotFound):
        regrade_question(10**6, "health-001", actor=None, ip=None, now=utcnow())
