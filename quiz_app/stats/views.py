"""Staff pages: participation by region (scoped), CSV/XLSX export."""

from __future__ import annotations

from flask import Response, render_template, request
from flask_login import current_user

from ..auth.decorators import roles_required
from ..auth.services import audit
from ..clock import utcnow
from ..contest.services import current_contest
from ..exports import CSV_TYPE, XLSX_TYPE, csv_bytes, xlsx_bytes
from . import bp
from .services import region_stats

COLUMNS = [
    ("name", "区县"),
    ("registered", "注册人数"),
    ("participants", "参赛人数"),
    ("attempts", "答题次数"),
    ("finished", "完成次数"),
    ("avg_best_score", "平均最好成绩"),
    ("full_score", "满分人数"),
]


@bp.get("/staff/")
@roles_required("staff", "admin")
def dashboard():
    contest = current_contest(utcnow())
    rows = region_stats(contest, current_user) if contest else []
    return render_template(
        "stats/dashboard.html", contest=contest, rows=rows, columns=COLUMNS
    )


@bp.get("/staff/regions.csv", defaults={"fmt": "csv"}, endpoint="export")
@bp.get("/staff/regions.xlsx", defaults={"fmt": "xlsx"}, endpoint="export")
@roles_required("staff", "admin")
def export(fmt: str):
    contest = current_contest(utcnow())
    rows = region_stats(contest, current_user) if contest else []
    table = [[label for _, label in COLUMNS]]
    table += [[row[key] for key, _ in COLUMNS] for row in rows]
    audit(
        "stats_export",
        outcome="ok",
        actor=current_user,
        ip=request.remote_addr,
        obj=fmt,
        now=utcnow(),
    )
    if fmt == "xlsx":
        body, mimetype = xlsx_bytes(table, sheet="区县参与情况"), XLSX_TYPE
    else:
        body, mimetype = csv_bytes(table), CSV_TYPE
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename=regions.{fmt}"},
    )
