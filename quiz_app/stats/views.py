"""Staff pages: participation by region (scoped), CSV export."""

from __future__ import annotations

import csv
import io

from flask import Response, render_template, request
from flask_login import current_user

from ..auth.decorators import roles_required
from ..auth.services import audit
from ..clock import utcnow
from ..contest.services import current_contest
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


def safe_cell(value) -> str:
    """Spreadsheet-safe text (OWASP CSV injection): numbers we computed pass as
    numbers; text starting with = + - @ TAB, CR or LF gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n"):
        return "'" + text
    return text


@bp.get("/staff/")
@roles_required("staff", "admin")
def dashboard():
    contest = current_contest(utcnow())
    rows = region_stats(contest, current_user) if contest else []
    return render_template(
        "stats/dashboard.html", contest=contest, rows=rows, columns=COLUMNS
    )


@bp.get("/staff/regions.csv")
@roles_required("staff", "admin")
def export():
    contest = current_contest(utcnow())
    rows = region_stats(contest, current_user) if contest else []
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL)
    writer.writerow([label for _, label in COLUMNS])
    for row in rows:
        writer.writerow([safe_cell(row[key]) for key, _ in COLUMNS])
    audit(
        "stats_export",
        outcome="ok",
        actor=current_user,
        ip=request.remote_addr,
        now=utcnow(),
    )
    return Response(
        "\ufeff" + buf.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=regions.csv"},
    )
