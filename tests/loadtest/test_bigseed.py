"""The city-scale seeder the benchmarks share: small, but the same SQL."""

from __future__ import annotations

import sys
from datetime import UTC
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "loadtest"))

pytestmark = pytest.mark.postgres_only


def test_seeded_rows_are_consistent(blank_database_url, redis_server):
    from bigseed import make_app, seed

    from quiz_app.extensions import db
    from quiz_app.models import Contest

    app = make_app(blank_database_url, redis_server.connection_url)
    info = seed(app, attempts=600, citizens=250, batch=250, log=lambda _: None)
    assert (info.attempts, info.answers) == (600, 12000)
    with app.app_context():
        q = db.session.execute
        contest = db.session.get(Contest, info.contest_id)
        codec = contest.codec
        # Every citizen has at least one attempt; every attempt 20 distinct items.
        assert q(sa.text("SELECT count(DISTINCT user_id) FROM attempt")).scalar() == 250
        per = q(
            sa.text(
                "SELECT count(*), count(DISTINCT question_id) FROM attempt_answer "
                "GROUP BY attempt_id"
            )
        ).all()
        assert len(per) == 600 and all(n == d == 20 for n, d in per)
        # Type mix follows the contest's rules.
        mix = dict(
            q(
                sa.text(
                    "SELECT r.type, count(*) FROM attempt_answer a "
                    "JOIN question_revision r ON r.id = a.revision_id GROUP BY 1"
                )
            ).all()
        )
        assert mix == {t: n * 600 for t, n in contest.type_counts.items()}
        # Correct answers are exactly the keyed ones, and scores add up.
        wrong = q(
            sa.text(
                "SELECT count(*) FROM attempt_answer a JOIN question_revision r "
                "ON r.id = a.revision_id "
                "WHERE a.is_correct IS DISTINCT FROM "
                "coalesce(a.choices = r.answer, false)"
            )
        ).scalar()
        assert wrong == 0
        rows = q(
            sa.text(
                "SELECT a.score, a.correct_count, a.duration_ms, a.finished_at, "
                "a.rank_key, (SELECT count(*) FROM attempt_answer x "
                "WHERE x.attempt_id = a.id AND x.is_correct) FROM attempt a"
            )
        ).all()
        for score, correct, dur, fin, key, counted in rows:
            assert correct == counted and score == correct * 5
            assert key == codec.encode(score, dur, fin.replace(tzinfo=UTC))
        # The correct rates are neither trivial nor flat.
        rate = q(sa.text("SELECT avg(is_correct::int) FROM attempt_answer")).scalar()
        assert 0.5 < float(rate) < 0.9
        # contest_best: one row per citizen, their best key.
        best = q(
            sa.text(
                "SELECT count(*) FROM contest_best b WHERE b.rank_key = "
                "(SELECT max(rank_key) FROM attempt a WHERE a.user_id = b.user_id)"
            )
        ).scalar()
        assert best == 250
        assert q(sa.text("SELECT count(*) FROM region WHERE population > 0")).scalar()
        db.session.remove()
        db.engine.dispose()
