"""Migrations carry data over: a 0001 database with questions and attempts
upgrades to revisions without losing what any attempt drew."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from quiz_app import create_app
from quiz_app.config import TestConfig
from quiz_app.extensions import db

MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def test_0002_makes_every_question_revision_1_and_keeps_attempts(
    blank_database_url, redis_server
):
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=blank_database_url,
        REDIS_URL=redis_server.connection_url,
        RATELIMIT_STORAGE_URI=redis_server.connection_url,
    )
    with app.app_context():
        upgrade(directory=MIGRATIONS, revision="0001")
        run = db.session.execute
        run(
            sa.text(
                "INSERT INTO region (code, name, kind, sort_order) "
                "VALUES ('lunan', '路南区', 'district', 0)"
            )
        )
        run(
            sa.text(
                "INSERT INTO category (code, name, description, sort_order) "
                "VALUES ('health', '健康', '', 0)"
            )
        )
        run(
            sa.text(
                "INSERT INTO question (id, ext_id, category_code, type, difficulty,"
                " stem, options, answer, explanation, source, active, updated_at)"
                " VALUES (7, 'health-001', 'health', 'single', 1, '旧题干',"
                " :opts, 'B', '解析', '来源', :t, '2023-09-01 00:00:00')"
            ),
            {"opts": '["甲", "乙", "丙"]', "t": True},
        )
        run(
            sa.text(
                "INSERT INTO contest (id, title, description, starts_at, ends_at,"
                " timezone, time_limit_s, questions_per_attempt, attempts_per_day,"
                " points_per_question, type_counts, category_quotas, created_at)"
                " VALUES (1, 'c', '', '2023-09-16 16:00:00', '2023-09-23 16:00:00',"
                " 'Asia/Shanghai', 900, 20, 3, 5, '{\"single\": 20}', '{}',"
                " '2023-09-01 00:00:00')"
            )
        )
        run(
            sa.text(
                'INSERT INTO "user" (id, phone, name, region_code, password_hash,'
                " role, public_ranking, session_token, disabled, created_at) VALUES"
                " (1, '13900000001', '张三', 'lunan', 'x', 'citizen', :t, 'tok', :f,"
                " '2023-09-01 00:00:00')"
            ),
            {"t": True, "f": False},
        )
        run(
            sa.text(
                "INSERT INTO attempt (id, user_id, contest_id, started_at, deadline_at)"
                " VALUES (1, 1, 1, '2023-09-17 01:00:00', '2023-09-17 01:15:00')"
            )
        )
        run(
            sa.text(
                "INSERT INTO attempt_answer (attempt_id, position, question_id,"
                " option_order, choices, version) VALUES (1, 1, 7, 'CAB', 'B', 2)"
            )
        )
        db.session.commit()

        upgrade(directory=MIGRATIONS)

        rev = run(
            sa.text(
                "SELECT id, number, type, stem, options, answer, explanation"
                " FROM question_revision WHERE question_id = 7"
            )
        ).one()
        assert (rev.number, rev.type, rev.stem, rev.answer) == (
            1,
            "single",
            "旧题干",
            "B",
        )
        q = run(sa.text("SELECT revision, exclusion_group FROM question")).one()
        assert (q.revision, q.exclusion_group) == (1, None)
        item = run(sa.text("SELECT revision_id, choices FROM attempt_answer")).one()
        assert (item.revision_id, item.choices) == (rev.id, "B")
        from quiz_app.models import Contest

        contest = db.session.get(Contest, 1)
        # The codec frozen by the migration is the one the old code computed.
        from quiz_app.leaderboard.ranking import make_codec

        old = make_codec(100, 900, contest.starts_at, contest.ends_at)
        assert contest.codec == old
        assert contest.excellent_min == 80 and contest.multiple_scoring == "exact"
        db.session.remove()
        db.engine.dispose()


@pytest.mark.postgres_only
def test_attempt_answer_pages_keep_room_for_updates(ctx):
    # Answer saves and the marking update each item row; with free room on its
    # page the new row version stays there (a HOT update, no index entries).
    options = db.session.execute(
        sa.text("SELECT reloptions FROM pg_class WHERE relname = 'attempt_answer'")
    ).scalar()
    assert "fillfactor=80" in (options or [])
