"""Disqualification: the attempt leaves every board and the SQL fallback, the
citizen's next-best attempt takes its place, and a repeat changes nothing."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app import redis_keys as keys
from quiz_app.clock import local_day, utcnow
from quiz_app.contest import services as svc
from quiz_app.contest.disqualify import disqualify_attempt, find_attempts
from quiz_app.extensions import db, redis_client
from quiz_app.leaderboard import fallback
from quiz_app.leaderboard import services as boards
from quiz_app.leaderboard.ranking import member_id, user_id_of
from quiz_app.models import Attempt, AuditEvent, Contest, ContestBest, User

GRACE = 5


def finish(user, contest, right: int, seconds: int, seed: int) -> Attempt:
    """Start and submit an attempt with the first `right` questions correct."""
    now = utcnow()
    attempt, _ = svc.start_attempt(
        user, contest, now=now, grace_s=GRACE, rng=random.Random(seed)
    )
    for ans, rev in svc.attempt_items(attempt)[:right]:
        shown = svc.to_display(ans.option_order, rev.answer)
        svc.save_answer(attempt.id, user, ans.position, shown, now=now)
    return svc.submit_attempt(
        attempt.id, user, now=now + timedelta(seconds=seconds), grace_s=GRACE
    )


@pytest.fixture
def played(ctx, make_open_contest, make_user):
    """A cheat with a 100 and a 60; an honest citizen with an 80."""
    contest = make_open_contest(days=7)
    cheat = make_user(name="王作弊", region="lunan")
    honest = make_user(name="李诚实", region="lunan")
    organizer = make_user(role="organizer", name="组织者")
    contest = db.session.get(Contest, contest.id)
    best = finish(cheat, contest, 10, 30, 1)
    second = finish(cheat, contest, 6, 40, 2)
    finish(honest, contest, 8, 50, 3)
    return contest, cheat, honest, organizer, best, second


def redis_board(key):
    return [
        (user_id_of(m), int(s))
        for m, s in redis_client.client.zrevrange(key, 0, -1, withscores=True)
    ]


def every_view(contest):
    """(user id, score) in order on the Redis city board, the region board,
    today's board, the SQL truth and the contest_best fallback."""
    contest = svc.contest_by_id(contest.id)
    day = local_day(utcnow(), contest.timezone)
    fallback.clear_cache()
    scores = dict(
        db.session.execute(select(ContestBest.user_id, ContestBest.score)).all()
    )
    sql = boards.sql_board(contest, boards.Scope("all"), 10, None)
    return {
        "redis_all": [u for u, _ in redis_board(keys.board_all(contest.id))],
        "redis_region": [
            u for u, _ in redis_board(keys.board_region(contest.id, "lunan"))
        ],
        "redis_day": [u for u, _ in redis_board(keys.board_day(contest.id, day))],
        "sql": [u for u, _ in boards.sql_ranking(contest, boards.Scope("all"))],
        "fallback_scores": [e.score for e in sql.entries],
        "best_rows": scores,
    }


def test_disqualify_moves_the_citizen_to_the_next_best_everywhere(played):
    contest, cheat, honest, organizer, best, second = played
    before = every_view(contest)
    assert before["redis_all"] == [cheat.id, honest.id]
    assert before["fallback_scores"] == [100, 80]

    attempt, changed = disqualify_attempt(
        best.id, "  代答   嫌疑 ", actor=organizer, ip="10.0.0.1", now=utcnow()
    )
    assert changed
    db.session.expire_all()
    stored = db.session.get(Attempt, best.id)
    assert stored.rank_key is None and stored.score == 100  # the score stays
    assert stored.disqualified_reason == "代答 嫌疑"
    assert stored.disqualified_by == organizer.id
    after = every_view(contest)
    for board in ("redis_all", "redis_region", "redis_day", "sql"):
        assert after[board] == [honest.id, cheat.id], board
    assert after["fallback_scores"] == [80, 60]
    assert after["best_rows"] == {cheat.id: 60, honest.id: 80}
    row = db.session.get(ContestBest, (contest.id, cheat.id))
    assert row.attempt_id == second.id
    # The citizen's own best is the 60 now.
    user = db.session.get(User, cheat.id)
    assert svc.best_attempt(svc.user_attempts(user, contest)).id == second.id
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "disqualify")
    ).all()
    assert len(events) == 1
    assert events[0].actor_id == organizer.id and events[0].ip == "10.0.0.1"
    assert f"attempt:{best.id}" in events[0].object and "代答" in events[0].object


