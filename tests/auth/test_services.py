"""Account services: password storage, phone rules, sessions, staff scope."""

from __future__ import annotations

import pytest
from werkzeug.security import generate_password_hash

from quiz_app.auth import services as accounts
from quiz_app.extensions import db
from quiz_app.models import User


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
