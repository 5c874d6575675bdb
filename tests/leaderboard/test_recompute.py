"""Citizens' entries recomputed from SQL: re-recorded after a lost board write,
refreshed (lowered, removed) after a change to stored attempts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from quiz_app import redis_keys as keys
from quiz_app.clock import local_day
from quiz_app.contest import services as svc
from quiz_app.extensions import db, redis_client
from quiz_app.leaderboard.ranking import member_id
from quiz_app.models import Attempt
from tests.conftest import NOW
from tests.leaderboard.helpers import make_users

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
