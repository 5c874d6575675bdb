"""Contest editing: frozen rules after the first start, a dry run of the draw,
and ranks that no edit can move."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app.clock import utcnow
from quiz_app.contest import services as svc
from quiz_app.extensions import db
from quiz_app.leaderboard import services as boards
from quiz_app.models import Contest

GRACE = 5


@pytest.fixture
def running(ctx, make_open_contest, make_user):
    """An open contest with three finished attempts of different scores."""
    contest = make_open_contest(days=7)
    users = [make_user(name=f"选手{i}") for i in range(3)]
    contest = db.session.get(Contest, contest.id)
    now = utcnow()
    for i, user in enumerate(users):
        attempt, _ = svc.start_attempt(
            user, contest, now=now, grace_s=GRACE, rng=random.Random(i)
        )
        # Answer the first i + 1 questions right.
        for ans, rev in svc.attempt_items(attempt)[: i + 1]:
            shown = svc.to_display(ans.option_order, rev.answer)
            svc.save_answer(attempt.id, user, ans.position, shown, now=now)
        svc.submit_attempt(
            attempt.id, user, now=now + timedelta(seconds=30 + i), grace_s=GRACE
        )
    return contest, users


def board_view(contest):
    contest = svc.contest_by_id(contest.id)
    view = {}
    for scope in (boards.Scope("all"), boards.Scope("region", region="lunan")):
        board = boards.read_board(contest, scope, limit=10)
        view[scope.kind] = [
            (e.rank, e.name, e.score, e.duration_ms) for e in board.entries
        ]
    view["sql"] = boards.sql_ranking(contest, boards.Scope("all"))
    return view


@pytest.fixture
def late(make_user):
    return make_user(name="后来者")


def test_extending_a_contest_with_results_changes_no_rank_or_score(late, running):
    contest, users = running
    before = board_view(contest)
    assert [row[2] for row in before["all"]] == [30, 20, 10]
    svc.update_contest(
        contest.id, {"ends_at": contest.ends_at + timedelta(days=1)}, now=utcnow()
    )
    boards.rebuild(svc.contest_by_id(contest.id))
    assert board_view(contest) == before
    # A finish after the extension sorts by the same rule: 20 points below 30.
    edited = svc.contest_by_id(contest.id)
    now = utcnow() + timedelta(minutes=1)
    attempt, _ = svc.start_attempt(late, edited, now=now, grace_s=GRACE)
    for ans, rev in svc.attempt_items(attempt)[:2]:
        shown = svc.to_display(ans.option_order, rev.answer)
        svc.save_answer(attempt.id, late, ans.position, shown, now=now)
    svc.submit_attempt(attempt.id, late, now=now + timedelta(seconds=1), grace_s=GRACE)
    after = board_view(contest)["all"]
    assert [row[2] for row in after] == [30, 20, 20, 10]
    assert after[0][:3] == before["all"][0][:3]


def test_scoring_rules_freeze_once_an_attempt_started(running):
    contest, _ = running
    with pytest.raises(svc.RuleFrozen) as err:
        svc.update_contest(contest.id, {"points_per_question": 20}, now=utcnow())
    assert "points_per_question" in err.value.fields
    with pytest.raises(svc.RuleFrozen):
        svc.update_contest(
            contest.id,
            {"type_counts": {"single": 5, "multiple": 3, "judge": 2}},
            now=utcnow(),
        )
    # Title, daily attempts and the certificate line stay editable.
    edited = svc.update_contest(
        contest.id,
        {"title": "新标题", "attempts_per_day": 5, "excellent_min": 60},
        now=utcnow(),
    )
    assert (edited.title, edited.attempts_per_day, edited.excellent_min) == (
        "新标题",
        5,
        60,
    )
    with pytest.raises(svc.InvalidRules) as err:
        svc.update_contest(
            contest.id, {"ends_at": utcnow() - timedelta(minutes=1)}, now=utcnow()
        )
    assert "ends_at" in err.value.fields
    assert db.session.get(Contest, contest.id).points_per_question == 10


def test_rules_before_the_first_start_are_dry_run_against_the_bank(
    ctx, make_bank, make_contest
):
    make_bank()  # 3 categories x (6 single, 4 multiple, 4 judge)
    now = utcnow()
    contest = make_contest(
        starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=8)
    )
    edited = svc.update_contest(
        contest.id,
        {"type_counts": {"single": 12, "multiple": 4, "judge": 4}, "time_limit_s": 600},
        now=now,
    )
    assert edited.questions_per_attempt == 20 and edited.max_score == 200
    assert edited.rank_max_score == 200  # the codec follows until the first start
    with pytest.raises(svc.InvalidRules) as err:
        svc.update_contest(
            contest.id, {"type_counts": {"single": 30, "judge": 2}}, now=now
        )
    assert "single" in err.value.fields["type_counts.single"]
    with pytest.raises(svc.InvalidRules) as err:
        svc.update_contest(contest.id, {"category_quotas": {"health": 15}}, now=now)
    assert "health" in err.value.fields["category_quotas.health"]
    with pytest.raises(svc.InvalidRules):
        svc.update_contest(contest.id, {"unknown": 1}, now=now)
    assert db.session.get(Contest, contest.id).type_counts == {
        "single": 12,
        "multiple": 4,
        "judge": 4,
    }


def test_unknown_contest_is_not_found(ctx):
    with pytest.raises(svc.NotFound):
        svc.update_contest(10**6, {"title": "x"}, now=utcnow())


def test_a_contest_that_opens_later_replaces_the_cached_one(ctx, make_contest):
    """The open contest is cached; a newer one starting later must still take
    over at its start, in every process, without waiting for the cache."""
    now = utcnow()
    first = make_contest(
        starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=3)
    )
    second = make_contest(
        title="第二场",
        starts_at=now + timedelta(seconds=30),
        ends_at=now + timedelta(days=2),
    )
    assert svc.current_contest(now).id == first.id
    assert svc.current_contest(now + timedelta(seconds=31)).id == second.id


@pytest.mark.postgres_only
def test_an_edit_waits_for_a_first_start_in_flight(app, make_open_contest, make_user):
    """A start that has inserted its attempt but not committed yet holds the
    contest row (foreign key share lock): a rules edit waits for it and is then
    refused, instead of changing rules an attempt already runs under."""
    import threading

    import sqlalchemy as sa

    contest = make_open_contest()
    user = make_user()
    with app.app_context():
        conn = db.engine.connect()
        tx = conn.begin()
        conn.execute(
            sa.text(
                "INSERT INTO attempt (user_id, contest_id, started_at, deadline_at)"
                " VALUES (:u, :c, now(), now() + interval '15 minutes')"
            ),
            {"u": user.id, "c": contest.id},
        )
        outcome = {}

        def edit():
            with app.app_context():
                try:
                    svc.update_contest(
                        contest.id, {"points_per_question": 20}, now=utcnow()
                    )
                    outcome["result"] = "changed"
                except svc.RuleFrozen:
                    outcome["result"] = "frozen"
                finally:
                    db.session.remove()

        thread = threading.Thread(target=edit)
        thread.start()
        thread.join(1.0)
        assert thread.is_alive(), "the edit did not wait for the open start"
        tx.commit()
        conn.close()
        thread.join(10)
        assert outcome["result"] == "frozen"
        assert db.session.get(Contest, contest.id).points_per_question == 10


def test_cli_create_checks_the_time_zone_and_the_bank(app, make_bank):
    make_bank()  # 12 judge questions in all
    runner = app.test_cli_runner()
    base = [
        "contest",
        "create",
        "--title",
        "命令行竞赛",
        "--starts",
        "2024-09-15T00:00",
        "--ends",
        "2024-09-22T00:00",
    ]
    bad_zone = runner.invoke(args=[*base, "--timezone", "Mars/Olympus"])
    assert bad_zone.exit_code != 0 and "unknown time zone" in bad_zone.output
    short = runner.invoke(
        args=[*base, "--types", '{"single": 4, "multiple": 3, "judge": 13}']
    )
    assert short.exit_code != 0 and "judge" in short.output
    ok = runner.invoke(
        args=[*base, "--types", '{"single": 4, "multiple": 3, "judge": 3}']
    )
    assert ok.exit_code == 0, ok.output
    with app.app_context():
        titles = [c.title for c in db.session.scalars(select(Contest))]
    assert titles == ["命令行竞赛"]
