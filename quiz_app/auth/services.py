"""Account rules: validation, registration, authentication, per-device sessions."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets
import unicodedata
from datetime import datetime
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash

from ..db import begin_write
from ..extensions import db
from ..models import ROLES, AuditEvent, Region, User, UserSession
from ..params import MAX_DB_INT, parse_int

# ASCII digits only: `\d` would also accept fullwidth, Arabic-Indic or
# mathematical digits, each a second account for the same number.
PHONE_RE = re.compile(r"^1[3-9][0-9]{9}$")
# Chinese names (with the middle dot of minority names) or Latin letters.
NAME_RE = re.compile(r"^[\u4e00-\u9fff·A-Za-z][\u4e00-\u9fff·A-Za-z ]{0,19}$")
CITIZEN_MIN_PASSWORD = 6
STAFF_MIN_PASSWORD = 10
MAX_PASSWORD = 128
# Refused outright for any account (a short list of the most common ones).
COMMON_PASSWORDS = {
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "111111",
    "000000",
    "666666",
    "888888",
    "123123",
    "654321",
    "password",
    "admin123",
    "qwerty",
    "abc123",
    "a123456",
    "password1",
    "iloveyou",
    "admin",
    "admin1234",
    "qwertyuiop",
    "1qaz2wsx",
    "woaini1314",
    "5201314",
    "147258369",
}
# Argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane):
# memory-hard, and about 4x cheaper per login here than Werkzeug's scrypt
# default, which matters when thousands of citizens log in at the opening.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Argon2id hashes, and Werkzeug hashes of older accounts."""
    if stored.startswith("$argon2"):
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False
    return check_password_hash(stored, password)


# A hash of a random secret: checking against it keeps timing equal for
# unknown phones.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


class FieldError(ValueError):
    """Input for one field breaks a rule; `field` names it, message is Chinese."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class PhoneTaken(FieldError):
    def __init__(self) -> None:
        super().__init__("phone", "该手机号已注册，请直接登录")


def normalize_phone(raw: str) -> str:
    """Fold compatibility forms (fullwidth digits from Chinese input methods,
    mathematical digits) to ASCII and drop spaces, dashes and +86. Whatever
    is left must still match PHONE_RE, which takes ASCII digits only."""
    folded = unicodedata.normalize("NFKC", raw or "")
    return re.sub(r"[\s-]", "", folded).removeprefix("+86")


def check_password_rules(password: str, phone: str, minimum: int) -> None:
    if not isinstance(password, str) or len(password) < minimum:
        raise FieldError("password", f"密码至少 {minimum} 位")
    if len(password) > MAX_PASSWORD:
        raise FieldError("password", f"密码最多 {MAX_PASSWORD} 位")
    if password.lower() in COMMON_PASSWORDS or password == phone:
        raise FieldError("password", "密码太常见或与手机号相同，请换一个")


def identity_problems(name: str | None, phone: str | None) -> list[tuple[str, str]]:
    """(field, message) for a malformed name or phone, all at once (for forms)."""
    problems = []
    name = (name or "").strip()
    if not NAME_RE.fullmatch(name) or len(name) < 2:
        problems.append(("name", "请填写 2-20 个字的真实姓名（汉字或字母）"))
    if not PHONE_RE.fullmatch(normalize_phone(phone or "")):
        problems.append(("phone", "请填写 11 位中国大陆手机号"))
    return problems


def validate_registration(
    name: str, phone: str, region: str, password: str
) -> tuple[str, str]:
    """Check every field; returns (clean name, clean phone) or raises FieldError."""
    name = (name or "").strip()
    phone = normalize_phone(phone)
    if problems := identity_problems(name, phone):
        raise FieldError(*problems[0])
    if not isinstance(region, str) or db.session.get(Region, region) is None:
        raise FieldError("region", "请选择所在区县")
    check_password_rules(password, phone, CITIZEN_MIN_PASSWORD)
    return name, phone


def create_user(
    *,
    name: str,
    phone: str,
    region: str,
    password: str,
    role: str = "citizen",
    public_ranking: bool = False,
    staff_region: str | None = None,
    city_wide: bool = False,
    signup_net: str | None = None,
    now: datetime,
) -> User:
    """Insert a user (commits). A staff account needs exactly one scope:
    `staff_region` or `city_wide`; other roles take neither. Raises FieldError,
    PhoneTaken on a duplicate phone."""
    if role not in ROLES:
        raise FieldError("role", "未知角色")
    if role == "staff" and bool(staff_region) == bool(city_wide):
        raise FieldError(
            "staff_region", "工作人员账号须指定一个管辖区县，或明确设为全市范围"
        )
    if role != "staff" and (staff_region or city_wide):
        raise FieldError("staff_region", "只有工作人员账号有管辖范围")
    user = User(
        name=name,
        phone=phone,
        region_code=region,
        password_hash=hash_password(password),
        role=role,
        public_ranking=bool(public_ranking),
        public_ranking_at=now,
        staff_region_code=staff_region or None,
        city_wide=bool(city_wide),
        signup_net=signup_net,
        created_at=now,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise PhoneTaken()
    return user


def register_citizen(
    *,
    name: str,
    phone: str,
    region: str,
    password: str,
    public_ranking: bool,
    signup_net: str | None = None,
    now: datetime,
) -> User:
    """Validate and create a citizen account. Raises FieldError / PhoneTaken.
    `signup_net` is `network_hash` of the registering address."""
    name, phone = validate_registration(name, phone, region, password)
    if db.session.scalar(select(User.id).where(User.phone == phone)):
        raise PhoneTaken()
    return create_user(
        name=name,
        phone=phone,
        region=region,
        password=password,
        public_ranking=public_ranking,
        signup_net=signup_net,
        now=now,
    )


def network_hash(address: str | None, secret: str) -> str | None:
    """A keyed hash (HMAC-SHA256, 16 hex digits) of the address's network:
    the /24 of an IPv4 address, the /64 of an IPv6 one. The address is not
    kept: only "these accounts came from one network" can be told later."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    prefix = 24 if ip.version == 4 else 64
    net = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    digest = hmac.new(
        secret.encode(), b"signup-net:" + str(net).encode(), hashlib.sha256
    )
    return digest.hexdigest()[:16]


