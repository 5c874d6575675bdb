"""SQLAlchemy models: the system of record (users, bank, contests, attempts)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .clock import utcnow
from .extensions import db

ROLES = ("citizen", "organizer", "staff", "admin")
QUESTION_TYPES = ("single", "multiple", "judge")
JUDGE_LABELS = ("正确", "错误")  # judge options A and B, never shuffled


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC, on SQLite and PostgreSQL alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> Any:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Region(db.Model):
    """A county-level division or functional zone of Tangshan (loaded from data)."""

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: district, county, city, zone or city_unit
    kind: Mapped[str] = mapped_column(String(16))
    population: Mapped[int | None]
    sort_order: Mapped[int] = mapped_column(default=0)


class Category(db.Model):
    """A knowledge area of the question bank (question_bank/categories.csv)."""

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    sort_order: Mapped[int] = mapped_column(default=0)


class Question(db.Model):
    """One bank item: its stable id and the fields edited in place.

    What a citizen sees and is scored on (type, stem, options, key,
    explanation) lives in numbered revisions; `revision` is the current one.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the stable id of the CSV, e.g. health-017
    ext_id: Mapped[str] = mapped_column(String(64), unique=True)
    category_code: Mapped[str] = mapped_column(ForeignKey("category.code"), index=True)
    difficulty: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    #: exclusion group: questions sharing it never appear in one attempt
    group: Mapped[str | None] = mapped_column("exclusion_group", String(64))
    #: retired questions (False) are never drawn again; open attempts keep them
    active: Mapped[bool] = mapped_column(default=True)
    #: number of the current revision (QuestionRevision.number)
    revision: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    category: Mapped[Category] = relationship()
    current: Mapped[QuestionRevision] = relationship(
        primaryjoin="and_(QuestionRevision.question_id == Question.id, "
        "QuestionRevision.number == foreign(Question.revision))",
        viewonly=True,
        lazy="joined",
    )

    __table_args__ = (CheckConstraint("difficulty BETWEEN 1 AND 3", name="difficulty"),)

    # Read-only views of the current revision (pages, exports).
    @property
    def type(self) -> str:
        return self.current.type

    @property
    def stem(self) -> str:
        return self.current.stem

    @property
    def options(self) -> list[str]:
        return self.current.options

    @property
    def answer(self) -> str:
        return self.current.answer

    @property
    def explanation(self) -> str:
        return self.current.explanation


