"""Certificate services: issue once, band from the current best, codes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from quiz_app.certificate import services as certs
from quiz_app.extensions import db
from quiz_app.models import Certificate, Contest
from tests.certificate.conftest import finish
from tests.conftest import NOW


def test_no_certificate_without_a_finished_attempt(ctx, contest, make_user):
    user = make_user()
    with pytest.raises(certs.NoCertificate):
        certs.issue_certificate(user.id, contest, now=NOW)
    # an attempt still open does not count either
    from quiz_app.contest import services as svc

    svc.start_attempt(user, db.session.get(Contest, contest.id), now=NOW, grace_s=5)
    with pytest.raises(certs.NoCertificate):
        certs.issue_certificate(user.id, contest, now=NOW)
    assert db.session.scalar(select(func.count(Certificate.id))) == 0


@pytest.mark.parametrize(
    ("excellent_min", "band"),
    [(29, "excellent"), (30, "excellent"), (31, "participation")],
)
def test_band_at_the_threshold(ctx, contest, make_user, excellent_min, band):
    user = make_user()
    assert finish(user, contest.id, correct=3).score == 30
    db.session.execute(
        update(Contest)
        .where(Contest.id == contest.id)
        .values(excellent_min=excellent_min)
    )
    db.session.commit()
    view = certs.issue_certificate(user.id, contest, now=NOW)
    assert view.score == 30
    assert view.band == band
    assert view.band_name == {"excellent": "优秀", "participation": "参赛"}[band]


def test_issued_once_and_follows_the_best(ctx, contest, make_user):
    user = make_user(name="欧阳小明", region="qianan")
    finish(user, contest.id, correct=1)
    first = certs.issue_certificate(user.id, contest, now=NOW)
    assert (first.score, first.band) == (10, "participation")
    assert (first.name, first.region_name) == ("欧阳小明", "迁安市")
    assert first.masked_name == "欧**明"

    later = NOW + timedelta(hours=3)
    finish(user, contest.id, correct=4, now=later)
    again = certs.issue_certificate(user.id, contest, now=later)
    # same certificate (code, date), the score and band of the new best
    assert (again.code, again.issued_at) == (first.code, NOW)
    assert (again.score, again.band) == (40, "excellent")
    assert db.session.scalar(select(func.count(Certificate.id))) == 1
    assert certs.verify(first.code).score == 40


def test_code_format_and_uniqueness(ctx, contest, make_user):
    codes = set()
    users = [make_user() for _ in range(6)]  # before this session takes locks
    for user in users:
        finish(user, contest.id, correct=0)
        codes.add(certs.issue_certificate(user.id, contest, now=NOW).code)
    assert len(codes) == 6
    for code in codes:
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{10}", code)
    # 10 symbols of a 32-letter alphabet: 50 bits
    assert len(certs.CODE_ALPHABET) == 32 and certs.CODE_LENGTH * 5 >= 40
    drawn = {certs.new_code() for _ in range(2000)}
    assert len(drawn) == 2000
    assert set("".join(drawn)) == set(certs.CODE_ALPHABET)


def test_a_taken_code_is_drawn_again(ctx, contest, make_user, monkeypatch):
    a, b = make_user(), make_user()
    finish(a, contest.id, correct=0)
    finish(b, contest.id, correct=0)
    taken = certs.issue_certificate(a.id, contest, now=NOW).code
    draws = iter([taken, "ABCDEFGHJK"])
    monkeypatch.setattr(certs, "new_code", lambda: next(draws))
    assert certs.issue_certificate(b.id, contest, now=NOW).code == "ABCDEFGHJK"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("abcde-fghjk", "ABCDEFGHJK"),
        (" ABCDE FGHJK ", "ABCDEFGHJK"),
        ("O0IL1ABCDE", "00111ABCDE"),
        ("ABCDEFGHJ", None),
        ("ABCDEFGHJKM", None),
        ("ABCDEFGHJU", None),
        ("ABCDÉFGHJK", None),
        ("x" * 10_000, None),
        ("", None),
    ],
)
def test_normalize_code(typed, expected):
    assert certs.normalize_code(typed) == expected


def test_verify_unknown_code(ctx, contest):
    with pytest.raises(certs.UnknownCode):
        certs.verify("ABCDEFGHJK")
    with pytest.raises(certs.UnknownCode):
        certs.verify("not a code")


def test_parallel_first_views_issue_one_certificate(app, contest, make_user):
    import threading

    user = make_user()
    with app.app_context():
        finish(user, contest.id, correct=2)
    barrier, codes, errors = threading.Barrier(8), [], []

    def first_view():
        with app.app_context():
            try:
                barrier.wait()
                c = db.session.get(Contest, contest.id)
                codes.append(certs.issue_certificate(user.id, c, now=NOW).code)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=first_view) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(codes) == 8 and len(set(codes)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count(Certificate.id))) == 1
