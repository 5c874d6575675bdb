"""Privacy fixtures: a contest and a citizen (张三明, 路南区, consented) who
finished one attempt of 40 points and opened the certificate."""

from __future__ import annotations

import pytest

from quiz_app.certificate import services as certs
from quiz_app.extensions import db
from quiz_app.models import Contest
from tests.certificate.conftest import finish
from tests.conftest import NOW


@pytest.fixture
def contest(make_bank, make_contest):
    make_bank()
    return make_contest(excellent_min=30)


@pytest.fixture
def finished(app, contest, make_user):
    citizen = make_user(name="张三明", region="lunan", phone="13812345678")
    with app.app_context():
        finish(citizen, contest.id, correct=4)
        c = db.session.get(Contest, contest.id)
        certs.issue_certificate(citizen.id, c, now=NOW)
    return citizen


def board_names(api) -> list[str]:
    r = api.get("/api/v1/leaderboard?scope=all&limit=10")
    assert r.status_code == 200, r.get_json()
    return [e["name"] for e in r.get_json()["entries"]]
