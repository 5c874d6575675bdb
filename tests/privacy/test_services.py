"""Privacy services: consent on every board path, the data export, deletion
and the retention purge (real database, real Valkey)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from quiz_app import redis_keys as keys
from quiz_app.auth.services import authenticate, register_citizen
from quiz_app.certificate import services as certs
from quiz_app.extensions import db, redis_client
from quiz_app.leaderboard import services as boards
from quiz_app.leaderboard.ranking import member_id
from quiz_app.models import (
    Attempt,
    AttemptAnswer,
    AuditEvent,
    Certificate,
    Contest,
    ContestBest,
    PracticeRound,
    ResetCode,
    User,
    UserSession,
)
from quiz_app.privacy import services as privacy
from quiz_app.stats import services as stats
from tests.certificate.conftest import finish
from tests.conftest import NOW, TEST_PASSWORD


def names_on(contest_id: int) -> list[str]:
    c = db.session.get(Contest, contest_id)
    return [e.name for e in boards.read_board(c, boards.Scope("all"), limit=10).entries]


def sql_names_on(contest_id: int) -> list[str]:
    c = db.session.get(Contest, contest_id)
    return [e.name for e in boards.sql_board(c, boards.Scope("all"), 10, None).entries]


def test_consent_change_renames_the_redis_and_sql_boards_at_once(
    ctx, contest, finished
):
    assert names_on(contest.id) == ["张*明"]
    assert sql_names_on(contest.id) == ["张*明"]  # caches the SQL page
    user = db.session.get(User, finished.id)

    later = NOW + timedelta(hours=1)
    assert privacy.set_ranking_consent(user, False, now=later, ip="10.0.0.1")
    assert names_on(contest.id) == ["匿名参赛者"]
    assert sql_names_on(contest.id) == ["匿名参赛者"]  # cache dropped
    raw = redis_client.client.hget(keys.board_names(contest.id), member_id(user.id))
    assert raw == "匿名参赛者|lunan"
    # the entry itself did not move
    lunan = boards.Scope("region", "lunan")
    c = db.session.get(Contest, contest.id)
    assert boards.read_board(c, lunan, limit=5, user_id=user.id).me.rank == 1
    row = db.session.get(User, user.id)
    assert (row.public_ranking, row.public_ranking_at) == (False, later)
    # the same value again changes nothing and audits nothing
    assert not privacy.set_ranking_consent(user, False, now=later, ip=None)
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "ranking_consent")
    ).all()
    assert [(e.actor_id, e.outcome, e.ip) for e in events] == [
        (user.id, "withdrawn", "10.0.0.1")
    ]

    assert privacy.set_ranking_consent(user, True, now=later, ip=None)
    assert names_on(contest.id) == ["张*明"]
    assert sql_names_on(contest.id) == ["张*明"]


def test_consent_survives_a_rebuild_and_a_rebuild_uses_it(ctx, contest, finished):
    user = db.session.get(User, finished.id)
    privacy.set_ranking_consent(user, False, now=NOW, ip=None)
    c = db.session.get(Contest, contest.id)
    boards.rebuild(c, force=True)
    assert names_on(contest.id) == ["匿名参赛者"]


def test_staff_accounts_have_no_ranking_consent(ctx, make_user):
    staff = make_user(role="staff")
    with pytest.raises(privacy.PrivacyError) as err:
        privacy.set_ranking_consent(staff, True, now=NOW, ip=None)
    assert err.value.status == 403


def test_personal_data_lists_every_stored_field(ctx, contest, finished):
    data = privacy.personal_data(db.session.get(User, finished.id))
    account = data["account"]
    assert (account["name"], account["phone"], account["region_name"]) == (
        "张三明",
        "13812345678",
        "路南区",
    )
    assert account["public_ranking"] is True
    assert account["public_ranking_at"] == NOW
    assert account["registered_at"] == NOW
    assert len(data["sessions"]) == 1
    [attempt] = data["attempts"]
    assert (attempt["score"], attempt["status"], attempt["answers_saved"]) == (
        40,
        "submitted",
        4,
    )
    [cert] = data["certificates"]
    assert len(cert["code"]) == 10
    assert set(data) == {
        "account",
        "sessions",
        "attempts",
        "certificates",
        "practice",
        "reset_codes",
        "security_log",
    }
    assert "password_hash" not in str(data) and "$argon2" not in str(data)


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_delete_account_removes_identity_and_keeps_anonymous_results(
    ctx, contest, finished, make_user
):
    other = make_user(name="李四", region="lunan", phone="13900000001")
    admin = make_user(role="admin")
    finish(other, contest.id, correct=2)
    code = db.session.scalar(select(Certificate.code))
    db.session.add(
        ResetCode(
            user_id=finished.id,
            code_hash="0" * 64,
            salt="s",
            created_at=NOW,
            expires_at=NOW + timedelta(minutes=10),
        )
    )
    db.session.commit()
    before_stats = stats.region_stats(db.session.get(Contest, contest.id), admin)
    user = db.session.get(User, finished.id)

    with pytest.raises(privacy.PrivacyError):
        privacy.delete_account(user, "wrong-password", now=NOW, ip=None)
    assert db.session.get(User, finished.id).deleted_at is None

    later = NOW + timedelta(days=1)
    privacy.delete_account(user, TEST_PASSWORD, now=later, ip="10.0.0.9")
    db.session.expire_all()
    row = db.session.get(User, finished.id)
    assert row.deleted_at == later and row.anonymised
    assert row.name == privacy.TOMBSTONE_NAME
    assert row.phone == privacy.tombstone_phone(row.id) and len(row.phone) == 11
    assert row.disabled and not row.public_ranking
    assert count(UserSession, UserSession.user_id == row.id) == 0
    assert count(ResetCode, ResetCode.user_id == row.id) == 0
    assert count(Certificate, Certificate.user_id == row.id) == 0
    with pytest.raises(certs.UnknownCode):
        certs.verify(code)
    # results stay, anonymous: attempts, answers, best, board place, figures
    assert count(Attempt, Attempt.user_id == row.id) == 1
    assert count(AttemptAnswer) == 20
    assert count(ContestBest, ContestBest.user_id == row.id) == 1
    assert names_on(contest.id) == ["匿名参赛者", "李*"]
    after_stats = stats.region_stats(db.session.get(Contest, contest.id), admin)
    assert after_stats == before_stats
    # no login, neither by the old phone nor by the tombstone
    assert authenticate("13812345678", TEST_PASSWORD) is None
    assert authenticate(row.phone, TEST_PASSWORD) is None
    # audited by id, without the identity
    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "account_delete")
    ).all()
    assert event.actor_id == row.id
    assert "13812345678" not in f"{event.object}{event.ip}" and "张" not in str(
        event.object
    )
    # the number is free again: a new, different account
    again = register_citizen(
        name="张三明",
        phone="13812345678",
        region="lubei",
        password="another-pass",
        public_ranking=False,
        now=later,
    )
    assert again.id != row.id
    # deleting twice is refused
    with pytest.raises(privacy.PrivacyError) as err:
        privacy.delete_account(row, TEST_PASSWORD, now=later, ip=None)
    assert err.value.status == 409


def test_delete_is_for_citizens_only(ctx, make_user):
    organizer = make_user(role="organizer", password="organizer-pass-1")
    with pytest.raises(privacy.PrivacyError) as err:
        privacy.delete_account(organizer, "organizer-pass-1", now=NOW, ip=None)
    assert err.value.status == 403
    assert db.session.get(User, organizer.id).deleted_at is None


@pytest.fixture
def old_and_new(app, make_bank, make_contest, make_user):
    """An old contest (ended 2022-09-24) with one citizen, the current one with
    another, a citizen of both, one registered long ago who never played,
    and an old staff account."""
    make_bank()
    old = make_contest(
        starts_at=NOW - timedelta(days=366),
        ends_at=NOW - timedelta(days=360),
        title="2022",
    )
    new = make_contest(title="2023")
    with app.app_context():
        people = {
            "old": make_user(name="王一", phone="13700000001"),
            "new": make_user(name="王二", phone="13700000002"),
            "both": make_user(name="王三", phone="13700000003"),
            "idle": make_user(name="王四", phone="13700000004"),
            "staff": make_user(role="staff", phone="13700000005"),
        }
        finish(people["old"], old.id, correct=3, now=NOW - timedelta(days=363))
        finish(people["both"], old.id, correct=3, now=NOW - timedelta(days=363))
        finish(people["both"], new.id, correct=2)
        finish(people["new"], new.id, correct=1)
        # make_user registers everyone at NOW with a session used at NOW:
        # move the old ones' registration and sessions back
        for key in ("old", "both", "idle", "staff"):
            db.session.execute(
                User.__table__.update()
                .where(User.id == people[key].id)
                .values(created_at=NOW - timedelta(days=400))
            )
            db.session.execute(
                UserSession.__table__.update()
                .where(UserSession.user_id == people[key].id)
                .values(
                    created_at=NOW - timedelta(days=400),
                    last_seen_at=NOW - timedelta(days=363),
                )
            )
        db.session.commit()
    return old, new, people


def test_purge_dry_run_counts_and_changes_nothing(ctx, old_and_new):
    _, _, people = old_and_new
    cutoff = NOW - timedelta(days=30)
    report = privacy.purge(cutoff, now=NOW, apply=False)
    assert not report.applied
    assert report.user_ids == sorted([people["old"].id, people["idle"].id])
    assert count(User, User.deleted_at.is_not(None)) == 0


def test_purge_anonymises_only_past_citizens_in_one_go(ctx, old_and_new):
    old, new, people = old_and_new
    old_stats = stats.region_stats(
        db.session.get(Contest, old.id), db.session.get(User, people["staff"].id)
    )
    report = privacy.purge(NOW - timedelta(days=30), now=NOW, apply=True)
    assert report.count == 2
    db.session.expire_all()
    gone = {k for k, u in people.items() if db.session.get(User, u.id).anonymised}
    assert gone == {"old", "idle"}
    assert db.session.get(User, people["staff"].id).name != privacy.TOMBSTONE_NAME
    assert count(UserSession, UserSession.user_id == people["old"].id) == 0
    # the old contest's statistics are unchanged; its board turned anonymous
    assert (
        stats.region_stats(
            db.session.get(Contest, old.id), db.session.get(User, people["staff"].id)
        )
        == old_stats
    )
    assert sorted(names_on(old.id)) == sorted(["匿名参赛者", "王*"])
    [event] = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "privacy_purge")
    ).all()
    assert event.outcome == "ok:2"
    # a second run finds nobody
    assert privacy.purge(NOW - timedelta(days=30), now=NOW, apply=True).count == 0


def test_purge_counts_practice_and_open_attempts_as_activity(ctx, old_and_new, contest):
    _, _, people = old_and_new
    db.session.add(
        PracticeRound(
            user_id=people["idle"].id,
            started_at=NOW - timedelta(days=1),
            day=(NOW - timedelta(days=1)).date(),
            size=5,
        )
    )
    db.session.commit()
    ids = privacy.purge_candidates(NOW - timedelta(days=30))
    assert ids == [people["old"].id]


def test_purge_refuses_a_date_after_now(ctx, old_and_new):
    with pytest.raises(privacy.PrivacyError):
        privacy.purge(NOW + timedelta(days=1), now=NOW, apply=True)
    assert count(User, User.deleted_at.is_not(None)) == 0


def test_purge_command_dry_run_then_yes(app, old_and_new, monkeypatch):
    import quiz_app.privacy.cli as cli

    monkeypatch.setattr(cli, "utcnow", lambda: NOW)
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["privacy", "purge", "--before", "2023-08-01"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: 2 citizen accounts" in dry.output
    with app.app_context():
        assert count(User, User.deleted_at.is_not(None)) == 0
    done = runner.invoke(args=["privacy", "purge", "--before", "2023-08-01", "--yes"])
    assert done.exit_code == 0, done.output
    assert "anonymised 2 citizen accounts" in done.output
    bad = runner.invoke(args=["privacy", "purge", "--before", "2023-13-01"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output
    late = runner.invoke(args=["privacy", "purge", "--before", "2024-01-01"])
    assert late.exit_code != 0 and "not later than today" in late.output
