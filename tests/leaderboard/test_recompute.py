"""Citizens' entries recomputed from SQL: re-recorded after a lost board write,
refreshed (lowered, removed) after a change to stored attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from quiz_app import redis_keys as keys
from quiz_app.clock import local_day
from quiz_app.contest import services as svc
from quiz_app.extensions import db, redis_client
from quiz_app.leaderboard import rebuild as rebuild_mod
from quiz_app.leaderboard import services as boards
from quiz_app.leaderboard.ranking import member_id
from quiz_app.models import Attempt, AttemptAnswer
from tests.conftest import NOW
from tests.leaderboard.helpers import add_finished, codec_of, make_users, redis_order

GRACE = 5


def start(contest, user, now):
    return svc.start_attempt(user, contest, now=now, grace_s=GRACE)[0]


def submit(contest, user, now):
    attempt = start(contest, user, now)
    return svc.submit_attempt(
        attempt.id, user, now=now + timedelta(seconds=30), grace_s=GRACE
    )


def lose_board_write(contest, user):
    """What a crash between the SQL commit and the ZADD leaves behind."""
    r = redis_client.client
    m = member_id(user.id)
    for key in r.scan_iter(match=keys.board_pattern(contest.id)):
        if r.type(key) == "zset":
            r.zrem(key, m)


def entries_of(contest, user):
    """{board key: score} of every board the citizen is on."""
    r = redis_client.client
    m = member_id(user.id)
    out = {}
    for key in r.scan_iter(match=keys.board_pattern(contest.id)):
        if r.type(key) == "zset" and (s := r.zscore(key, m)) is not None:
            out[key] = int(s)
    return out


def expected_entries(contest, user, attempt):
    k = attempt.rank_key
    day = local_day(attempt.finished_at, contest.timezone)
    return {
        keys.board_all(contest.id): k,
        keys.board_region(contest.id, user.region_code): k,
        keys.board_day(contest.id, day): k,
    }


@pytest.fixture
def citizen(make_bank, contest):
    make_bank()
    return make_users(1)[0]


def test_a_repeated_submit_puts_the_citizen_back(contest, citizen):
    done = submit(contest, citizen, NOW)
    lose_board_write(contest, citizen)
    assert entries_of(contest, citizen) == {}
    again = svc.submit_attempt(
        done.id, citizen, now=NOW + timedelta(minutes=1), grace_s=GRACE
    )
    assert again.id == done.id
    assert entries_of(contest, citizen) == expected_entries(contest, citizen, done)


def test_the_get_that_expires_puts_the_best_back(contest, citizen):
    first = submit(contest, citizen, NOW)  # 30 s: better than a timed-out try
    lose_board_write(contest, citizen)
    later = NOW + timedelta(days=1)
    second = start(contest, citizen, later)
    past = second.deadline_at + timedelta(seconds=GRACE + 1)
    got = svc.get_attempt(second.id, citizen, now=past, grace_s=GRACE)
    assert got.status == "expired" and got.rank_key < first.rank_key
    want = expected_entries(contest, citizen, first)
    want[keys.board_day(contest.id, local_day(later, contest.timezone))] = got.rank_key
    assert entries_of(contest, citizen) == want


def test_the_sweeper_puts_the_best_back(contest, citizen):
    first = submit(contest, citizen, NOW)
    lose_board_write(contest, citizen)
    later = NOW + timedelta(days=1)
    second = start(contest, citizen, later)
    db.session.commit()
    past = second.deadline_at + timedelta(seconds=GRACE + 1)
    assert svc.sweep_expired(now=past, grace_s=GRACE) == 1
    want = expected_entries(contest, citizen, first)
    swept = db.session.get(Attempt, second.id)
    want[keys.board_day(contest.id, local_day(later, contest.timezone))] = (
        swept.rank_key
    )
    assert entries_of(contest, citizen) == want


def scopes_of(contest):
    days = {local_day(NOW + timedelta(hours=h), contest.timezone) for h in (0, 13, 26)}
    return (
        [boards.Scope("all")]
        + [boards.Scope("region", region=r) for r in ("lunan", "lubei", "qianan")]
        + [boards.Scope("day", day=d) for d in days]
    )


def assert_boards_follow_sql(contest, users):
    for scope in scopes_of(contest):
        sql = boards.sql_ranking(contest, scope)
        assert redis_order(boards.board_key(contest, scope)) == sql, scope
        fallback = boards.sql_board(contest, scope, 50, None)
        assert [e.rank for e in fallback.entries] == list(range(1, len(sql) + 1))
        assert fallback.total == len(sql), scope
    by_id = {u.id: u for u in users}
    all_sql = boards.sql_ranking(contest, boards.Scope("all"))
    for rank, (uid, _) in enumerate(all_sql, start=1):
        me = boards.sql_board(contest, boards.Scope("all"), 5, uid).me
        assert me.rank == rank, by_id[uid].name


def lower(contest, attempt, score):
    key = codec_of(contest).encode(score, attempt.duration_ms, attempt.finished_at)
    db.session.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id)
        .values(score=score, rank_key=key)
    )
    db.session.commit()


@pytest.fixture
def standings(contest):
    users = make_users(4)  # lunan, lubei, qianan, lunan
    attempts = {
        u.id: [
            add_finished(contest, u.id, 90 - 10 * i, 60_000, NOW),
            add_finished(contest, u.id, 50, 60_000, NOW + timedelta(hours=26)),
        ]
        for i, u in enumerate(users)
    }
    db.session.commit()
    boards.rebuild(contest, force=True)
    return users, attempts


def test_refresh_lowers_a_citizen_everywhere(contest, standings):
    users, attempts = standings
    top = users[0]
    assert boards.sql_ranking(contest, boards.Scope("all"))[0][0] == top.id
    lower(contest, attempts[top.id][0], 20)  # regraded: below everyone
    boards.refresh_users(contest, [top.id])
    assert boards.sql_ranking(contest, boards.Scope("all"))[-1][0] == top.id
    assert_boards_follow_sql(contest, users)
    me = boards.sql_board(contest, boards.Scope("all"), 5, top.id).me
    assert (me.rank, me.score) == (4, 50)  # now the 50 of the second day counts
    live = boards.read_board(contest, boards.Scope("all"), limit=5, user_id=top.id)
    assert not live.delayed and (live.me.rank, live.me.score) == (4, 50)


def test_refresh_removes_a_citizen_without_finishes(contest, standings):
    users, _ = standings
    gone = users[1]
    db.session.execute(delete(AttemptAnswer))
    db.session.execute(delete(Attempt).where(Attempt.user_id == gone.id))
    db.session.commit()
    boards.refresh_users(contest, [gone.id])
    assert entries_of(contest, gone) == {}
    m = member_id(gone.id)
    assert not redis_client.client.hexists(keys.board_names(contest.id), m)
    assert boards.sql_board(contest, boards.Scope("all"), 50, gone.id).me is None
    assert_boards_follow_sql(contest, users)
    assert boards.read_board(contest, boards.Scope("all"), limit=50).total == 3


def test_a_refresh_during_a_rebuild_stays_lowered(contest, standings, monkeypatch):
    users, attempts = standings
    top = users[0]

    def regrade_in_the_window(c):
        lower(c, attempts[top.id][0], 20)
        boards.refresh_users(c, [top.id])

    monkeypatch.setattr(
        rebuild_mod, "_between_snapshot_and_swap", regrade_in_the_window
    )
    boards.rebuild(contest, force=True)  # its snapshot still had the 90
    monkeypatch.undo()
    assert_boards_follow_sql(contest, users)