class QuestionRevision(db.Model):
    """What one revision of a question showed and keyed; never changed once
    written (attempts point at it). `answer` holds original option letters
    (judge: A=正确, B=错误)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"))
    #: 1, 2, ... per question
    number: Mapped[int]
    type: Mapped[str] = mapped_column(String(16))
    stem: Mapped[str] = mapped_column(Text)
    #: option texts in original order (A, B, ...); judge: ["正确", "错误"]
    options: Mapped[list[str]] = mapped_column(JSON)
    answer: Mapped[str] = mapped_column(String(8))
    explanation: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the account that made the change; NULL for files loaded by the CLI
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    __table_args__ = (
        UniqueConstraint("question_id", "number"),
        CheckConstraint("type IN ('single', 'multiple', 'judge')", name="type"),
    )


class CacheEpoch(db.Model):
    """A counter bumped by every edit that per-process caches must see.

    Each process compares it every few seconds (quiz_app.caches) and drops
    what it cached when it moved, so edits reach every host without a restart.
    """

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Contest(db.Model):
    """A contest window with its rules; organizers edit these per contest."""

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    time_limit_s: Mapped[int] = mapped_column(default=900)
    questions_per_attempt: Mapped[int] = mapped_column(default=20)
    attempts_per_day: Mapped[int] = mapped_column(default=3)
    points_per_question: Mapped[int] = mapped_column(default=5)
    #: {"single": 10, "multiple": 5, "judge": 5}; sums to questions_per_attempt
    type_counts: Mapped[dict[str, int]] = mapped_column(JSON)
    #: minimum questions per category {"health": 2, ...}; the rest spread evenly
    category_quotas: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    #: multiple choice scores only when exactly right ("exact")
    multiple_scoring: Mapped[str] = mapped_column(String(16), default="exact")
    #: best score for the 优秀 certificate band
    excellent_min: Mapped[int] = mapped_column(default=80)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the rank-key codec's parameters, fixed when the contest is created so
    #: that editing the window never changes what a stored key means
    rank_max_score: Mapped[int]
    rank_max_duration_ms: Mapped[int] = mapped_column(BigInteger)
    rank_window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    rank_window_ms: Mapped[int] = mapped_column(BigInteger)
    rank_unit_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="window"),
        CheckConstraint("multiple_scoring IN ('exact')", name="multiple_scoring"),
    )

    @property
    def max_score(self) -> int:
        return self.questions_per_attempt * self.points_per_question

    @property
    def codec(self):
        """The frozen rank-key codec (a leaderboard.ranking.KeyCodec)."""
        from .leaderboard.ranking import KeyCodec

        return KeyCodec(
            self.rank_max_score,
            self.rank_max_duration_ms,
            self.rank_window_start,
            self.rank_window_ms,
            self.rank_unit_ms,
        )

    def status(self, now: datetime) -> str:
        """upcoming, open or closed at `now`."""
        if now < self.starts_at:
            return "upcoming"
        if now >= self.ends_at:
            return "closed"
        return "open"


# Staff have exactly one scope (a region or the whole city); others have none.
STAFF_SCOPE_CHECK = (
    "(role = 'staff') = (city_wide OR staff_region_code IS NOT NULL) "
    "AND NOT (city_wide AND staff_region_code IS NOT NULL)"
)


class User(UserMixin, db.Model):
    """Any account; citizens register themselves, the CLI makes the others."""

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(11), unique=True)
    name: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="citizen")
    #: separate consent (PIPL) to appear by masked name on public rankings
    public_ranking: Mapped[bool] = mapped_column(default=False)
    #: when `public_ranking` got its current value (registration or a change)
    public_ranking_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: staff only: the one region this account may see (or city_wide)
    staff_region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    #: staff only: sees every region; a staff account has exactly one scope
    city_wide: Mapped[bool] = mapped_column(default=False, server_default=false())
    disabled: Mapped[bool] = mapped_column(default=False)
    #: set by a staff reset (one-time password): the next login must change it
    must_change_password: Mapped[bool] = mapped_column(
        default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: set when the account was anonymised (deleted by its owner or purged):
    #: name and phone are then a tombstone, and the account is no person
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: citizens: a keyed hash of the registering address's network (/24 for
    #: IPv4, /64 for IPv6), never the address itself; with created_at it shows
    #: many accounts opened from one network in a short time (prize checks)
    signup_net: Mapped[str | None] = mapped_column(String(16))

    region: Mapped[Region] = relationship(foreign_keys=[region_code])

    #: not a column: the token of the UserSession this request acts in, set at
    #: login and by the session loader (no class default, so a stray
    #: `User.session_token` in a query fails loudly)
    session_token: ClassVar[str]

    __table_args__ = (
        CheckConstraint(
            "role IN ('citizen', 'organizer', 'staff', 'admin')", name="role"
        ),
        CheckConstraint(STAFF_SCOPE_CHECK, name="staff_scope"),
        Index("ix_user_signup_net", "signup_net", "created_at"),
        # The county participant search (stats.services.participants): a
        # number by its last four digits, a name by its beginning. LIKE 'x%'
        # can use a PostgreSQL index only with the pattern operator class
        # (unless the database collation is C); SQLite searches with GLOB.
        Index("ix_user_phone_tail", text("substr(phone, 8, 4)")),
        Index(
            "ix_user_name_prefix",
            "name",
            postgresql_ops={"name": "varchar_pattern_ops"},
        ),
    )

    def get_id(self) -> str:
        """What the cookie carries: '<user id>:<session token>'."""
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:
        return not self.disabled

    @property
    def anonymised(self) -> bool:
        return self.deleted_at is not None


class UserSession(db.Model):
    """One logged-in device. The cookie names it by token; logging out revokes
    this row only, "log out everywhere" and disabling revoke them all."""

    id: Mapped[int] = mapped_column(primary_key=True)
    #: random and unique: every request finds its session by this index
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: refreshed at most every few minutes (see auth.services.touch_session)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(default=False)


class ResetCode(db.Model):
    """A password reset code sent by SMS. Only its keyed hash is stored; a
    newer code, a use or too many wrong tries void it (`voided_at`)."""

    __tablename__ = "reset_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    #: HMAC-SHA256 of the code under the app's secret key and `salt`
    code_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: wrong codes entered against this one
    tries: Mapped[int] = mapped_column(default=0)
    #: used, superseded or tried too often; never usable again
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def usable(self, now: datetime) -> bool:
        return self.voided_at is None and now < self.expires_at


class Attempt(db.Model):
    """One timed try at a contest. Status is derived from the stored times."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: min(started_at + time limit, contest end), fixed at start
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: how it finished: submitted by the citizen or expired by the clock
    finish_kind: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[int | None]
    correct_count: Mapped[int | None]
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    #: the leaderboard's composite order key (see leaderboard.ranking); NULL
    #: while open and once disqualified: only attempts with a key count
    rank_key: Mapped[int | None] = mapped_column(BigInteger)
    #: set when an organizer cancelled the result (the score stays visible)
    disqualified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: why, shown to the citizen (不计入成绩：<reason>)
    disqualified_reason: Mapped[str | None] = mapped_column(String(200))
    disqualified_by: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    contest: Mapped[Contest] = relationship()
    answers: Mapped[list[AttemptAnswer]] = relationship(
        order_by="AttemptAnswer.position", back_populates="attempt"
    )

    __table_args__ = (
        # At most one unfinished attempt per citizen and contest, by constraint.
        Index(
            "uq_attempt_one_open",
            "user_id",
            "contest_id",
            unique=True,
            sqlite_where=text("finished_at IS NULL"),
            postgresql_where=text("finished_at IS NULL"),
        ),
        Index("ix_attempt_user_contest_started", "user_id", "contest_id", "started_at"),
        Index("ix_attempt_contest_rank", "contest_id", "rank_key"),
        Index(
            "ix_attempt_open_deadline",
            "deadline_at",
            postgresql_where=text("finished_at IS NULL"),
            sqlite_where=text("finished_at IS NULL"),
        ),
        CheckConstraint(
            "finish_kind IS NULL OR finish_kind IN ('submitted', 'expired')",
            name="finish_kind",
        ),
        # A disqualified attempt is finished and never ranked.
        CheckConstraint(
            "disqualified_at IS NULL OR (finished_at IS NOT NULL AND rank_key IS NULL)",
            name="disqualified",
        ),
    )

    #: not a column: items this request just wrote (drawn or scored), if any;
    #: a class-level default that instances override
    fresh_rows: ClassVar[list | None] = None

    @property
    def status(self) -> str:
        """open, submitted or expired."""
        return self.finish_kind if self.finished_at is not None else "open"

    @property
    def disqualified(self) -> bool:
        return self.disqualified_at is not None


