"""Practice pages: plain forms, one answer per post, no script needed."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..auth.decorators import roles_required
from ..auth.limits import practice_answer_limit
from ..clock import utcnow
from ..contest import services as contest_svc
from ..params import parse_int
from . import bp
from . import services as practice
from .presenters import round_view


def _rules(now) -> practice.PracticeRules:
    return practice.practice_rules(current_app.config, contest_svc.current_contest(now))


@bp.get("/practice")
@roles_required("citizen")
def index():
    now = utcnow()
    rules = _rules(now)
    return render_template(
        "practice/index.html",
        rules=rules,
        left=practice.left_today(current_user, rules, now=now),
        unfinished=practice.open_round(current_user),
    )


@bp.post("/practice")
@roles_required("citizen")
def start():
    now = utcnow()
    try:
        started, _ = practice.start_round(current_user, _rules(now), now=now)
    except contest_svc.ContestError as exc:
        flash(exc.message, "error")
        return redirect(url_for("practice.index"))
    return redirect(url_for("practice.round_page", round_id=started.id))


@bp.get("/practice/<int:round_id>")
@roles_required("citizen")
def round_page(round_id: int):
    """The next unanswered question; after an answer (`?after=<position>`) that
    question's feedback; when every question is answered, the round's summary."""
    now = utcnow()
    try:
        found = practice.get_round(round_id, current_user)
    except contest_svc.NotFound:
        abort(404)
    view = round_view(
        found, left_today=practice.left_today(current_user, _rules(now), now=now)
    )
    questions = view["questions"]
    after = parse_int(request.args.get("after"), lo=1, hi=len(questions))
    just = questions[after - 1] if after and questions[after - 1]["feedback"] else None
    current = next((q for q in questions if q["feedback"] is None), None)
    return render_template("practice/round.html", view=view, just=just, current=current)


@bp.post("/practice/<int:round_id>/answers/<int:position>")
@roles_required("citizen")
@practice_answer_limit
def answer(round_id: int, position: int):
    now = utcnow()
    try:
        practice.answer_item(
            round_id, current_user, position, request.form.getlist("choice"), now=now
        )
    except contest_svc.NotFound:
        abort(404)
    except contest_svc.InvalidChoice as exc:
        flash(exc.message, "error")
        return redirect(url_for("practice.round_page", round_id=round_id))
    return redirect(url_for("practice.round_page", round_id=round_id, after=position))
