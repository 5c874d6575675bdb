"""JSON API v1, practice: start a round, answer one question, read a round."""

from __future__ import annotations

from flask import current_app, jsonify
from flask_login import current_user

from ..auth.decorators import roles_required
from ..auth.limits import practice_answer_limit
from ..clock import utcnow
from ..contest import services as contest_svc
from ..practice import services as practice
from ..practice.presenters import feedback_json, round_view
from . import bp
from .views import body


def _rules(now) -> practice.PracticeRules:
    return practice.practice_rules(current_app.config, contest_svc.current_contest(now))


@bp.post("/practice")
@roles_required("citizen")
def practice_start():
    now = utcnow()
    rules = _rules(now)
    body()  # an object, like every endpoint that takes a body ({} is fine)
    started, created = practice.start_round(current_user, rules, now=now)
    left = practice.left_today(current_user, rules, now=now)
    return jsonify(round_view(started, left_today=left)), 201 if created else 200


@bp.get("/practice/<int:round_id>")
@roles_required("citizen")
def practice_get(round_id: int):
    now = utcnow()
    found = practice.get_round(round_id, current_user)
    left = practice.left_today(current_user, _rules(now), now=now)
    return jsonify(round_view(found, left_today=left))


@bp.put("/practice/<int:round_id>/answers/<int:position>")
@roles_required("citizen")
@practice_answer_limit
def practice_answer(round_id: int, position: int):
    now = utcnow()
    choices = body().get("choices")
    if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
        raise contest_svc.InvalidChoice("choices 必须是选项字母的列表")
    feedback = practice.answer_item(round_id, current_user, position, choices, now=now)
    return jsonify(feedback_json(feedback))