class AttemptAnswer(db.Model):
    """One drawn question of an attempt, its display order and the saved choice."""

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempt.id"))
    #: 1-based display position
    position: Mapped[int]
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"))
    #: the revision drawn: what this attempt shows and is scored against
    revision_id: Mapped[int] = mapped_column(ForeignKey("question_revision.id"))
    #: original letters in display order, e.g. "CADB": shown A is original C
    option_order: Mapped[str] = mapped_column(String(8))
    #: chosen original letters, sorted; NULL = not answered
    choices: Mapped[str | None] = mapped_column(String(8))
    #: bumped on every save; a write with an older version is refused (two tabs)
    version: Mapped[int] = mapped_column(default=0)
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_correct: Mapped[bool | None]

    attempt: Mapped[Attempt] = relationship(back_populates="answers")
    question: Mapped[Question] = relationship()
    revision: Mapped[QuestionRevision] = relationship()

    __table_args__ = (
        UniqueConstraint("attempt_id", "position"),
        UniqueConstraint("attempt_id", "question_id"),
    )


class ContestBest(db.Model):
    """Each citizen's best finished attempt of a contest, upserted in the same
    transaction as every finish; the SQL fallback ranks from it by index."""

    __tablename__ = "contest_best"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    #: the citizen's region when the best was recorded (the region boards' key)
    region_code: Mapped[str] = mapped_column(String(32))
    rank_key: Mapped[int] = mapped_column(BigInteger)
    score: Mapped[int]
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE")
    )

    __table_args__ = (Index("ix_contest_best_attempt", "attempt_id"),)


# Board order (key descending, then user id): the top of a board is an index
# range, and "my rank" counts index entries inside the citizen's score band.
Index(
    "ix_contest_best_rank",
    ContestBest.contest_id,
    ContestBest.rank_key.desc(),
    ContestBest.user_id,
)
Index(
    "ix_contest_best_region_rank",
    ContestBest.contest_id,
    ContestBest.region_code,
    ContestBest.rank_key.desc(),
    ContestBest.user_id,
)


