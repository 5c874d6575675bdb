"""Organizer pages under /admin: the home page, contests (list, create, clone,
edit under the freezing rules) and disqualifying an attempt.

Views stay thin: the form checks shape, the contest services check the rules,
and each service field error is put back next to its form field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from ..auth.decorators import roles_required
from ..auth.services import normalize_phone
from ..clock import day_bounds, local_day, utcnow
from ..extensions import db
from ..leaderboard.ranking import mask_phone
from ..models import Attempt, Category, Contest
from ..params import MAX_DB_INT, parse_int
from . import admin as reads
from . import services as svc
from .disqualify import disqualify_attempt, find_attempts
from .forms import TIME_FORMAT, AttemptSearchForm, DisqualifyForm, contest_form

bp = Blueprint("contest_admin", __name__, url_prefix="/admin")

ORGANIZERS = ("organizer", "admin")
ZONE = "Asia/Shanghai"
#: service field -> form field
FORM_FIELDS = {
    "title": "title",
    "description": "description",
    "starts_at": "starts_at",
    "ends_at": "ends_at",
    "time_limit_s": "time_limit_s",
    "points_per_question": "points",
    "attempts_per_day": "attempts_per_day",
    "multiple_scoring": "multiple_scoring",
    "excellent_min": "excellent_min",
}
FROZEN_NOTE = "已锁定：已有人开始答题，改动会影响已有成绩和排名"


def _categories() -> list[Category]:
    return list(
        db.session.scalars(
            select(Category).order_by(Category.sort_order, Category.code)
        )
    )


def _local(dt: datetime, tz: str) -> str:
    return dt.astimezone(ZoneInfo(tz)).strftime(TIME_FORMAT)


def _form_strings(values: dict[str, Any], tz: str, form) -> dict[str, str]:
    """Service values as the strings the form shows (and posts back)."""
    out = {
        "title": values["title"],
        "description": values["description"] or "",
        "starts_at": _local(values["starts_at"], tz),
        "ends_at": _local(values["ends_at"], tz),
        "time_limit_s": str(values["time_limit_s"]),
        "points": str(values["points_per_question"]),
        "attempts_per_day": str(values["attempts_per_day"]),
        "multiple_scoring": values["multiple_scoring"],
        "excellent_min": str(values["excellent_min"]),
    }
    for qtype in ("single", "multiple", "judge"):
        out[qtype] = str(values["type_counts"].get(qtype, 0))
    quotas = values["category_quotas"] or {}
    for name, code in form.quota_fields.items():
        out[name] = str(quotas[code]) if quotas.get(code) else ""
    return out


def _values(form, tz: str) -> dict[str, Any]:
    """The validated form as service values (aware times, the draw mix)."""
    zone = ZoneInfo(tz)
    return {
        "title": form.title.data.strip(),
        "description": (form.description.data or "").strip(),
        "starts_at": form.starts_at.data.replace(tzinfo=zone),
        "ends_at": form.ends_at.data.replace(tzinfo=zone),
        "time_limit_s": form.time_limit_s.data,
        "points_per_question": form.points.data,
        "attempts_per_day": form.attempts_per_day.data,
        "multiple_scoring": form.multiple_scoring.data,
        "excellent_min": form.excellent_min.data,
        "type_counts": {
            t: getattr(form, t).data
            for t in ("single", "multiple", "judge")
            if getattr(form, t).data
        },
        "category_quotas": {code: f.data for f, code in form.quota_items() if f.data},
    }


def _frozen_form_fields(form) -> set[str]:
    return {
        "starts_at", "single", "multiple", "judge", "points", "time_limit_s",
        "multiple_scoring", *form.quota_fields,
    }  # fmt: skip


def _put_errors(form, fields: dict[str, str]) -> dict[str, list[str]]:
    """Service field errors onto the form fields; the rest by group
    (`mix` for the type counts, `quotas`, `form`)."""
    quota_by_code = {code: name for name, code in form.quota_fields.items()}
    rest: dict[str, list[str]] = {"mix": [], "quotas": [], "form": []}
    for key, message in fields.items():
        head, _, sub = key.partition(".")
        target = FORM_FIELDS.get(key)
        if head == "type_counts" and sub in ("single", "multiple", "judge"):
            target = sub
        elif head == "category_quotas" and sub in quota_by_code:
            target = quota_by_code[sub]
        if target is not None:
            getattr(form, target).errors = [
                *getattr(form, target).errors,
                message,
            ]
        elif head == "type_counts":
            rest["mix"].append(message)
        elif head == "category_quotas":
            rest["quotas"].append(message)
        else:
            rest["form"].append(message)
    return rest


def _render_form(form, *, status=200, contest=None, frozen=False, errors=None, **kw):
    return (
        render_template(
            "contest_admin/form.html",
            form=form,
            contest=contest,
            frozen_fields=_frozen_form_fields(form) if frozen else set(),
            frozen_note=FROZEN_NOTE,
            errors=errors or {"mix": [], "quotas": [], "form": []},
            **kw,
        ),
        status,
    )


@bp.get("/")
@roles_required(*ORGANIZERS)
def home():
    now = utcnow()
    contest = svc.current_contest(now)
    figures = reads.day_figures(contest, now) if contest else None
    counts = {k: len(v) for k, v in reads.contests_by_state(now).items()}
    return render_template(
        "contest_admin/home.html",
        contest=contest,
        now=now,
        figures=figures,
        counts=counts,
        frozen=svc.contest_started(contest) if contest else False,
    )


@bp.get("/contests")
@roles_required(*ORGANIZERS)
def contests():
    now = utcnow()
    groups = reads.contests_by_state(now)
    ids = [c.id for cs in groups.values() for c in cs]
    return render_template(
        "contest_admin/list.html",
        groups=groups,
        started=reads.started_contest_ids(ids),
        now=now,
    )


def _defaults(now: datetime) -> dict[str, Any]:
    """A new contest's starting values: the 2023 rules, from tomorrow, a week."""
    start, _ = day_bounds(local_day(now, ZONE) + timedelta(days=1), ZONE)
    return {
        "title": "",
        "description": "",
        "starts_at": start,
        "ends_at": start + timedelta(days=7),
        "time_limit_s": 900,
        "type_counts": {"single": 10, "multiple": 5, "judge": 5},
        "category_quotas": {},
        "points_per_question": 5,
        "attempts_per_day": 3,
        "multiple_scoring": "exact",
        "excellent_min": 80,
    }


