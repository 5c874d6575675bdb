"""Shared helpers of the leaderboard tests: citizens and finished attempts."""

from __future__ import annotations

from datetime import timedelta

from quiz_app.extensions import db, redis_client
from quiz_app.leaderboard import services as boards
from quiz_app.leaderboard.ranking import user_id_of
from quiz_app.models import Attempt, User

REGIONS = ["lunan", "lubei", "qianan"]


def codec_of(contest):
    return contest.codec


def add_finished(contest, user_id, score, duration_ms, finished_at):
    key = codec_of(contest).encode(score, duration_ms, finished_at)
    a = Attempt(
        user_id=user_id,
        contest_id=contest.id,
        started_at=finished_at - timedelta(milliseconds=duration_ms),
        deadline_at=finished_at + timedelta(minutes=15),
        finished_at=finished_at,
        finish_kind="submitted",
        score=score,
        correct_count=score // 10,
        duration_ms=duration_ms,
        rank_key=key,
    )
    db.session.add(a)
    db.session.flush()
    boards.record_best(a)  # as a finish does, in its transaction
    return a


def redis_order(key):
    return [
        (user_id_of(m), int(s))
        for m, s in redis_client.client.zrevrange(key, 0, -1, withscores=True)
    ]


def make_users(n):
    users = [
        User(
            phone=f"138{i:08d}",
            name="测试" + chr(0x4E00 + i) + "员",
            region_code=REGIONS[i % 3],
            password_hash="x",
            public_ranking=i % 4 != 0,
        )
        for i in range(n)
    ]
    db.session.add_all(users)
    db.session.flush()
    return users
