"""Staff figures: participation, days, scores, knowledge gaps and the prize
list of a contest, scoped to what a staff account may see.

Figures that add up come from the rollups (stats.rollup) plus the unfolded
tail; figures of each citizen's best come from contest_best (one row per
citizen, kept by the finish path). A contest's figures are computed once per
STATS_CACHE_S in each process (one computation at a time) and then filtered
by scope in memory, so many staff polling costs one set of small queries.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cachetools import TTLCache
from flask import current_app
from sqlalchemy import and_, func, literal_column, or_, select

from ..auth.services import normalize_phone
from ..clock import day_bounds, iso
from ..db import end_transaction
from ..extensions import db
from ..models import (
    Attempt,
    Category,
    Contest,
    ContestBest,
    Region,
    StatsCategory,
    StatsCursor,
    StatsDay,
    StatsSignup,
    User,
)
from . import rollup

#: a full score in less than this looks too fast to be read (prize checks)
FAST_FULL_MS = 60_000
#: this many accounts from one network within SHARED_NET_WINDOW of each other
SHARED_NET_MIN = 5
SHARED_NET_WINDOW = timedelta(hours=1)
#: the prize list's longest page
MAX_WINNERS = 1000
#: attempts (and accounts) past the rollup cursor folded on a read at most;
#: more only after a bulk load, until `flask stats refresh` or the on-read
#: refreshes catch up (the figures say they are incomplete meanwhile)
TAIL_LIMIT = 50_000


class ScopeError(Exception):
    status = 403
    code = "forbidden_region"
    message = "只能查看本区县的数据"


class UnknownRegion(ScopeError):
    status = 404
    code = "unknown_region"
    message = "没有这个区县"


# --------------------------------------------------------------------- scope


def is_city_wide(staff: User) -> bool:
    return staff.role == "admin" or (staff.role == "staff" and staff.city_wide)


def visible_regions(staff: User) -> list[Region]:
    """All regions for city-wide staff and admins; one for region-scoped staff
    (a staff account without either scope sees nothing)."""
    q = select(Region).order_by(Region.sort_order)
    if not is_city_wide(staff):
        q = q.where(Region.code == staff.staff_region_code)
    return list(db.session.scalars(q))


def resolve_region(staff: User, code: str | None) -> Region | None:
    """The region a request is about: None for the whole city (city-wide
    staff without `code`). Region staff always get their own region; naming
    another is ScopeError (403), an unknown code UnknownRegion (404)."""
    if code is not None and not (code.isascii() and 0 < len(code) <= 32):
        raise UnknownRegion()
    region = db.session.get(Region, code) if code else None
    if code and region is None:
        raise UnknownRegion()
    if is_city_wide(staff):
        return region
    if region is not None and region.code != staff.staff_region_code:
        raise ScopeError()
    return db.session.get(Region, staff.staff_region_code)


def contest_choices(now: datetime) -> list[dict[str, Any]]:
    """Every contest for the picker, latest start first, with its status."""
    contests = db.session.scalars(
        select(Contest).order_by(Contest.starts_at.desc(), Contest.id.desc())
    )
    return [{"id": c.id, "title": c.title, "status": c.status(now)} for c in contests]


# ------------------------------------------------------------------ snapshot


@dataclass
class Snapshot:
    """One contest's figures for every region (small: regions x days, etc.)."""

    contest_id: int
    computed_at: datetime
    #: (region, day) -> [attempts, finished, new participants, day participants]
    days: dict[tuple[str, date], list[int]] = field(default_factory=dict)
    #: (region, category) -> [answered, correct]
    cats: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    #: (region, contest day) -> new registrations
    signups: dict[tuple[str, date], int] = field(default_factory=dict)
    #: region -> citizens registered
    registered: dict[str, int] = field(default_factory=dict)
    #: (region, best score) -> citizens
    best: dict[tuple[str, int], int] = field(default_factory=dict)
    #: False while the rollups are far behind (after a bulk load): attempts
    #: beyond TAIL_LIMIT past the cursor are not counted yet
    complete: bool = True
    #: what this computation folded in memory on top of the rollups
    tail: rollup.Tail | None = None


_lock = threading.Lock()
_cache: TTLCache | None = None
_computing: dict[int, threading.Lock] = defaultdict(threading.Lock)


def clear_cache() -> None:
    global _cache
    with _lock:
        _cache = None


