"""Item statistics API (/api/v1/admin/contests/<id>/items, organizer or admin)."""

from __future__ import annotations

from flask import current_app, jsonify, request

from ..auth.decorators import roles_required
from ..errors import api_error
from ..extensions import db
from ..items import services as svc
from ..items.views import listed, parse_listing
from ..models import Contest
from . import bp
from .admin_questions import invalid

ORGANIZERS = ("organizer", "admin")


@bp.get("/admin/contests/<int:contest_id>/items")
@roles_required(*ORGANIZERS)
def admin_contest_items(contest_id: int):
    contest = db.session.get(Contest, contest_id)
    if contest is None:
        return api_error(404, "not_found", "竞赛不存在")
    listing, errors = parse_listing(request.args)
    if errors:
        return invalid(errors)
    page, total, _items, state = listed(contest, listing)
    th = svc.thresholds(current_app.config)
    return jsonify(
        {
            "contest_id": contest.id,
            "refreshed_at": state.refreshed_at if state else None,
            "attempts_counted": state.attempts if state else 0,
            "discrimination_method": svc.DISCRIMINATION_METHOD,
            "thresholds": {
                "too_easy_above": svc.TOO_EASY,
                "too_hard_below": svc.TOO_HARD,
                "min_exposures": th.min_exposures,
                "top_group_min_other_correct": svc.top_threshold(contest),
                "min_top_group": th.min_top,
            },
            "items": [i.as_json() for i in page],
            "total": total,
            "page": listing.page,
            "per_page": listing.per_page,
            "pages": max((total + listing.per_page - 1) // listing.per_page, 1),
        }
    )
