"""Reset codes and staff resets, through the services with an explicit `now`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from quiz_app.auth import recovery
from quiz_app.auth import services as accounts
from quiz_app.extensions import db
from quiz_app.models import AuditEvent, ResetCode, User, UserSession
from tests.conftest import NOW, TEST_PASSWORD

SECRET = "test-secret"
NEW = "xin-mima-2023"


def issue(phone, now=NOW):
    return recovery.request_code(phone, secret=SECRET, now=now)


def reset(phone, code, password=NEW, now=NOW):
    return recovery.reset_with_code(phone, code, password, secret=SECRET, now=now)


def live_sessions(user_id: int) -> int:
    return len(
        db.session.scalars(
            select(UserSession).where(
                UserSession.user_id == user_id, UserSession.revoked.is_(False)
            )
        ).all()
    )


def test_code_is_six_digits_and_stored_only_hashed(ctx, make_user):
    user = make_user()
    issued = issue(user.phone)
    assert issued.code.isdigit() and len(issued.code) == 6
    row = db.session.scalar(select(ResetCode).where(ResetCode.user_id == user.id))
    assert issued.code not in row.code_hash and len(row.code_hash) == 64
    assert row.expires_at == NOW + timedelta(minutes=10)


def test_reset_sets_password_ends_every_session_and_is_audited(ctx, make_user):
    user = make_user()
    accounts.start_session(db.session.get(User, user.id), now=NOW)
    assert live_sessions(user.id) == 2
    code = issue(user.phone).code
    reset(user.phone, code, now=NOW + timedelta(minutes=9, seconds=59))
    assert accounts.authenticate(user.phone, NEW) is not None
    assert accounts.authenticate(user.phone, TEST_PASSWORD) is None
    assert live_sessions(user.id) == 0
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.outcome == "ok")
    ).all()
    assert "password_reset" in actions


def test_code_expires_after_ten_minutes(ctx, make_user):
    user = make_user()
    code = issue(user.phone).code
    with pytest.raises(recovery.CodeRejected):
        reset(user.phone, code, now=NOW + timedelta(minutes=10))
    assert accounts.authenticate(user.phone, TEST_PASSWORD) is not None


def test_code_works_once(ctx, make_user):
    user = make_user()
    code = issue(user.phone).code
    reset(user.phone, code)
    with pytest.raises(recovery.CodeRejected):
        reset(user.phone, code, password="another-2023")
    assert accounts.authenticate(user.phone, NEW) is not None


def test_a_new_code_voids_the_previous_one(ctx, make_user):
    user = make_user()
    first = issue(user.phone).code
    second = issue(user.phone, now=NOW + timedelta(minutes=1)).code
    if first != second:
        with pytest.raises(recovery.CodeRejected):
            reset(user.phone, first, now=NOW + timedelta(minutes=2))
    reset(user.phone, second, now=NOW + timedelta(minutes=2))


def test_five_wrong_tries_void_the_code(ctx, make_user):
    user = make_user()
    code = issue(user.phone).code
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(recovery.MAX_TRIES):
        with pytest.raises(recovery.CodeRejected):
            reset(user.phone, wrong)
    with pytest.raises(recovery.CodeRejected):  # even the right code now
        reset(user.phone, code)
    assert accounts.authenticate(user.phone, TEST_PASSWORD) is not None


def test_fewer_wrong_tries_leave_the_code_usable(ctx, make_user):
    user = make_user()
    code = issue(user.phone).code
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(recovery.MAX_TRIES - 1):
        with pytest.raises(recovery.CodeRejected):
            reset(user.phone, wrong)
    reset(user.phone, code)


def test_unknown_phone_gets_no_code_and_the_same_rejection(ctx, make_user):
    make_user(phone="13900000001")
    assert issue("13900000009") is None
    assert db.session.scalar(select(ResetCode)) is None
    with pytest.raises(recovery.CodeRejected) as unknown:
        reset("13900000009", "123456")
    with pytest.raises(recovery.CodeRejected) as known:
        reset("13900000001", "123456")  # registered, but no code asked for
    assert str(unknown.value.message) == str(known.value.message)


def test_weak_new_password_keeps_the_code(ctx, make_user):
    user = make_user()
    code = issue(user.phone).code
    with pytest.raises(accounts.FieldError):
        reset(user.phone, code, password="123456")
    reset(user.phone, code)


def test_malformed_phone_is_a_field_error(ctx):
    with pytest.raises(accounts.FieldError):
        issue("12345")


# Staff resets -------------------------------------------------------------


@pytest.mark.parametrize(
    "staff_kw, allowed",
    [
        ({"role": "staff", "staff_region": "lunan"}, True),
        ({"role": "staff", "staff_region": "lubei"}, False),
        ({"role": "staff", "city_wide": True}, True),
        ({"role": "admin"}, True),
        ({"role": "organizer"}, False),
    ],
)
def test_staff_reset_scope(ctx, make_user, staff_kw, allowed):
    citizen = make_user(region="lunan")
    staff = db.session.get(User, make_user(**staff_kw).id)
    target = db.session.get(User, citizen.id)
    if not allowed:
        with pytest.raises(recovery.OutOfScope):
            recovery.staff_reset_password(staff, target, now=NOW)
        assert accounts.authenticate(citizen.phone, TEST_PASSWORD) is not None
        return
    password = recovery.staff_reset_password(staff, target, now=NOW)
    assert len(password) == 8 and password.isdigit()
    user = accounts.authenticate(citizen.phone, password)
    assert user is not None and user.must_change_password
    assert live_sessions(citizen.id) == 0


def test_staff_reset_is_audited_with_the_actor(ctx, make_user):
    citizen = make_user()
    staff = make_user(role="staff", staff_region="lunan")
    recovery.staff_reset_password(
        db.session.get(User, staff.id), db.session.get(User, citizen.id), now=NOW
    )
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "staff_password_reset")
    )
    assert event.actor_id == staff.id and event.object == f"user:{citizen.id}"


def test_change_after_staff_reset_needs_no_old_password_and_clears_flag(ctx, make_user):
    citizen = make_user()
    staff = make_user(role="staff", city_wide=True)
    target = db.session.get(User, citizen.id)
    temp = recovery.staff_reset_password(
        db.session.get(User, staff.id), target, now=NOW
    )
    user = accounts.authenticate(citizen.phone, temp)
    row = accounts.start_session(user, now=NOW)
    recovery.change_password(
        user, NEW, current_password=None, keep_token=row.token, now=NOW
    )
    assert not db.session.get(User, citizen.id).must_change_password
    assert live_sessions(citizen.id) == 1  # this device stays
    with pytest.raises(accounts.FieldError):  # now the old one is asked for
        recovery.change_password(
            user, "third-pass-1", current_password="wrong", keep_token="", now=NOW
        )