def snapshot(contest: Contest, *, now: datetime) -> Snapshot:
    """The contest's figures, from this process's cache if younger than
    STATS_CACHE_S; one thread computes while the others wait for it."""
    global _cache
    ttl = current_app.config["STATS_CACHE_S"]
    if ttl <= 0:
        return compute_snapshot(contest, now=now)
    with _lock:
        if _cache is None or _cache.ttl != ttl:
            _cache = TTLCache(maxsize=64, ttl=ttl)
        cache = _cache
        hit = cache.get(contest.id)
        gate = _computing[contest.id]
    if hit is not None:
        return hit
    with gate:
        with _lock:
            hit = cache.get(contest.id)
        if hit is not None:
            return hit
        snap = compute_snapshot(contest, now=now)
        with _lock:
            cache[contest.id] = snap
        return snap


def _due(name: str, now: datetime, every: timedelta) -> bool:
    seen = db.session.scalar(
        select(StatsCursor.updated_at).where(StatsCursor.name == name)
    )
    return seen is None or now - seen >= every


def compute_snapshot(contest: Contest, *, now: datetime) -> Snapshot:
    """Rollups (refreshed first when due) plus the tail, and contest_best.
    Ends the transaction it read in (the rollup cursors' FOR SHARE lock)."""
    every = timedelta(seconds=current_app.config["STATS_REFRESH_S"])
    if _due(rollup.contest_cursor(contest.id), now, every) or _due(
        rollup.USERS_CURSOR, now, every
    ):
        rollup.refresh(contest, now=now, min_age=every)
    snap = Snapshot(contest.id, now)
    # The cursors first: under their lock the tables, the pending list and
    # the positions are of one refresh (see rollup.read_positions).
    position, users_position = rollup.read_positions(contest.id)
    tail = rollup.Fold()
    for r in db.session.execute(
        select(StatsDay).where(StatsDay.contest_id == contest.id)
    ).scalars():
        snap.days[(r.region_code, r.day)] = [
            r.attempts,
            r.finished,
            r.new_participants,
            r.day_participants,
        ]
    for r in db.session.execute(
        select(StatsCategory).where(StatsCategory.contest_id == contest.id)
    ).scalars():
        snap.cats[(r.region_code, r.category_code)] = [r.answered, r.correct]
    snap.tail = rollup.fold_tail(contest, position, tail, limit=TAIL_LIMIT)
    snap.complete = snap.tail.complete
    for key, values in tail.days.items():
        cell = snap.days.setdefault(key, [0, 0, 0, 0])
        for i, v in enumerate(values):
            cell[i] += v
    for key, values in tail.cats.items():
        cell = snap.cats.setdefault(key, [0, 0])
        cell[0] += values[0]
        cell[1] += values[1]

    # Registrations: folded totals and quarter hours of the contest's days.
    snap.registered = dict(
        db.session.execute(
            select(
                StatsSignup.region_code, func.sum(StatsSignup.registrations)
            ).group_by(StatsSignup.region_code)
        ).all()
    )
    first, last = contest_days(contest)[0], contest_days(contest)[-1]
    lo, hi = (
        day_bounds(first, contest.timezone)[0],
        day_bounds(last, contest.timezone)[1],
    )
    tz = ZoneInfo(contest.timezone)
    signups: dict[tuple[str, date], int] = defaultdict(int)
    for region, bucket, n in db.session.execute(
        select(
            StatsSignup.region_code, StatsSignup.bucket, StatsSignup.registrations
        ).where(StatsSignup.bucket >= lo, StatsSignup.bucket < hi)
    ):
        signups[(region, bucket.astimezone(tz).date())] += n
    users = rollup.Fold()
    last_user = rollup.fold_users(users_position, None, users, limit=TAIL_LIMIT)
    if last_user is not None and db.session.scalar(
        select(func.count()).select_from(User).where(User.id > last_user)
    ):
        snap.complete = False
    for (region, bucket), n in users.signups.items():
        snap.registered[region] = snap.registered.get(region, 0) + n
        if lo <= bucket < hi:
            signups[(region, bucket.astimezone(tz).date())] += n
    snap.signups = dict(signups)

    snap.best = {
        (region, score): n
        for region, score, n in db.session.execute(
            select(ContestBest.region_code, ContestBest.score, func.count())
            .where(ContestBest.contest_id == contest.id)
            .group_by(ContestBest.region_code, ContestBest.score)
        )
    }
    end_transaction()  # releases the cursors (nothing was written here)
    return snap


