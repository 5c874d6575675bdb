"""Staff pages: the dashboard, a county's page, the prize list and every
table as CSV/XLSX; scoped like the API (stats.params), identities audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Response, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from ..auth.decorators import roles_required
from ..auth.services import audit
from ..clock import iso, utcnow
from ..exports import CSV_TYPE, XLSX_TYPE, csv_bytes, xlsx_bytes
from ..extensions import db
from ..models import Attempt, Contest, ContestBest, Region, User
from ..params import parse_int
from . import bp
from . import services as stats
from .params import StatsParamError, stats_scope

REGION_COLUMNS = [
    ("name", "区县"),
    ("registered", "注册人数"),
    ("participants", "参赛人数"),
    ("attempts", "答题次数"),
    ("finished", "完成次数"),
    ("avg_best_score", "平均最好成绩"),
    ("full_score", "满分人数"),
    ("full_score_rate", "满分率"),
    ("population", "常住人口"),
    ("per_10k", "每万人参赛"),
]
DAILY_COLUMNS = [
    ("date", "日期"),
    ("participants", "参赛人数"),
    ("attempts", "答题次数"),
    ("finished", "完成次数"),
    ("new_registrations", "新注册"),
]
SCORE_COLUMNS = [("score", "最好成绩"), ("citizens", "人数")]
CATEGORY_COLUMNS = [
    ("name", "知识类别"),
    ("answered", "作答题次"),
    ("correct_rate", "正确率"),
]
WINNER_COLUMNS = [
    ("rank", "名次"),
    ("name", "姓名"),
    ("phone", "手机号"),
    ("region_name", "区县"),
    ("score", "成绩"),
    ("duration_s", "用时（秒）"),
    ("finished_at", "交卷时间"),
    ("attempt_id", "答卷编号"),
    ("flag_text", "提示"),
]
PARTICIPANT_COLUMNS = [
    ("name", "姓名"),
    ("phone", "手机号"),
    ("score", "最好成绩"),
    ("duration_s", "用时（秒）"),
    ("attempts", "答题次数"),
    ("finished_at", "最好成绩交卷时间"),
]
FLAG_TEXT = {
    "fast_full": "满分且用时不足 1 分钟",
    "shared_network": "同一网络短时间内注册多个账号",
}
TABLES = ("regions", "daily", "scores", "categories", "heatmap", "winners", "people")
DEFAULT_WINNERS = 50
PER_PAGE = 50


def _scope() -> tuple[Contest, Region | None, datetime]:
    now = utcnow()
    try:
        contest, region = stats_scope(
            request.args, current_user, ip=request.remote_addr, now=now
        )
    except StatsParamError as exc:
        if exc.code == "unknown_contest" and not request.args.get("contest"):
            raise NoContest() from exc  # none created yet: say so, not 404
        abort(exc.status, exc.message)
    return contest, region, now


class NoContest(Exception):
    pass


@bp.errorhandler(NoContest)
def no_contest(_exc):
    return render_template("stats/no_contest.html")


def _audit_identities(what: str, contest: Contest, region, now, **extra) -> None:
    detail = " ".join(f"{k}={v}" for k, v in extra.items())
    audit(
        "stats_identity_view",
        outcome="ok",
        actor=current_user,
        ip=request.remote_addr,
        obj=f"{what} contest={contest.id} region={stats.scope_label(region)} {detail}",
        now=now,
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _context(contest: Contest, region: Region | None, now: datetime) -> dict:
    return {
        "contest": contest,
        "region": region,
        "city_wide": stats.is_city_wide(current_user),
        "contests": stats.contest_choices(now),
        "status": contest.status(now),
        "pct": _pct,
        "regions": stats.visible_regions(current_user),
    }


@bp.get("/staff/")
@roles_required("staff", "admin")
def dashboard():
    contest, region, now = _scope()
    regions = [region] if region else stats.visible_regions(current_user)
    rows = stats.region_rows(contest, regions, now=now)
    summary = stats.summary(contest, region, now=now)
    daily = stats.daily(contest, region, now=now)
    scores = stats.scores(contest, region, now=now)
    heat = stats.categories(contest, region, now=now, by_region=True)
    cats = stats.categories(contest, region, now=now)
    bars = [
        {"name": r["name"], "participants": r["participants"], "per_10k": r["per_10k"]}
        for r in rows
    ]
    chart_heat = list(heat)
    city_cats = stats.categories(contest, None, now=now) if region else cats
    if region is not None:
        # one county: compare it with the city (aggregates, no other county)
        bars.append(
            {
                "name": "全市区县平均",
                "participants": summary["city_average"]["participants"],
                "per_10k": summary["city"]["per_10k"],
            }
        )
        chart_heat += [
            {**c, "region": "city", "region_name": "全市"} for c in city_cats
        ]
    charts = {
        "regions": bars,
        "daily": daily,
        "scores": scores,
        "heatmap": chart_heat,
        "refresh": summary["contest"]["status"] == "open",
    }
    return render_template(
        "stats/dashboard.html",
        rows=rows,
        summary=summary,
        daily=daily,
        scores=scores,
        cats=cats,
        city_cats=city_cats,
        heat=heat,
        charts=charts,
        columns=REGION_COLUMNS,
        **_context(contest, region, now),
    )


@bp.get("/staff/regions/<code>")
@roles_required("staff", "admin")
def county(code: str):
    args = request.args.to_dict()
    args["region"] = code
    now = utcnow()
    try:
        contest, region = stats_scope(
            args, current_user, ip=request.remote_addr, now=now
        )
    except StatsParamError as exc:
        abort(exc.status, exc.message)
    page = parse_int(request.args.get("page", "1"), lo=1, hi=100_000) or 1
    q = request.args.get("q", "")[:32]
    people = stats.participants(contest, region, q=q, page=page, per_page=PER_PAGE)
    _audit_identities(
        "participants page", contest, region, now, page=people["page"], q=q
    )
    summary = stats.summary(contest, region, now=now)
    daily = stats.daily(contest, region, now=now)
    scores = stats.scores(contest, region, now=now)
    cats = stats.categories(contest, region, now=now)
    charts = {"daily": daily, "scores": scores, "categories": cats, "refresh": False}
    return render_template(
        "stats/county.html",
        summary=summary,
        daily=daily,
        scores=scores,
        cats=cats,
        people=people,
        q=q,
        charts=charts,
        **_context(contest, region, now),
    )


@bp.get("/staff/winners")
@roles_required("staff", "admin")
def winners():
    contest, region, now = _scope()
    limit = _limit()
    rows = _winner_rows(contest, region, limit)
    _audit_identities("winners page", contest, region, now, limit=limit)
    return render_template(
        "stats/winners.html",
        rows=rows,
        limit=limit,
        flag_text=FLAG_TEXT,
        **_context(contest, region, now),
    )


def _limit() -> int:
    limit = parse_int(request.args.get("limit", str(DEFAULT_WINNERS)), lo=1, hi=1000)
    if limit is None:
        abort(400, "名额应为 1 到 1000 的整数")
    return limit


def _winner_rows(contest: Contest, region: Region | None, limit: int) -> list[dict]:
    rows = stats.winners(contest, region, limit=limit)
    for r in rows:
        r["duration_s"] = round(r["duration_ms"] / 1000, 1)
        r["flag_text"] = "；".join(FLAG_TEXT[f] for f in r["flags"])
    return rows


# ------------------------------------------------------------------ exports


def _people_rows(contest: Contest, region: Region | None) -> Iterator[dict]:
    """Every counted participant of the scope in board order, streamed."""
    counts = (
        select(Attempt.user_id, func.count().label("n"))
        .where(Attempt.contest_id == contest.id)
        .group_by(Attempt.user_id)
        .subquery()
    )
    q = (
        select(
            ContestBest, User.name, User.phone, Region.name.label("rname"), counts.c.n
        )
        .join(User, User.id == ContestBest.user_id)
        .join(Region, Region.code == ContestBest.region_code)
        .join(counts, counts.c.user_id == ContestBest.user_id)
        .where(ContestBest.contest_id == contest.id)
        .order_by(ContestBest.rank_key.desc(), ContestBest.user_id)
        .execution_options(yield_per=2000)
    )
    if region is not None:
        q = q.where(ContestBest.region_code == region.code)
    for r in db.session.execute(q):
        best = r.ContestBest
        yield {
            "name": r.name,
            "phone": r.phone,
            "region_name": r.rname,
            "score": best.score,
            "duration_s": round(best.duration_ms / 1000, 1),
            "attempts": r.n,
            "finished_at": iso(best.finished_at, contest.timezone),
        }


def _table(
    table: str, contest: Contest, region: Region | None, now: datetime
) -> tuple[list[tuple[str, str]], Any, str]:
    """(columns, rows, sheet title) of one exportable table."""
    if table == "regions":
        regions = [region] if region else stats.visible_regions(current_user)
        rows = stats.region_rows(contest, regions, now=now)
        city = stats.summary(contest, None, now=now)["city"]
        rows.append({"name": "全市合计", **city})
        return REGION_COLUMNS, rows, "区县参与情况"
    if table == "daily":
        return DAILY_COLUMNS, stats.daily(contest, region, now=now), "每日参与"
    if table == "scores":
        return SCORE_COLUMNS, stats.scores(contest, region, now=now), "成绩分布"
    if table == "categories":
        return CATEGORY_COLUMNS, stats.categories(contest, region, now=now), "知识类别"
    if table == "heatmap":
        cols = [("region_name", "区县")] + CATEGORY_COLUMNS
        rows = stats.categories(contest, region, now=now, by_region=True)
        return cols, rows, "区县×类别正确率"
    if table == "winners":
        limit = _limit()
        return WINNER_COLUMNS, _winner_rows(contest, region, limit), "获奖名单"
    cols = PARTICIPANT_COLUMNS[:2] + [("region_name", "区县")] + PARTICIPANT_COLUMNS[2:]
    return cols, _people_rows(contest, region), "参赛者名单"


def _sheet(
    columns, rows, contest: Contest, region: Region | None, now: datetime
) -> Iterator[list]:
    scope = region.name if region else "全市"
    yield ["竞赛", contest.title]
    yield ["范围", scope]
    yield ["导出时间", iso(now, contest.timezone)]
    yield []
    yield [label for _, label in columns]
    for row in rows:
        yield [_cell(key, row.get(key)) for key, _ in columns]


def _cell(key: str, value):
    if key in ("full_score_rate", "correct_rate") and value is not None:
        return round(value * 100, 2)
    return value


@bp.get("/staff/export/<table>.<fmt>")
@bp.get("/staff/regions.<fmt>", defaults={"table": "regions"}, endpoint="export_old")
@roles_required("staff", "admin")
def export(table: str, fmt: str):
    if table not in TABLES or fmt not in ("csv", "xlsx"):
        abort(404)
    contest, region, now = _scope()
    columns, rows, title = _table(table, contest, region, now)
    if table in ("winners", "people"):
        _audit_identities(f"{table} export", contest, region, now, fmt=fmt)
    else:
        audit(
            "stats_export",
            outcome="ok",
            actor=current_user,
            ip=request.remote_addr,
            obj=f"{table}.{fmt} contest={contest.id} "
            f"region={stats.scope_label(region)}",
            now=now,
        )
    sheet = _sheet(columns, rows, contest, region, now)
    if fmt == "xlsx":
        body, mimetype = xlsx_bytes(sheet, sheet=title), XLSX_TYPE
    else:
        body, mimetype = csv_bytes(sheet), CSV_TYPE
    name = f"{table}-c{contest.id}-{stats.scope_label(region)}.{fmt}"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


@bp.app_template_global()
def stats_url(endpoint: str, **kw) -> str:
    """url_for keeping the page's contest (and region) unless overridden."""
    for key in ("contest", "region"):
        if key not in kw and request.args.get(key):
            kw[key] = request.args[key]
    return url_for(endpoint, **{k: v for k, v in kw.items() if v is not None})