def authenticate(phone: str, password: str) -> User | None:
    """The active user with this phone and password, else None (constant work)."""
    phone = normalize_phone(phone)
    user = (
        db.session.scalar(select(User).where(User.phone == phone))
        if PHONE_RE.fullmatch(phone)
        else None
    )
    if user is None:
        verify_password(_DUMMY_HASH, password or "")
        return None
    if not verify_password(user.password_hash, password or "") or user.disabled:
        return None
    if not user.password_hash.startswith("$argon2") or _hasher.check_needs_rehash(
        user.password_hash
    ):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


# last_seen_at is written at most this often: a write on every request would
# cost each page view a commit for a figure nobody needs to the second.
SESSION_TOUCH_S = 300


def start_session(user: User, *, now: datetime) -> UserSession:
    """A new session for one device (commits); `user.get_id()` then names it."""
    row = UserSession(
        token=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
    )
    db.session.add(row)
    db.session.commit()
    user.session_token = row.token
    return row


def end_session(principal: SessionPrincipal | User) -> None:
    """Revoke the one session `principal` acts in (commits); others stay."""
    db.session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == principal.id,
            UserSession.token == principal.session_token,
        )
        .values(revoked=True)
    )
    db.session.commit()


def revoke_all_sessions(user_id: int) -> int:
    """Revoke every live session of the user (flush only, no commit); returns
    how many were live. The next request of each of them is anonymous."""
    return db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked.is_(False))
        .values(revoked=True)
    ).rowcount


def end_all_sessions(user: User) -> int:
    """Log out everywhere: revoke every session of `user` (commits); returns
    how many were live."""
    count = revoke_all_sessions(user.id)
    db.session.commit()
    return count


def set_disabled(user: User, disabled: bool) -> None:
    """Disable or re-enable an account (commits). Disabling revokes all its
    sessions; enabling does not bring them back."""
    user.disabled = disabled
    if disabled:
        revoke_all_sessions(user.id)
    db.session.commit()


