"""Certificate use cases: issue a citizen's certificate, read it, verify a code.

A certificate row fixes only who, which contest, the public code and the issue
time. Band and score are derived from the citizen's current best
(contest_best) each time, so a regrade moves every copy, page or image alike.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..contest.errors import ContestError
from ..extensions import db
from ..leaderboard.ranking import mask_name
from ..models import Certificate, Contest, ContestBest, Region, User

#: Crockford's base32: digits and capitals without I, L, O and U, so a code
#: read aloud or typed from paper is not mistaken (O->0, I/L->1 on input).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: 10 symbols of 5 bits: 50 bits, far beyond guessing at the verify rate limit
CODE_LENGTH = 10
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
#: how often a fresh code is drawn when the unique index refuses one
_ISSUE_TRIES = 5

EXCELLENT, PARTICIPATION = "excellent", "participation"
BAND_NAMES = {EXCELLENT: "优秀", PARTICIPATION: "参赛"}
ISSUER = "唐山市科学技术协会"


class NoCertificate(ContestError):
    status, code, message = 404, "no_certificate", "完成一次答题后即可获得证书"


class UnknownCode(ContestError):
    status, code, message = 404, "unknown_certificate", "没有找到这个证书编号"


@dataclass(frozen=True)
class CertificateView:
    """Everything a certificate shows, with the band derived from the best."""

    code: str
    contest_id: int
    contest_title: str
    name: str
    region_code: str
    region_name: str
    score: int
    max_score: int
    excellent_min: int
    issued_at: datetime

    @property
    def band(self) -> str:
        return EXCELLENT if self.score >= self.excellent_min else PARTICIPATION

    @property
    def band_name(self) -> str:
        return BAND_NAMES[self.band]

    @property
    def title(self) -> str:
        return f"{self.band_name}证书"

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)

    @property
    def display_code(self) -> str:
        """The code in two groups of five, easier to read from paper."""
        return f"{self.code[:5]}-{self.code[5:]}"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(raw: str) -> str | None:
    """The canonical code for what someone typed (any case, dashes, spaces,
    O for 0, I or L for 1), or None if it cannot be a code."""
    if len(raw) > 4 * CODE_LENGTH:
        return None
    code = "".join(raw.split()).replace("-", "").upper().translate(_READ_AS)
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def _view_query():
    return (
        select(
            Certificate.code,
            Contest.id,
            Contest.title,
            User.name,
            Region.code,
            Region.name,
            ContestBest.score,
            Contest.questions_per_attempt * Contest.points_per_question,
            Contest.excellent_min,
            Certificate.issued_at,
        )
        .join(Contest, Contest.id == Certificate.contest_id)
        .join(User, User.id == Certificate.user_id)
        .join(Region, Region.code == User.region_code)
        .join(
            ContestBest,
            (ContestBest.contest_id == Certificate.contest_id)
            & (ContestBest.user_id == Certificate.user_id),
        )
    )


def _load(*conditions) -> CertificateView | None:
    row = db.session.execute(_view_query().where(*conditions)).first()
    return CertificateView(*row) if row is not None else None


def certificate_for(user_id: int, contest: Contest) -> CertificateView | None:
    """The citizen's certificate of the contest if it was issued (no writes)."""
    return _load(Certificate.contest_id == contest.id, Certificate.user_id == user_id)


def issue_certificate(user_id: int, contest: Contest, *, now: datetime):
    """The citizen's certificate of the contest, issued now if it is the first
    time. Raises NoCertificate without a finished attempt in the contest.

    One row per citizen and contest (unique), whatever the number of parallel
    requests: a loser of the race reads the winner's row. A code the unique
    index refuses (a 2**-50 chance per issued certificate) is drawn again.
    """
    has_best = db.session.scalar(
        select(ContestBest.user_id).where(
            ContestBest.contest_id == contest.id, ContestBest.user_id == user_id
        )
    )
    if has_best is None:
        raise NoCertificate()
    for _ in range(_ISSUE_TRIES):
        view = certificate_for(user_id, contest)
        if view is not None:
            return view
        db.session.add(
            Certificate(
                contest_id=contest.id, user_id=user_id, code=new_code(), issued_at=now
            )
        )
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # a parallel issue won, or the code was taken
    view = certificate_for(user_id, contest)
    if view is None:  # pragma: no cover - five collisions of 50-bit codes
        raise RuntimeError("could not issue a certificate code")
    return view


def verify(raw_code: str) -> CertificateView:
    """The certificate a code names; raises UnknownCode (also for malformed)."""
    code = normalize_code(raw_code)
    view = _load(Certificate.code == code) if code else None
    if view is None:
        raise UnknownCode()
    return view


def certificate_json(view: CertificateView, *, masked: bool) -> dict:
    """The API shape; `masked` for anyone but the holder."""
    return {
        "code": view.code,
        "contest": view.contest_title,
        "contest_id": view.contest_id,
        "name": view.masked_name if masked else view.name,
        "region": view.region_code,
        "region_name": view.region_name,
        "band": view.band,
        "band_name": view.band_name,
        "score": view.score,
        "max_score": view.max_score,
        "issued_at": view.issued_at,
    }