def test_repeating_a_disqualification_is_a_no_op(played):
    contest, cheat, honest, organizer, best, _ = played
    first_at = utcnow()
    disqualify_attempt(best.id, "代答", actor=organizer, ip=None, now=first_at)
    view = every_view(contest)
    attempt, changed = disqualify_attempt(
        best.id, "另一个原因", actor=organizer, ip=None, now=first_at + timedelta(1)
    )
    assert not changed
    db.session.expire_all()
    stored = db.session.get(Attempt, best.id)
    assert stored.disqualified_reason == "代答"
    assert stored.disqualified_at == first_at
    assert every_view(contest) == view
    count = len(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "disqualify")
        ).all()
    )
    assert count == 1


def test_disqualifying_the_only_attempt_removes_the_citizen(played):
    contest, cheat, honest, organizer, _, _ = played
    only = [a for a in find_attempts(contest.id, phone=honest.phone)]
    assert len(only) == 1
    disqualify_attempt(only[0].id, "冒名", actor=organizer, ip=None, now=utcnow())
    view = every_view(contest)
    for board in ("redis_all", "redis_region", "redis_day", "sql"):
        assert honest.id not in view[board], board
    assert honest.id not in view["best_rows"]
    names = keys.board_names(contest.id)
    assert redis_client.client.hexists(names, member_id(cheat.id))
    assert not redis_client.client.hexists(names, member_id(honest.id))
    # A rebuild from SQL agrees.
    boards.rebuild(svc.contest_by_id(contest.id), force=True)
    assert every_view(contest)["redis_all"] == view["redis_all"]


def test_open_attempts_and_empty_reasons_are_refused(played, make_user):
    contest, cheat, honest, organizer, best, _ = played
    newcomer = make_user(name="新来者")
    attempt, _ = svc.start_attempt(newcomer, contest, now=utcnow(), grace_s=GRACE)
    with pytest.raises(svc.AttemptStillOpen):
        disqualify_attempt(attempt.id, "原因", actor=organizer, ip=None, now=utcnow())
    with pytest.raises(svc.InvalidRules) as err:
        disqualify_attempt(best.id, "   ", actor=organizer, ip=None, now=utcnow())
    assert "reason" in err.value.fields
    with pytest.raises(svc.InvalidRules):
        disqualify_attempt(best.id, "长" * 201, actor=organizer, ip=None, now=utcnow())
    with pytest.raises(svc.NotFound):
        disqualify_attempt(10**6, "原因", actor=organizer, ip=None, now=utcnow())
    db.session.expire_all()
    assert db.session.get(Attempt, best.id).disqualified_at is None
    assert every_view(contest)["redis_all"] == [cheat.id, honest.id]


def test_a_regrade_never_brings_a_disqualified_attempt_back(played):
    """Regrade adds the score change to the key; NULL plus anything stays NULL."""
    from quiz_app.contest.regrade import _rescore

    contest, cheat, honest, organizer, best, _ = played
    disqualify_attempt(best.id, "代答", actor=organizer, ip=None, now=utcnow())
    _rescore(svc.contest_by_id(contest.id), [best.id])
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Attempt, best.id).rank_key is None


def test_staff_figures_skip_a_disqualified_best(played):
    from quiz_app.stats.services import region_stats

    contest, cheat, honest, organizer, best, _ = played
    staff = User(role="admin")
    before = next(r for r in region_stats(contest, staff) if r["code"] == "lunan")
    assert before["avg_best_score"] == 90.0 and before["full_score"] == 1
    disqualify_attempt(best.id, "代答", actor=organizer, ip=None, now=utcnow())
    after = next(r for r in region_stats(contest, staff) if r["code"] == "lunan")
    assert after["avg_best_score"] == 70.0 and after["full_score"] == 0
    assert after["finished"] == before["finished"] == 3
