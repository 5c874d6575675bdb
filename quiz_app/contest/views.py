"""Citizen pages: home, quiz, result, my attempts. Thin: parse, call, render."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, logout_user

from ..auth.decorators import roles_required
from ..auth.limits import answer_limit
from ..clock import utcnow
from ..leaderboard import services as boards
from ..leaderboard.ranking import public_name
from ..params import parse_int
from . import bp
from . import services as svc
from .presenters import attempt_view, result_view

#: More questions than any attempt holds; bounds what a posted form may name.
MAX_POSITIONS = 200


def grace() -> int:
    return current_app.config["SUBMIT_GRACE_S"]


@bp.get("/healthz")
def healthz():
    """Liveness for load balancers and the load test's framework ceiling (no I/O)."""
    return "ok", 200, {"Content-Type": "text/plain"}


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for it even where the page links the icon (the API, files)."""
    return current_app.send_static_file("favicon.ico")


@bp.get("/")
def index():
    now = utcnow()
    contest = svc.current_contest(now)
    top, participants, my = None, 0, None
    if contest is not None:
        uid = current_user.id if current_user.is_authenticated else None
        top = boards.read_board(contest, boards.Scope("all"), limit=10, user_id=uid)
        participants = top.total
        if current_user.is_authenticated and current_user.role == "citizen":
            my = {
                "open": svc.open_attempt(current_user, contest),
                "left": svc.attempts_left_today(current_user, contest, now),
            }
    return render_template(
        "contest/index.html",
        contest=contest,
        now=now,
        top=top,
        participants=participants,
        my=my,
    )


@bp.post("/quiz/start")
@roles_required("citizen")
def start():
    now = utcnow()
    contest = svc.current_contest(now)
    if contest is None:
        abort(404)
    try:
        attempt, _ = svc.start_attempt(current_user, contest, now=now, grace_s=grace())
    except svc.ContestError as exc:
        flash(exc.message, "error")
        return redirect(url_for("contest.index"))
    return redirect(url_for("contest.quiz", attempt_id=attempt.id))


@bp.get("/quiz")
@roles_required("citizen")
def quiz_current():
    now = utcnow()
    contest = svc.current_contest(now)
    attempt = svc.open_attempt(current_user, contest) if contest else None
    if attempt is None:
        return redirect(url_for("contest.index"))
    return redirect(url_for("contest.quiz", attempt_id=attempt.id))


@bp.get("/quiz/<int:attempt_id>")
@roles_required()
def quiz(attempt_id: int):
    now = utcnow()
    try:
        attempt = svc.get_attempt(attempt_id, current_user, now=now, grace_s=grace())
    except svc.NotFound:
        abort(404)
    if attempt.finished_at is not None:
        return redirect(url_for("contest.result", attempt_id=attempt.id))
    view = attempt_view(attempt, now)
    return render_template(
        "contest/quiz.html", attempt=attempt, view=view, contest=attempt.contest
    )


def _form_positions() -> set[int]:
    """Positions the posted form showed (hidden `shown` fields) or answered."""
    shown = {
        p
        for raw in request.form.getlist("shown")[:MAX_POSITIONS]
        if (p := parse_int(raw, lo=1, hi=MAX_POSITIONS)) is not None
    }
    return shown | {
        p
        for key in request.form
        if key.startswith("q") and (p := parse_int(key[1:], lo=1, hi=MAX_POSITIONS))
    }


def _save_form_answers(attempt_id: int, now) -> None:
    """Plain-form fallback: save every question the form showed (before the
    deadline). A shown question with nothing ticked clears its answer."""
    attempt = svc.get_attempt(attempt_id, current_user, now=now, grace_s=grace())
    if attempt.finished_at is not None or now > attempt.deadline_at:
        return
    positions = _form_positions()
    for answer in attempt.answers:
        if answer.position not in positions:
            continue
        choices = request.form.getlist(f"q{answer.position}")
        if not choices and answer.choices is None:
            continue  # still unanswered: nothing to write
        try:
            svc.save_answer(attempt_id, current_user, answer.position, choices, now=now)
        except svc.InvalidChoice:
            pass  # a tampered field; the rest still count


def _signed_out():
    """The session was ended elsewhere (logout everywhere, account disabled)
    while this form was on its way: back to the login page, then the quiz."""
    logout_user()
    flash("登录已失效，请重新登录后继续答题（之前保存的答案仍然有效）", "error")
    return redirect(url_for("auth.login", next=url_for("contest.quiz_current")))


@bp.post("/quiz/<int:attempt_id>/save")
@roles_required()
@answer_limit
def save(attempt_id: int):
    now = utcnow()
    try:
        _save_form_answers(attempt_id, now)
    except svc.NotFound:
        abort(404)
    except svc.NotLoggedIn:
        return _signed_out()
    except svc.ContestError as exc:
        flash(exc.message, "error")
    else:
        flash("答案已保存", "success")
    return redirect(url_for("contest.quiz", attempt_id=attempt_id))


@bp.post("/quiz/<int:attempt_id>/submit")
@roles_required()
@answer_limit
def submit(attempt_id: int):
    now = utcnow()
    try:
        _save_form_answers(attempt_id, now)
        svc.submit_attempt(attempt_id, current_user, now=now, grace_s=grace())
    except svc.NotFound:
        abort(404)
    except svc.NotLoggedIn:
        return _signed_out()
    except svc.ContestError as exc:
        flash(exc.message, "error")
    return redirect(url_for("contest.result", attempt_id=attempt_id))


@bp.get("/quiz/<int:attempt_id>/result")
@roles_required()
def result(attempt_id: int):
    now = utcnow()
    try:
        attempt = svc.get_attempt(attempt_id, current_user, now=now, grace_s=grace())
    except svc.NotFound:
        abort(404)
    if attempt.finished_at is None:
        return redirect(url_for("contest.quiz", attempt_id=attempt.id))
    contest = attempt.contest
    ranks = {}
    for label, scope in (
        ("全市", boards.Scope("all")),
        ("本区县", boards.Scope("region", region=current_user.region_code)),
    ):
        board = boards.read_board(contest, scope, limit=1, user_id=current_user.id)
        ranks[label] = board.me
    return render_template(
        "contest/result.html",
        attempt=attempt,
        contest=contest,
        result=result_view(attempt),
        ranks=ranks,
        # the certificate page is the current contest's
        certificate_link=getattr(svc.current_contest(now), "id", None) == contest.id,
    )


@bp.get("/me")
@roles_required()
def me():
    now = utcnow()
    contest = svc.current_contest(now)
    attempts, best, left = [], None, 0
    if contest is not None:
        # Finish any attempt whose time ran out before listing.
        for a in svc.user_attempts(current_user, contest):
            if a.finished_at is None:
                svc.get_attempt(a.id, current_user, now=now, grace_s=grace())
        attempts = svc.user_attempts(current_user, contest)
        best = svc.best_attempt(attempts)
        left = svc.attempts_left_today(current_user, contest, now)
    return render_template(
        "contest/me.html",
        masked_name=public_name(current_user.name, True),
        contest=contest,
        attempts=attempts,
        best=best,
        left=left,
        now=now,
    )
