"""The SQL fallback: per-citizen bests (contest_best), bounded caches, migration."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from quiz_app import create_app
from quiz_app.clock import local_day
from quiz_app.config import TestConfig
from quiz_app.extensions import db
from quiz_app.leaderboard import fallback
from quiz_app.leaderboard import services as boards
from quiz_app.models import Attempt, ContestBest
from tests.conftest import NOW
from tests.leaderboard.helpers import add_finished, make_users

MIGRATIONS = str(Path(__file__).resolve().parents[2] / "migrations")


def seed(contest, n=40, seed=3):
    users = make_users(n)
    rng = random.Random(seed)
    for u in users:
        for _ in range(rng.randint(1, 3)):
            add_finished(
                contest,
                u.id,
                rng.choice([60, 80, 100]),
                rng.choice([60_000, 120_000, 300_000]),
                NOW + timedelta(hours=rng.choice([0, 13, 26])),
            )
    db.session.commit()
    return users


def page(board):
    return [(e.rank, e.name, e.region, e.score, e.duration_ms) for e in board.entries]


def test_fallback_boards_equal_the_redis_boards(contest):
    users = seed(contest)
    boards.rebuild(contest, force=True)
    scopes = [boards.Scope("all"), boards.Scope("region", region="lubei")]
    scopes += [
        boards.Scope("day", day=local_day(NOW + timedelta(hours=h), contest.timezone))
        for h in (0, 13, 26)
    ]
    for scope in scopes:
        for u in users[::7]:
            live = boards.read_board(contest, scope, limit=20, user_id=u.id)
            sql = boards.sql_board(contest, scope, 20, u.id)
            assert not live.delayed and sql.delayed
            assert page(sql) == page(live), scope
            assert sql.total == live.total and sql.me == live.me, (scope, u.id)


def test_fallback_ranks_from_contest_best_not_the_attempts(app, contest):
    users = seed(contest)
    seen: list[str] = []

    def log(conn, cursor, statement, *args):
        seen.append(statement.lower())

    sa.event.listen(db.engine, "before_cursor_execute", log)
    try:
        for scope in (boards.Scope("all"), boards.Scope("region", region="lunan")):
            boards.sql_board(contest, scope, 10, users[5].id)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", log)
    assert seen and not [s for s in seen if "from attempt" in s or "join attempt" in s]
    # At most one aggregate per board page (citizens per score), none per citizen.
    assert len([s for s in seen if "group by" in s]) == 2
    # Scores and durations shown are the stored ones of the best attempt.
    best = db.session.get(ContestBest, (contest.id, users[5].id))
    me = boards.sql_board(contest, boards.Scope("all"), 10, users[5].id).me
    assert (me.score, me.duration_ms) == (best.score, best.duration_ms)
    attempt = db.session.get(Attempt, best.attempt_id)
    assert attempt.rank_key == max(
        a.rank_key
        for a in db.session.scalars(
            sa.select(Attempt).where(Attempt.user_id == users[5].id)
        )
    )


def test_a_worse_finish_keeps_the_stored_best(contest):
    user = make_users(1)[0]
    good = add_finished(contest, user.id, 90, 60_000, NOW)
    add_finished(contest, user.id, 40, 30_000, NOW + timedelta(hours=1))
    same = add_finished(contest, user.id, 90, 60_000, NOW)  # a full tie
    db.session.commit()
    assert same.rank_key == good.rank_key
    best = db.session.get(ContestBest, (contest.id, user.id))
    assert best.attempt_id == good.id and best.score == 90


def test_sql_caches_are_bounded(app, contest, monkeypatch):
    seed(contest, n=5)
    monkeypatch.setattr(fallback, "PAGE_CACHE_SIZE", 4)
    monkeypatch.setattr(fallback, "DAY_RANK_CACHE_SIZE", 3)
    boards.reset_caches()
    day = boards.Scope("day", day=local_day(NOW, contest.timezone))
    for limit in range(1, 30):
        boards.sql_board(contest, boards.Scope("all"), limit, None)
        boards.sql_board(contest, day, 10, limit)
    assert fallback.cache_info() == {"pages": 4, "day_ranks": 3}


def test_migration_fills_contest_best_from_finished_attempts(
    blank_database_url, redis_server
):
    other = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=blank_database_url,
        REDIS_URL=redis_server.connection_url,
        RATELIMIT_STORAGE_URI=redis_server.connection_url,
    )
    t = NOW.replace(tzinfo=None)
    with other.app_context():
        upgrade(directory=MIGRATIONS, revision="0001")
        run = db.session.execute
        run(
            sa.text(
                "INSERT INTO region VALUES ('lunan', '路南区', 'district', NULL, 1)"
            )
        )
        for uid in (1, 2):
            run(
                sa.text(
                    'INSERT INTO "user" (id, phone, name, region_code, password_hash,'
                    " role, public_ranking, session_token, disabled, created_at)"
                    " VALUES (:id, :phone, '张三', 'lunan', 'x', 'citizen', true,"
                    " 't', false, :t)"
                ),
                {"id": uid, "phone": f"1390000000{uid}", "t": t},
            )
        run(
            sa.text(
                "INSERT INTO contest (id, title, description, starts_at, ends_at,"
                " timezone, time_limit_s, questions_per_attempt, attempts_per_day,"
                " points_per_question, type_counts, category_quotas, created_at)"
                " VALUES (1, 'c', '', :s, :e, 'Asia/Shanghai', 900, 10, 3, 10,"
                " '{}', '{}', :s)"
            ),
            {"s": t - timedelta(days=1), "e": t + timedelta(days=5)},
        )
        # user 1: keys 500, 900, 900 (tie: the lower id counts), an open one;
        # user 2: only an open attempt.
        for aid, uid, key, score in [
            (1, 1, 500, 50),
            (2, 1, 900, 90),
            (3, 1, 900, 90),
            (4, 1, None, None),
            (5, 2, None, None),
        ]:
            run(
                sa.text(
                    "INSERT INTO attempt (id, user_id, contest_id, started_at,"
                    " deadline_at, finished_at, finish_kind, score, correct_count,"
                    " duration_ms, rank_key) VALUES (:id, :uid, 1, :t, :d, :f, :k,"
                    " :score, 0, :dur, :key)"
                ),
                {
                    "id": aid,
                    "uid": uid,
                    "t": t,
                    "d": t + timedelta(minutes=15),
                    "f": t + timedelta(minutes=aid) if key else None,
                    "k": "submitted" if key else None,
                    "score": score,
                    "dur": 1000 * aid if key else None,
                    "key": key,
                },
            )
        db.session.commit()
        upgrade(directory=MIGRATIONS, revision="0004")
        rows = db.session.execute(
            sa.text(
                "SELECT contest_id, user_id, region_code, rank_key, score,"
                " duration_ms, attempt_id FROM contest_best"
            )
        ).all()
        assert [tuple(r) for r in rows] == [(1, 1, "lunan", 900, 90, 2000, 2)]
        db.session.remove()
        db.engine.dispose()


def test_the_rebuild_command_can_recompute_contest_best(app, contest):
    users = seed(contest, n=6)
    want = boards.sql_ranking(contest, boards.Scope("all"))
    db.session.execute(sa.delete(ContestBest))  # e.g. attempts edited by hand
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["leaderboard", "rebuild", "--best"])
    assert result.exit_code == 0, result.output
    assert "6 citizens' bests recomputed" in result.output
    got = db.session.execute(
        sa.select(ContestBest.user_id, ContestBest.rank_key).order_by(
            ContestBest.rank_key.desc(), ContestBest.user_id
        )
    ).all()
    assert [tuple(r) for r in got] == want and len(want) == len(users)