@bp.route("/contests/new", methods=["GET", "POST"])
@roles_required(*ORGANIZERS)
def new_contest():
    now = utcnow()
    cats = _categories()
    source = None
    if request.method == "GET":
        clone_id = parse_int(request.args.get("clone"), lo=1, hi=MAX_DB_INT)
        if clone_id is not None:
            source = db.session.get(Contest, clone_id)
            if source is None:
                abort(404)
        values = reads.clone_values(source, now) if source else _defaults(now)
        form = contest_form(cats, formdata=None)
        form.process(MultiDict(_form_strings(values, ZONE, form)))
        return _render_form(form, source=source, mode="new")[0]
    form = contest_form(cats)
    if not form.validate_on_submit():
        return _render_form(form, status=422, mode="new")
    try:
        contest = svc.create_contest(
            **_values(form, ZONE),
            check_bank=True,
            actor=current_user,
            ip=request.remote_addr,
            now=now,
        )
    except svc.InvalidRules as exc:
        errors = _put_errors(form, exc.fields)
        return _render_form(form, status=422, errors=errors, mode="new")
    flash(f"已创建竞赛“{contest.title}”", "success")
    return redirect(url_for("contest_admin.contests"))


@bp.route("/contests/<int:contest_id>/edit", methods=["GET", "POST"])
@roles_required(*ORGANIZERS)
def edit_contest(contest_id: int):
    now = utcnow()
    contest = db.session.get(Contest, contest_id)
    if contest is None:
        abort(404)
    cats = _categories()
    started = svc.contest_started(contest)
    stored = reads.contest_rules(contest)
    probe = contest_form(cats, formdata=None)
    shown = _form_strings(stored, contest.timezone, probe)
    if request.method == "GET":
        probe.process(MultiDict(shown))
        # The bank may have shrunk since the rules were saved (retirements).
        short = svc.shortages(contest, svc.question_pool())
        errors = _put_errors(probe, short) if short else None
        return _render_form(
            probe, contest=contest, frozen=started, errors=errors, mode="edit"
        )[0]
    data = MultiDict(request.form)
    if started:
        # Disabled inputs are not posted: they keep the stored rules.
        for name in _frozen_form_fields(probe):
            if name not in data:
                data[name] = shown[name]
    form = contest_form(cats, formdata=data)
    if not form.validate_on_submit():
        return _render_form(
            form, status=422, contest=contest, frozen=started, mode="edit"
        )
    values = _values(form, contest.timezone)
    # What is shown unchanged (times to the minute, a mix without zeros) keeps
    # the stored value exactly, so only real edits reach the service.
    changes = {
        k: v
        for k, v in values.items()
        if _form_strings({**stored, k: v}, contest.timezone, form) != shown
    }
    try:
        svc.update_contest(
            contest.id, changes, now=now, actor=current_user, ip=request.remote_addr
        )
    except (svc.InvalidRules, svc.RuleFrozen) as exc:
        db.session.rollback()
        errors = _put_errors(form, exc.fields)
        contest = db.session.get(Contest, contest_id)
        return _render_form(
            form,
            status=409 if isinstance(exc, svc.RuleFrozen) else 422,
            contest=contest,
            frozen=started,
            errors=errors,
            mode="edit",
        )
    flash("竞赛已保存" if changes else "没有修改", "success")
    return redirect(url_for("contest_admin.contests"))


