"""Fixtures of the item statistics tests (the scene is in scene.py)."""

from __future__ import annotations

import pytest

from .scene import seed_three_items


@pytest.fixture
def three_items(ctx, seeded):
    """`seeded`, inside an app context (service tests)."""
    return seeded


@pytest.fixture
def seeded(app, make_bank, make_contest, make_user, config):
    """(contest, users, attempt ids, start time) with ANSWERS submitted; no
    app context stays pushed (client tests: each request gets its own `g`)."""
    config(ITEM_STATS_MIN_EXPOSURES=5, ITEM_STATS_MIN_TOP=3)
    with app.app_context():
        return seed_three_items(make_bank, make_contest, make_user)