class AuditEvent(db.Model):
    """Security-relevant events: logins, denials, imports, exports, edits.

    Read newest first by the audit log (admin.audit), filtered by actor,
    action and time: one index per filter, each ending in `at`.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32))

    __table_args__ = (
        Index("ix_audit_event_actor_at", "actor_id", "at"),
        Index("ix_audit_event_action_at", "action", "at"),
    )


class ImportStaging(db.Model):
    """An uploaded bank file between its preview and the confirm.

    Holds the checked rows (not the file), the file's SHA-256 and a digest of
    the bank rows they touch at preview time; bound to the organizer who
    uploaded it, usable once and until `expires_at`.
    """

    __tablename__ = "import_staging"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: random: the preview's address (never a guessable id)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    checksum: Mapped[str] = mapped_column(String(64))
    #: digest of the touched questions and the categories at preview time
    bank_digest: Mapped[str] = mapped_column(String(64))
    #: the checked rows (BankRow fields), in file order
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    #: what the preview showed: new ids, revisions and in-place edits with
    #: their changed fields, the unchanged count (bank.staging.plan_import)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: set by the confirm that applied it, or when a newer preview replaced it
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PracticeRound(db.Model):
    """A short unscored practice round: never an attempt, never on a board.

    Its `size` questions count against the citizen's daily practice cap on
    `day` (a calendar day in the contest's time zone) from the moment they
    are drawn, answered or not.
    """

    __tablename__ = "practice_round"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the local day the drawn questions count against
    day: Mapped[date] = mapped_column(Date)
    #: questions drawn (PracticeItem rows)
    size: Mapped[int]

    items: Mapped[list[PracticeItem]] = relationship(
        order_by="PracticeItem.position", back_populates="round"
    )

    __table_args__ = (Index("ix_practice_round_user_day", "user_id", "day"),)


class PracticeItem(db.Model):
    """One drawn question of a practice round and the citizen's first answer.

    The key of `revision_id` is shown only once `answered_at` is set; the
    answer is written by one conditional UPDATE and never changed after.
    """

    __tablename__ = "practice_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("practice_round.id"))
    #: 1-based display position
    position: Mapped[int]
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"))
    #: the revision drawn: shown, keyed and explained
    revision_id: Mapped[int] = mapped_column(ForeignKey("question_revision.id"))
    #: original letters in display order, as on AttemptAnswer
    option_order: Mapped[str] = mapped_column(String(8))
    #: chosen original letters, sorted; NULL until answered
    choices: Mapped[str | None] = mapped_column(String(8))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_correct: Mapped[bool | None]

    round: Mapped[PracticeRound] = relationship(back_populates="items")

    __table_args__ = (UniqueConstraint("round_id", "position"),)


class Certificate(db.Model):
    """A citizen's certificate of a contest: issued once, named by a code.

    Only the identity is stored. The band and score are read from the
    citizen's current best (contest_best) whenever the certificate is shown,
    so a regrade after a key correction is reflected on every copy.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    #: the public verification code (certificate.services.CODE_ALPHABET)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    #: when the citizen first opened the certificate (the date printed on it)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)

    contest: Mapped[Contest] = relationship()
    user: Mapped[User] = relationship()

    __table_args__ = (UniqueConstraint("contest_id", "user_id"),)


class StatsCursor(db.Model):
    """How far the staff rollups have folded: `c<contest id>` holds the attempt
    id up to which every attempt of that contest is counted (its finish too,
    unless it is in stats_pending); `users` the user id up to which
    registrations are counted. The row is also the refresh lock."""

    __tablename__ = "stats_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StatsPending(db.Model):
    """An attempt at or below its contest's stats cursor that was still open
    when a refresh passed it: its start (attempt, participant) is folded, its
    finish (finished, answers) waits for the first refresh after it finishes."""

    __tablename__ = "stats_pending"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id"), primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE"), primary_key=True
    )