def touch_session(session_id: int, last_seen_at: datetime, *, now: datetime) -> bool:
    """Record use of a session, at most every SESSION_TOUCH_S (commits then);
    True when it was recorded."""
    if (now - last_seen_at).total_seconds() < SESSION_TOUCH_S:
        return False
    begin_write()  # after a GET's deferred read on SQLite
    db.session.execute(
        update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now)
    )
    db.session.commit()
    return True


class SessionPrincipal(NamedTuple):
    """The user id and session token a cookie claims (not yet checked)."""

    id: int
    session_token: str


def session_principal(cookie_id: str | None) -> SessionPrincipal | None:
    """Parse Flask-Login's 'id:token' without touching the database; the hot
    answer path checks the token inside its own single SQL statement."""
    uid, _, token = (cookie_id or "").partition(":")
    user_id = parse_int(uid, lo=1, hi=MAX_DB_INT)
    if user_id is None or not token:
        return None
    return SessionPrincipal(user_id, token)


class Lifetime(NamedTuple):
    """How long a session lives: idle since its last use, and absolute since
    login (seconds)."""

    idle_s: int
    max_s: int


def lifetime_for(role: str, config) -> Lifetime:
    """Citizens stay logged in on their phone for the contest week; the
    accounts that can see personal data or change the bank do not."""
    if role == "citizen":
        return Lifetime(
            config["CITIZEN_SESSION_IDLE_S"], config["CITIZEN_SESSION_MAX_S"]
        )
    return Lifetime(config["STAFF_SESSION_IDLE_S"], config["STAFF_SESSION_MAX_S"])


def session_expired(
    lifetime: Lifetime, created_at: datetime, last_seen_at: datetime, now: datetime
) -> bool:
    # last_seen_at is written at most every SESSION_TOUCH_S, so an idle limit
    # is honoured within that much.
    return (now - last_seen_at).total_seconds() > lifetime.idle_s or (
        now - created_at
    ).total_seconds() > lifetime.max_s


class LoadedSession(NamedTuple):
    user: User
    session_id: int
    last_seen_at: datetime


#: built once: every logged-in request runs it (see load_session)
_LOAD_SESSION = (
    select(User, UserSession.id, UserSession.created_at, UserSession.last_seen_at)
    .join(UserSession, UserSession.user_id == User.id)
    .where(
        UserSession.token == bindparam("p_token"),
        UserSession.user_id == bindparam("p_user"),
        UserSession.revoked.is_(False),
        User.disabled.is_(False),
    )
)


def load_session(
    cookie_id: str | None, *, now: datetime, config
) -> LoadedSession | None:
    """The live session a cookie's 'id:token' names, with its active user: one
    lookup by the unique token index, joined to the user row. A session past
    its role's idle or absolute lifetime (see lifetime_for) is not live."""
    claim = session_principal(cookie_id)
    if claim is None:
        return None
    row = db.session.execute(
        _LOAD_SESSION, {"p_token": claim.session_token, "p_user": claim.id}
    ).first()
    if row is None:
        return None
    user, session_id, created_at, last_seen_at = row
    if session_expired(lifetime_for(user.role, config), created_at, last_seen_at, now):
        return None
    user.session_token = claim.session_token
    return LoadedSession(user, session_id, last_seen_at)


def add_audit(
    action: str,
    *,
    outcome: str,
    actor: User | None = None,
    ip: str | None = None,
    obj: str | None = None,
    now: datetime,
) -> None:
    """Add an audit event to the current transaction (no commit), so that it
    commits or rolls back with the change it records. Control characters are
    stripped."""

    def clean(v: str | None) -> str | None:
        return None if v is None else "".join(ch for ch in v if ch.isprintable())[:200]

    db.session.add(
        AuditEvent(
            at=now,
            actor_id=actor.id if actor else None,
            ip=clean(ip),
            action=action,
            object=clean(obj),
            outcome=outcome,
        )
    )


def audit(
    action: str,
    *,
    outcome: str,
    actor: User | None = None,
    ip: str | None = None,
    obj: str | None = None,
    now: datetime,
) -> None:
    """Append an audit event (commits). Control characters are stripped."""
    begin_write()  # audited GETs (exports) read deferred until here
    add_audit(action, outcome=outcome, actor=actor, ip=ip, obj=obj, now=now)
    db.session.commit()