def contest_days(contest: Contest) -> list[date]:
    """The local days the contest window touches (its time zone)."""
    tz = ZoneInfo(contest.timezone)
    first = contest.starts_at.astimezone(tz).date()
    last = (contest.ends_at - timedelta(microseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# ------------------------------------------------------------------- figures


def _rate(part: int, whole: int, digits: int = 4) -> float | None:
    return round(part / whole, digits) if whole else None


def _figures(snap: Snapshot, contest: Contest, codes: set[str]) -> dict[str, Any]:
    attempts = finished = participants = 0
    for (region, _day), (att, fin, new, _d) in snap.days.items():
        if region in codes:
            attempts += att
            finished += fin
            participants += new
    scored = total = full = 0
    for (region, score), n in snap.best.items():
        if region in codes:
            scored += n
            total += score * n
            full += n if score == contest.max_score else 0
    return {
        "registered": sum(snap.registered.get(c, 0) for c in codes),
        "participants": participants,
        "attempts": attempts,
        "finished": finished,
        "scored": scored,
        "avg_best_score": round(total / scored, 1) if scored else None,
        "full_score": full,
        "full_score_rate": _rate(full, scored),
    }


def region_rows(
    contest: Contest, regions: list[Region], *, now: datetime
) -> list[dict[str, Any]]:
    """One row per region: registered, participants (citizens who started an
    attempt), attempts, finished, scored (citizens with a counted best),
    avg_best_score, full_score, full_score_rate (of the scored), population
    and per_10k (participants per 10,000 residents)."""
    snap = snapshot(contest, now=now)
    out = []
    for region in regions:
        row = {"code": region.code, "name": region.name}
        row.update(_figures(snap, contest, {region.code}))
        row["population"] = region.population
        row["per_10k"] = (
            round(row["participants"] * 10_000 / region.population, 2)
            if region.population
            else None
        )
        out.append(row)
    return out


def region_stats(contest: Contest, staff: User, *, now: datetime | None = None):
    """The regions the staff account may see, with their figures."""
    from ..clock import utcnow

    return region_rows(contest, visible_regions(staff), now=now or utcnow())


def summary(
    contest: Contest, region: Region | None, *, now: datetime
) -> dict[str, Any]:
    """City totals (all regions, also shown to region staff as the average to
    compare with) and, for a region, that region's; when computed."""
    snap = snapshot(contest, now=now)
    regions = list(db.session.scalars(select(Region)))
    all_codes = {r.code for r in regions}
    city = _figures(snap, contest, all_codes)
    population = sum(r.population or 0 for r in regions)
    city["population"] = population or None
    city["per_10k"] = (
        round(city["participants"] * 10_000 / population, 2) if population else None
    )
    out: dict[str, Any] = {
        "contest": {
            "id": contest.id,
            "title": contest.title,
            "status": contest.status(now),
            "starts_at": iso(contest.starts_at, contest.timezone),
            "ends_at": iso(contest.ends_at, contest.timezone),
            "max_score": contest.max_score,
            "timezone": contest.timezone,
        },
        "city": city,
        "city_average": {
            k: (round(city[k] / len(regions), 1) if city[k] is not None else None)
            for k in ("registered", "participants", "attempts", "finished")
        },
        "region": None,
        "updated_at": iso(snap.computed_at, contest.timezone),
        "complete": snap.complete,
    }
    if region is not None:
        out["region"] = region_rows(contest, [region], now=now)[0]
    return out


def scope_label(region: Region | None) -> str:
    return region.code if region is not None else "city"


def _codes(region: Region | None) -> set[str]:
    if region is not None:
        return {region.code}
    return set(db.session.scalars(select(Region.code)))


def daily(contest: Contest, region: Region | None, *, now: datetime):
    """Per contest day (its time zone) up to today: participants (citizens who
    started an attempt that day), attempts started, attempts finished,
    registrations."""
    snap = snapshot(contest, now=now)
    codes = _codes(region)
    today = now.astimezone(ZoneInfo(contest.timezone)).date()
    per_day: dict[date, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (code, day), (att, fin, _new, dp) in snap.days.items():
        if code in codes:
            cell = per_day[day]
            cell[0] += dp
            cell[1] += att
            cell[2] += fin
    for (code, day), n in snap.signups.items():
        if code in codes:
            per_day[day][3] += n
    return [
        {
            "date": day.isoformat(),
            "participants": per_day[day][0] if day in per_day else 0,
            "attempts": per_day[day][1] if day in per_day else 0,
            "finished": per_day[day][2] if day in per_day else 0,
            "new_registrations": per_day[day][3] if day in per_day else 0,
        }
        for day in contest_days(contest)
        if day <= today
    ]


def scores(contest: Contest, region: Region | None, *, now: datetime):
    """Histogram of best scores: every possible score, citizens with it."""
    snap = snapshot(contest, now=now)
    codes = _codes(region)
    counts: dict[int, int] = defaultdict(int)
    for (code, score), n in snap.best.items():
        if code in codes:
            counts[score] += n
    step = contest.points_per_question
    return [
        {"score": s, "citizens": counts.get(s, 0)}
        for s in range(0, contest.max_score + 1, step)
    ]


def _category_names() -> dict[str, str]:
    return dict(db.session.execute(select(Category.code, Category.name)).all())


def _category_order() -> list[str]:
    return list(db.session.scalars(select(Category.code).order_by(Category.sort_order)))


def categories(
    contest: Contest, region: Region | None, *, now: datetime, by_region: bool = False
):
    """Knowledge gaps: per category the items drawn in finished attempts and
    the share answered fully correctly (a blank counts as wrong); with
    `by_region`, one row per region and category (regions in scope)."""
    snap = snapshot(contest, now=now)
    codes = _codes(region)
    names = _category_names()
    order = {c: i for i, c in enumerate(_category_order())}
    if by_region:
        region_names = dict(db.session.execute(select(Region.code, Region.name)).all())
        region_order = {
            c: i
            for i, c in enumerate(
                db.session.scalars(select(Region.code).order_by(Region.sort_order))
            )
        }
        rows = [
            {
                "region": code,
                "region_name": region_names.get(code, code),
                "category": cat,
                "name": names.get(cat, cat),
                "answered": answered,
                "correct_rate": _rate(correct, answered),
            }
            for (code, cat), (answered, correct) in snap.cats.items()
            if code in codes and answered
        ]
        rows.sort(
            key=lambda r: (
                region_order.get(r["region"], 999),
                order.get(r["category"], 999),
            )
        )
        return rows
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (code, cat), (answered, correct) in snap.cats.items():
        if code in codes:
            totals[cat][0] += answered
            totals[cat][1] += correct
    return [
        {
            "category": cat,
            "name": names.get(cat, cat),
            "answered": a,
            "correct_rate": _rate(c, a),
        }
        for cat, (a, c) in sorted(totals.items(), key=lambda kv: order.get(kv[0], 999))
        if a
    ]


# ------------------------------------------------------ identities (audited)


def _shared_networks(user_ids: list[int]) -> set[int]:
    """Those of `user_ids` whose registering network registered at least
    SHARED_NET_MIN accounts within SHARED_NET_WINDOW of their own sign-up."""
    mine = db.session.execute(
        select(User.id, User.signup_net, User.created_at).where(
            User.id.in_(user_ids), User.signup_net.is_not(None)
        )
    ).all()
    nets = sorted({r.signup_net for r in mine})
    if not nets:
        return set()
    times: dict[str, list[datetime]] = defaultdict(list)
    for net, created in db.session.execute(
        select(User.signup_net, User.created_at).where(User.signup_net.in_(nets))
    ):
        times[net].append(created)
    flagged = set()
    for uid, net, created in mine:
        near = sum(1 for t in times[net] if abs(t - created) <= SHARED_NET_WINDOW)
        if near >= SHARED_NET_MIN:
            flagged.add(uid)
    return flagged


def winners(
    contest: Contest, region: Region | None, *, limit: int
) -> list[dict[str, Any]]:
    """The top `limit` best attempts in board order (rank key descending, then
    user id: exactly the boards' tie rule), with full identity and flags:
    `fast_full` (a full score in under a minute) and `shared_network` (many
    accounts registered from one network within an hour)."""
    q = (
        select(ContestBest, User.name, User.phone, Region.name.label("region_name"))
        .join(User, User.id == ContestBest.user_id)
        .join(Region, Region.code == ContestBest.region_code)
        .where(ContestBest.contest_id == contest.id)
        .order_by(ContestBest.rank_key.desc(), ContestBest.user_id)
        .limit(limit)
    )
    if region is not None:
        q = q.where(ContestBest.region_code == region.code)
    rows = db.session.execute(q).all()
    shared = _shared_networks([r.ContestBest.user_id for r in rows])
    out = []
    for rank, r in enumerate(rows, start=1):
        best = r.ContestBest
        flags = []
        if best.score == contest.max_score and best.duration_ms < FAST_FULL_MS:
            flags.append("fast_full")
        if best.user_id in shared:
            flags.append("shared_network")
        out.append(
            {
                "rank": rank,
                "name": r.name,
                "phone": r.phone,
                "region": best.region_code,
                "region_name": r.region_name,
                "score": best.score,
                "duration_ms": best.duration_ms,
                "finished_at": iso(best.finished_at, contest.timezone),
                "attempt_id": best.attempt_id,
                "flags": flags,
            }
        )
    return out


#: a number is searched by at least its last four digits (尾号)
PHONE_TAIL = 4
#: or by its beginning from seven digits on (carrier prefix and area block;
#: shorter beginnings match a large share of the city)
PHONE_START = 7
#: what a name may begin with (auth.services.NAME_RE's characters)
NAME_PREFIX_RE = re.compile(r"[\u4e00-\u9fff·A-Za-z][\u4e00-\u9fff·A-Za-z ]*")
SEARCH_HINT = "请输入姓名的开头，或手机号的后 4 位、前 7 位以上或完整号码"


def participant_search(q: str) -> tuple[Any, str | None]:
    """The condition on User that the county search `q` stands for, each an
    index range: digits (full-width and +86 folded, as at registration)
    match a number's end (four or more) or its beginning (seven or more),
    eleven the whole number; anything else is the beginning of a name.
    (None, hint) when `q` cannot match anyone or would match too many to
    be a search; (None, None) for no search."""
    q = " ".join((q or "").split())
    if not q:
        return None, None
    digits = normalize_phone(q)
    if digits.isascii() and digits.isdigit():
        if not PHONE_TAIL <= len(digits) <= 11:
            return None, SEARCH_HINT
        if len(digits) == 11:
            return User.phone == digits, None
        # An anonymised account's stand-in number is no number.
        live = User.deleted_at.is_(None)
        # 8 and 4 as literals, not parameters: only the very expression of
        # ix_user_phone_tail can use it (SQLite compares them literally).
        tail = and_(
            func.substr(User.phone, literal_column("8"), literal_column("4"))
            == digits[-PHONE_TAIL:],
            User.phone.like("%" + digits),
        )
        if len(digits) < PHONE_START:
            return and_(live, tail), None
        pad = 11 - len(digits)
        # A range on the phone index (any collation orders equal-length digit
        # strings like numbers), with LIKE as the exact test.
        start = and_(
            User.phone >= digits + "0" * pad,
            User.phone <= digits + "9" * pad,
            User.phone.like(digits + "%"),
        )
        return and_(live, or_(tail, start)), None
    if not NAME_PREFIX_RE.fullmatch(q):
        return None, SEARCH_HINT
    # No wildcard can be in q. PostgreSQL: LIKE on the varchar_pattern_ops
    # index; SQLite: GLOB on the plain (binary) index (its LIKE would need
    # a NOCASE index).
    if db.engine.dialect.name == "sqlite":
        return User.name.op("GLOB")(q + "*"), None
    return User.name.like(q + "%"), None


def participants(
    contest: Contest,
    region: Region,
    *,
    q: str = "",
    page: int = 1,
    per_page: int = 50,
) -> dict[str, Any]:
    """The region's citizens with a counted best, in board order: name,
    phone, best score, duration, attempts; `q` searches them (see
    participant_search); `hint` says why a search found nobody."""
    conds = [
        ContestBest.contest_id == contest.id,
        ContestBest.region_code == region.code,
    ]
    base = select(ContestBest.user_id)
    match, hint = participant_search((q or "")[:32])
    if hint is not None:
        return {"items": [], "total": 0, "page": 1, "pages": 1, "hint": hint}
    if match is not None:
        base = base.join(User, User.id == ContestBest.user_id)
        conds.append(match)
    total = db.session.scalar(
        select(func.count()).select_from(base.where(*conds).subquery())
    )
    pages = max(1, -(-total // per_page))
    page = min(max(page, 1), pages)
    rows = db.session.execute(
        select(ContestBest, User.name, User.phone)
        .join(User, User.id == ContestBest.user_id)
        .where(*conds)
        .order_by(ContestBest.rank_key.desc(), ContestBest.user_id)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    ids = [r.ContestBest.user_id for r in rows]
    counts = (
        dict(
            db.session.execute(
                select(Attempt.user_id, func.count())
                .where(Attempt.contest_id == contest.id, Attempt.user_id.in_(ids))
                .group_by(Attempt.user_id)
            ).all()
        )
        if ids
        else {}
    )
    items = [
        {
            "name": r.name,
            "phone": r.phone,
            "score": r.ContestBest.score,
            "duration_ms": r.ContestBest.duration_ms,
            "finished_at": iso(r.ContestBest.finished_at, contest.timezone),
            "attempts": counts.get(r.ContestBest.user_id, 0),
        }
        for r in rows
    ]
    return {"items": items, "total": total, "page": page, "pages": pages, "hint": None}