class StatsDay(db.Model):
    """Folded attempts per contest, region and local day (contest time zone).

    `attempts` and the two participant counts go by the day an attempt
    started, `finished` by the day it finished. A participant is counted on
    the attempt that is the citizen's first of the contest (`new_participants`)
    or of that day (`day_participants`), so rows add up without double counts.
    """

    __tablename__ = "stats_day"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id"), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    attempts: Mapped[int] = mapped_column(default=0)
    finished: Mapped[int] = mapped_column(default=0)
    new_participants: Mapped[int] = mapped_column(default=0)
    day_participants: Mapped[int] = mapped_column(default=0)


class StatsCategory(db.Model):
    """Folded answers of finished attempts per contest, region and category:
    items drawn (`answered`, a blank counts as wrong) and fully correct."""

    __tablename__ = "stats_category"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id"), primary_key=True)
    region_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    category_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    answered: Mapped[int] = mapped_column(BigInteger, default=0)
    correct: Mapped[int] = mapped_column(BigInteger, default=0)


class StatsSignup(db.Model):
    """Folded citizen registrations per region and UTC quarter hour (any time
    zone's days are whole quarter hours, so each contest sums its own days)."""

    __tablename__ = "stats_signup"

    region_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    registrations: Mapped[int] = mapped_column(default=0)


#: option letters an item statistic counts picks for (the bank allows six)
STAT_LETTERS = "abcdef"


class ItemStat(db.Model):
    """Additive sums of one question revision drawn in one contest, over the
    finished, non-disqualified attempts counted so far (items.services).

    Every column is a sum over counted items, so a batch of attempts is added
    (or, for a regrade or disqualification, subtracted) without rereading the
    rest. T is the attempt's number of other items correct (its total without
    this item), x is 1 when this item is fully correct.
    """

    __tablename__ = "item_stat"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id"), primary_key=True)
    revision_id: Mapped[int] = mapped_column(
        ForeignKey("question_revision.id"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"), index=True)
    #: counted items (n)
    exposures: Mapped[int] = mapped_column(BigInteger, default=0)
    #: of those, not left blank
    answered: Mapped[int] = mapped_column(BigInteger, default=0)
    #: of those, fully correct (sum of x)
    correct: Mapped[int] = mapped_column(BigInteger, default=0)
    #: sum of T, of T squared and of x*T
    sum_t: Mapped[int] = mapped_column(BigInteger, default=0)
    sum_tt: Mapped[int] = mapped_column(BigInteger, default=0)
    sum_xt: Mapped[int] = mapped_column(BigInteger, default=0)
    #: items in the top group (T at or above the contest's fixed threshold)
    top_n: Mapped[int] = mapped_column(BigInteger, default=0)
    # Picks per original option letter, by everyone and by the top group.
    pick_a: Mapped[int] = mapped_column(BigInteger, default=0)
    pick_b: Mapped[int] = mapped_column(BigInteger, default=0)
    pick_c: Mapped[int] = mapped_column(BigInteger, default=0)
    pick_d: Mapped[int] = mapped_column(BigInteger, default=0)
    pick_e: Mapped[int] = mapped_column(BigInteger, default=0)
    pick_f: Mapped[int] = mapped_column(BigInteger, default=0)
    top_a: Mapped[int] = mapped_column(BigInteger, default=0)
    top_b: Mapped[int] = mapped_column(BigInteger, default=0)
    top_c: Mapped[int] = mapped_column(BigInteger, default=0)
    top_d: Mapped[int] = mapped_column(BigInteger, default=0)
    top_e: Mapped[int] = mapped_column(BigInteger, default=0)
    top_f: Mapped[int] = mapped_column(BigInteger, default=0)


class ItemStatState(db.Model):
    """How far a contest's item statistics have counted: every attempt with
    an id up to `watermark` is counted, except the ones in item_stat_pending
    (open when last seen). Its row is also the refresh lock (FOR UPDATE)."""

    __tablename__ = "item_stat_state"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id"), primary_key=True)
    watermark: Mapped[int] = mapped_column(BigInteger, default=0)
    #: when the last refresh finished (the page's "统计更新于")
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: when the last full rebuild finished
    rebuilt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: attempts counted so far
    attempts: Mapped[int] = mapped_column(BigInteger, default=0)


class ItemStatPending(db.Model):
    """An attempt at or below the watermark that was still open when the
    statistics last looked: counted by the first refresh after it finishes."""

    __tablename__ = "item_stat_pending"

    contest_id: Mapped[int] = mapped_column(ForeignKey("contest.id"), primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempt.id", ondelete="CASCADE"), primary_key=True
    )