def _search(contest: Contest, raw: str | None) -> list[Attempt]:
    raw = (raw or "").strip()
    if not raw:
        return []
    phone = normalize_phone(raw)
    if len(phone) == 11 and phone.isascii() and phone.isdigit():
        return find_attempts(contest.id, phone=phone)
    attempt_id = parse_int(raw, lo=1, hi=MAX_DB_INT)
    if attempt_id is None:
        return []
    return find_attempts(contest.id, attempt_id=attempt_id)


def _render_attempts(contest, q, *, form=None, failed_id=None, status=200):
    return (
        render_template(
            "contest_admin/attempts.html",
            contest=contest,
            search=AttemptSearchForm(MultiDict({"q": q or ""})),
            q=q or "",
            attempts=_search(contest, q),
            form=form or DisqualifyForm(formdata=None),
            failed_id=failed_id,
            mask_phone=mask_phone,
        ),
        status,
    )


@bp.get("/contests/<int:contest_id>/attempts")
@roles_required(*ORGANIZERS)
def attempts(contest_id: int):
    contest = db.session.get(Contest, contest_id)
    if contest is None:
        abort(404)
    return _render_attempts(contest, request.args.get("q", "")[:20])[0]


@bp.post("/attempts/<int:attempt_id>/disqualify")
@roles_required(*ORGANIZERS)
def disqualify(attempt_id: int):
    now = utcnow()
    attempt = db.session.get(Attempt, attempt_id)
    if attempt is None:
        abort(404)
    contest = attempt.contest
    form = DisqualifyForm()
    back = url_for("contest_admin.attempts", contest_id=contest.id, q=attempt.id)
    if not form.validate_on_submit():
        return _render_attempts(
            contest, str(attempt.id), form=form, failed_id=attempt.id, status=422
        )
    try:
        _, changed = disqualify_attempt(
            attempt.id,
            form.reason.data,
            actor=current_user,
            ip=request.remote_addr,
            now=now,
        )
    except svc.InvalidRules as exc:
        form.reason.errors = [exc.fields.get("reason", exc.message)]
        return _render_attempts(
            contest, str(attempt.id), form=form, failed_id=attempt.id, status=422
        )
    except svc.AttemptStillOpen as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(
        "已取消该次成绩，排行榜已更新" if changed else "该次成绩此前已被取消",
        "success",
    )
    return redirect(back)
