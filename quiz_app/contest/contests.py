"""Contests: the current one, creating them, editing them under the freezing
rules, and the frozen rank-key codec."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select

from ..caches import bump_content_epoch, cache
from ..extensions import db
from ..leaderboard.ranking import make_codec
from ..models import QUESTION_TYPES, Attempt, Contest, User
from .errors import BankTooSmall, ContestError, InvalidRules, NotFound, RuleFrozen

#: the rank-key codec covers at least this window, so that extending a running
#: contest keeps ordering finishes by time (beyond it, later finishes share the
#: last time bucket and full ties fall back to the user id: still stable)
RANK_WINDOW_MIN = timedelta(days=60)

#: rules that decide scores and ranks: frozen once an attempt has started
FROZEN_RULES = (
    "starts_at",
    "type_counts",
    "category_quotas",
    "points_per_question",
    "time_limit_s",
    "multiple_scoring",
)
#: editable while the contest runs
LIVE_FIELDS = ("title", "description", "ends_at", "attempts_per_day", "excellent_min")
MULTIPLE_SCORING = ("exact",)


def current_contest(now: datetime) -> Contest | None:
    """The open contest (latest start), else the next upcoming, else the last one.

    An open contest is served from the process cache (every page and API call
    asks for it); anything else is looked up afresh.
    """
    cached, next_start = cache.content("current-contest", lambda: _load_current(now))
    if (
        cached is not None
        and cached.status(now) == "open"
        and (next_start is None or now < next_start)
    ):
        return cached
    return _find_current(now)


def _load_current(now: datetime) -> tuple[Contest | None, datetime | None]:
    """The current contest and the next later start of any contest: from then
    on a newer contest may be the current one, so the cached one is not used."""
    next_start = db.session.scalar(
        select(func.min(Contest.starts_at)).where(Contest.starts_at > now)
    )
    return _detached(_find_current(now)), next_start


def _detached(contest: Contest | None) -> Contest | None:
    if contest is not None:
        db.session.expunge(contest)  # shared read-only across requests
    return contest


def _find_current(now: datetime) -> Contest | None:
    open_ = db.session.scalars(
        select(Contest)
        .where(Contest.starts_at <= now, Contest.ends_at > now)
        .order_by(Contest.starts_at.desc(), Contest.id.desc())
        .limit(1)
    ).first()
    if open_:
        return open_
    upcoming = db.session.scalars(
        select(Contest)
        .where(Contest.starts_at > now)
        .order_by(Contest.starts_at)
        .limit(1)
    ).first()
    if upcoming:
        return upcoming
    return db.session.scalars(
        select(Contest).order_by(Contest.ends_at.desc()).limit(1)
    ).first()


def contest_by_id(contest_id: int) -> Contest | None:
    """A contest from the process cache (read-only; invalidated on edits)."""
    return cache.content(
        ("contest", contest_id), lambda: _detached(db.session.get(Contest, contest_id))
    )


def _check_rules(values: dict[str, Any]) -> dict[str, str]:
    """Shape errors of a full rule set, by field."""
    errors: dict[str, str] = {}
    counts = values["type_counts"]
    if (
        not isinstance(counts, dict)
        or set(counts) - set(QUESTION_TYPES)
        or not all(isinstance(v, int) and 0 <= v <= 200 for v in counts.values())
        or sum(counts.values()) <= 0
    ):
        errors["type_counts"] = (
            "题型数量须为 single/multiple/judge 的非负整数，且总数大于 0"
        )
        return errors
    quotas = values["category_quotas"]
    if not isinstance(quotas, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and v >= 0 for k, v in quotas.items()
    ):
        errors["category_quotas"] = "分类配额须为分类代码到非负整数的映射"
    elif sum(quotas.values()) > sum(counts.values()):
        errors["category_quotas"] = "分类配额之和不能超过每次题目总数"
    if values["ends_at"] <= values["starts_at"]:
        errors["ends_at"] = "结束时间必须晚于开始时间"
    for name, label, top in (
        ("time_limit_s", "答题时限（秒）", 24 * 3600),
        ("attempts_per_day", "每日答题次数", 100),
        ("points_per_question", "每题分值", 1000),
    ):
        v = values[name]
        if not isinstance(v, int) or not 1 <= v <= top:
            errors[name] = f"{label}须为 1 到 {top} 的整数"
    if values["multiple_scoring"] not in MULTIPLE_SCORING:
        errors["multiple_scoring"] = "多选题计分方式只支持 exact（全对才得分）"
    if not isinstance(values["title"], str) or not 1 <= len(values["title"]) <= 200:
        errors["title"] = "标题须为 1 到 200 个字"
    if not errors:
        max_score = sum(counts.values()) * values["points_per_question"]
        ex = values["excellent_min"]
        if ex is not None and (not isinstance(ex, int) or not 0 <= ex <= max_score):
            errors["excellent_min"] = f"优秀分数线须在 0 到 {max_score} 之间"
    return errors


def _dry_run_draw(values: dict[str, Any]) -> None:
    """Draw once against the active bank; raises InvalidRules naming each short
    type (`type_counts.<type>`) or category (`category_quotas.<code>`)."""
    from .drawing import draw_questions, question_pool, shortages

    probe = Contest(
        type_counts=values["type_counts"], category_quotas=values["category_quotas"]
    )
    pool = question_pool()
    short = shortages(probe, pool)
    if short:
        raise InvalidRules(short)
    try:
        draw_questions(probe, pool, random.Random(0))
    except BankTooSmall as exc:
        raise InvalidRules({"type_counts": exc.message}) from None


def _freeze_codec(contest: Contest) -> None:
    """Fix the rank-key codec's parameters (window with headroom)."""
    window_end = max(contest.ends_at, contest.starts_at + RANK_WINDOW_MIN)
    codec = make_codec(
        contest.max_score, contest.time_limit_s, contest.starts_at, window_end
    )
    contest.rank_max_score = codec.max_score
    contest.rank_max_duration_ms = codec.max_duration_ms
    contest.rank_window_start = codec.window_start
    contest.rank_window_ms = codec.window_ms
    contest.rank_unit_ms = codec.unit_ms


