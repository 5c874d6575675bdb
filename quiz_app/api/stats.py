"""JSON API v1, staff figures (`/api/v1/stats/...`): every endpoint takes
`contest=<id>` and `region=<code>` (docs/api.md); region staff see only
their own region."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user

from ..auth.decorators import roles_required
from ..auth.services import audit
from ..clock import utcnow
from ..errors import api_error
from ..params import parse_int
from ..stats import services as stats
from ..stats.params import StatsParamError, stats_scope
from . import bp


@bp.errorhandler(StatsParamError)
def stats_param_error(exc: StatsParamError):
    return api_error(exc.status, exc.code, exc.message)


def _scope():
    now = utcnow()
    contest, region = stats_scope(
        request.args, current_user, ip=request.remote_addr, now=now
    )
    return contest, region, now


@bp.get("/stats/regions")
@roles_required("staff", "admin")
def stats_regions():
    now = utcnow()
    try:
        contest, region, now = _scope()
    except StatsParamError as exc:
        if exc.code == "unknown_contest" and not request.args.get("contest"):
            return jsonify([])  # no contest at all yet
        raise
    regions = [region] if region else stats.visible_regions(current_user)
    return jsonify(stats.region_rows(contest, regions, now=now))


@bp.get("/stats/summary")
@roles_required("staff", "admin")
def stats_summary():
    contest, region, now = _scope()
    out = stats.summary(contest, region, now=now)
    out["contests"] = stats.contest_choices(now)
    return jsonify(out)


@bp.get("/stats/daily")
@roles_required("staff", "admin")
def stats_daily():
    contest, region, now = _scope()
    return jsonify(stats.daily(contest, region, now=now))


@bp.get("/stats/scores")
@roles_required("staff", "admin")
def stats_scores():
    contest, region, now = _scope()
    return jsonify(stats.scores(contest, region, now=now))


@bp.get("/stats/categories")
@roles_required("staff", "admin")
def stats_categories():
    by = request.args.get("by", "")
    if by not in ("", "region"):
        return api_error(400, "bad_by", "by 只能是 region")
    contest, region, now = _scope()
    return jsonify(stats.categories(contest, region, now=now, by_region=by == "region"))


@bp.get("/stats/winners")
@roles_required("staff", "admin")
def stats_winners():
    limit = parse_int(request.args.get("limit", "100"), lo=1, hi=stats.MAX_WINNERS)
    if limit is None:
        return api_error(
            400, "bad_limit", f"limit 应为 1 到 {stats.MAX_WINNERS} 的整数"
        )
    contest, region, now = _scope()
    rows = stats.winners(contest, region, limit=limit)
    audit(
        "stats_identity_view",
        outcome="ok",
        actor=current_user,
        ip=request.remote_addr,
        obj=f"winners api contest={contest.id} region={stats.scope_label(region)}"
        f" limit={limit} rows={len(rows)}",
        now=now,
    )
    return jsonify(rows)
