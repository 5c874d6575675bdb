"""Account services: password storage, phone rules, sessions, staff scope."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash

from quiz_app.auth import services as accounts
from quiz_app.extensions import db
from quiz_app.models import User
from tests.conftest import NOW


def test_legacy_hash_verifies_and_is_upgraded(ctx, make_user):
    user = make_user()
    stored = db.session.get(User, user.id)
    stored.password_hash = generate_password_hash("old-password-1")
    db.session.commit()
    assert accounts.authenticate(user.phone, "wrong-password") is None
    assert accounts.authenticate(user.phone, "old-password-1") is not None
    db.session.expire_all()
    assert db.session.get(User, user.id).password_hash.startswith("$argon2id$")
    assert accounts.authenticate(user.phone, "old-password-1") is not None


def test_disabled_account_cannot_log_in(ctx, make_user):
    user = make_user()
    db.session.get(User, user.id).disabled = True
    db.session.commit()
    assert accounts.authenticate(user.phone, "kexue-2023") is None


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),  # fullwidth (Chinese IME)
        ("𝟏𝟑𝟖𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖", "13812345678"),  # mathematical bold
    ],
)
def test_phone_numbers_fold_to_ascii_digits(raw, expected):
    assert accounts.normalize_phone(raw) == expected
    assert accounts.PHONE_RE.fullmatch(accounts.normalize_phone(raw))


@pytest.mark.parametrize("raw", ["١٣٨١٢٣٤٥٦٧٨", "१३८१२३४५६७८"])
def test_phone_numbers_with_other_digits_are_refused(ctx, raw):
    assert not accounts.PHONE_RE.fullmatch(accounts.normalize_phone(raw))
    with pytest.raises(accounts.FieldError) as exc:
        accounts.validate_registration("张三明", raw, "lunan", "kexue-2023")
    assert exc.value.field == "phone"


def staff_kwargs(**extra):
    return dict(
        name="王工作",
        phone="13800000003",
        region="shizhi",
        password="staff-password-1",
        role="staff",
        now=NOW,
        **extra,
    )


@pytest.mark.parametrize(
    "scope",
    [{}, {"staff_region": "qianan", "city_wide": True}],
    ids=["no scope", "both scopes"],
)
def test_a_staff_account_needs_exactly_one_scope(ctx, scope):
    with pytest.raises(accounts.FieldError) as exc:
        accounts.create_user(**staff_kwargs(**scope))
    assert exc.value.field == "staff_region"
    assert db.session.query(User).count() == 0


def test_only_staff_accounts_have_a_scope(ctx):
    kwargs = {**staff_kwargs(city_wide=True), "role": "organizer"}
    with pytest.raises(accounts.FieldError):
        accounts.create_user(**kwargs)


def test_staff_scope_is_stored_and_enforced_by_the_database(ctx):
    city = accounts.create_user(**staff_kwargs(city_wide=True))
    county = accounts.create_user(
        **{**staff_kwargs(staff_region="qianan"), "phone": "13800000004"}
    )
    assert (city.city_wide, city.staff_region_code) == (True, None)
    assert (county.city_wide, county.staff_region_code) == (False, "qianan")
    county.staff_region_code = None  # neither scope: the check constraint refuses
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    city.staff_region_code = "lunan"  # both scopes
    with pytest.raises(IntegrityError):
        db.session.commit()


def test_stats_scope_reads_the_city_wide_flag(ctx):
    from quiz_app.stats.services import visible_regions

    city = User(role="staff", city_wide=True, staff_region_code=None)
    county = User(role="staff", city_wide=False, staff_region_code="qianan")
    unscoped = User(role="staff", city_wide=False, staff_region_code=None)
    assert len(visible_regions(city)) == 19
    assert [r.code for r in visible_regions(county)] == ["qianan"]
    assert visible_regions(unscoped) == []  # fails closed, never city-wide


@pytest.mark.parametrize(
    "args, ok",
    [
        ([], False),
        (["--city-wide"], True),
        (["--staff-region", "qianan"], True),
        (["--staff-region", "qianan", "--city-wide"], False),
    ],
)
def test_cli_staff_needs_a_region_or_city_wide(app, args, ok):
    result = app.test_cli_runner().invoke(
        args=[
            "user",
            "create",
            "--role",
            "staff",
            "--phone",
            "13800000003",
            "--name",
            "王工作",
            "--password",
            "staff-password-1",
            *args,
        ]
    )
    assert (result.exit_code == 0) is ok, result.output
    with app.app_context():
        user = db.session.query(User).one_or_none()
        if ok:
            assert user.city_wide is ("--city-wide" in args)
            assert user.staff_region_code == ("qianan" if not user.city_wide else None)
        else:
            assert user is None
            assert "--staff-region CODE or --city-wide" in result.output