def create_contest(
    *,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    time_limit_s: int = 900,
    type_counts: dict[str, int] | None = None,
    points_per_question: int = 5,
    attempts_per_day: int = 3,
    category_quotas: dict[str, int] | None = None,
    timezone: str = "Asia/Shanghai",
    description: str = "",
    multiple_scoring: str = "exact",
    excellent_min: int | None = None,
    check_bank: bool = False,
    actor: User | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> Contest:
    """Create a contest after checking its rules (and, with `check_bank`, a dry
    run of the draw against the active bank). Commits, with an audit event
    when an `actor` is given; raises InvalidRules."""
    values: dict[str, Any] = {
        "title": title,
        "description": description,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "time_limit_s": time_limit_s,
        "type_counts": type_counts or {"single": 10, "multiple": 5, "judge": 5},
        "category_quotas": category_quotas or {},
        "points_per_question": points_per_question,
        "attempts_per_day": attempts_per_day,
        "multiple_scoring": multiple_scoring,
        "excellent_min": excellent_min,
    }
    errors = _check_rules(values)
    if errors:
        raise InvalidRules(errors)
    if excellent_min is None:  # default: 80 % of the full score
        total = sum(values["type_counts"].values()) * points_per_question
        values["excellent_min"] = total * 4 // 5
    if check_bank:
        _dry_run_draw(values)
    contest = Contest(
        timezone=timezone,
        questions_per_attempt=sum(values["type_counts"].values()),
        **values,
    )
    try:
        _freeze_codec(contest)
    except ValueError:
        raise InvalidRules(
            {"ends_at": "竞赛时间过长或分值过大，无法精确排名"}
        ) from None
    db.session.add(contest)
    bump_content_epoch()
    _commit(contest, "contest_create", actor, ip, now, f"title:{title}")
    return contest


def _commit(
    contest: Contest,
    action: str,
    actor: User | None,
    ip: str | None,
    now: datetime | None,
    detail: str,
) -> None:
    """Commit the change; with an actor, together with its audit event."""
    if actor is None:
        db.session.commit()
        return
    from ..auth.services import audit
    from ..clock import utcnow

    db.session.flush()  # the new contest's id
    audit(
        action,
        outcome="ok",
        actor=actor,
        ip=ip,
        obj=f"contest:{contest.id} {detail}",
        now=now or utcnow(),
    )


def contest_started(contest: Contest) -> bool:
    """True once any attempt of the contest has started (rules are frozen)."""
    return bool(
        db.session.scalar(select(exists().where(Attempt.contest_id == contest.id)))
    )


def update_contest(
    contest_id: int,
    changes: dict[str, Any],
    *,
    now: datetime,
    actor: User | None = None,
    ip: str | None = None,
) -> Contest:
    """Apply `changes` (field -> new value) to a contest. Commits.

    Before the first attempt every rule may change; after it, changing a
    rule of FROZEN_RULES raises RuleFrozen (409). `ends_at` may not move
    before `now`; an unknown contest raises NotFound. Rules the bank cannot satisfy
    raise InvalidRules (422) naming the short type or category. The rank-key
    codec is never changed once an attempt exists, so no stored key, score
    or board order moves. With an `actor`, the change is audited in the
    same commit.
    """
    # The row lock orders this edit against the first start: inserting an
    # attempt takes a key-share lock on its contest (the foreign key), which
    # waits for this one, so "no attempt yet" cannot go stale before commit.
    contest = db.session.scalars(
        select(Contest)
        .where(Contest.id == contest_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if contest is None:
        raise NotFound("竞赛不存在")
    try:
        unknown = set(changes) - set(FROZEN_RULES) - set(LIVE_FIELDS)
        if unknown:
            raise InvalidRules({k: "不能修改此字段" for k in sorted(unknown)})
        started = contest_started(contest)
        if started:
            frozen = [
                k
                for k in FROZEN_RULES
                if k in changes and changes[k] != getattr(contest, k)
            ]
            if frozen:
                raise RuleFrozen(frozen)
        values = {k: getattr(contest, k) for k in (*FROZEN_RULES, *LIVE_FIELDS)}
        values.update(changes)
        errors = _check_rules(values)
        if "ends_at" in changes and values["ends_at"] < now:
            errors["ends_at"] = "结束时间不能早于现在"
        if errors:
            raise InvalidRules(errors)
        rules_changed = any(
            k in changes and changes[k] != getattr(contest, k)
            for k in ("type_counts", "category_quotas")
        )
        if rules_changed:
            _dry_run_draw(values)
        edited = sorted(k for k in changes if changes[k] != getattr(contest, k))
        for key, value in changes.items():
            setattr(contest, key, value)
        contest.questions_per_attempt = sum(contest.type_counts.values())
        if not started:
            try:
                _freeze_codec(contest)
            except ValueError:
                raise InvalidRules(
                    {"ends_at": "竞赛时间过长或分值过大，无法精确排名"}
                ) from None
    except ContestError:
        db.session.rollback()  # release the row lock; nothing changed
        raise
    bump_content_epoch()
    _commit(contest, "contest_edit", actor, ip, now, f"fields:{','.join(edited)}")
    return contest
