"""Password storage: Argon2id, legacy hashes still verify and are upgraded."""

from __future__ import annotations

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
