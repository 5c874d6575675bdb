"""Fixtures of the leaderboard tests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from quiz_app.extensions import db
from quiz_app.models import Contest
from tests.conftest import NOW


@pytest.fixture
def contest(ctx, make_contest):
    c = make_contest(starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=5))
    contest = db.session.get(Contest, c.id)
    db.session.commit()  # release SQLite's write lock for fixtures with own contexts
    return contest
