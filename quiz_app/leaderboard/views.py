"""The public leaderboard page: 全市 / 本区县 / 今日 tabs, top 50 and my rank."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user

from ..clock import local_day, utcnow
from ..contest import services as contests
from ..regions import all_regions, known_region
from . import bp
from . import services as boards

PAGE_SIZE = 50


@bp.get("/leaderboard")
def page():
    now = utcnow()
    contest = contests.current_contest(now)
    if contest is None:
        abort(404)
    tab = request.args.get("tab", "all")
    user_region = current_user.region_code if current_user.is_authenticated else None
    region_code = request.args.get("region") or user_region or "lunan"
    if not known_region(region_code):
        abort(404)
    today = local_day(now, contest.timezone)
    if tab == "region":
        scope = boards.Scope("region", region=region_code)
    elif tab == "day":
        scope = boards.Scope("day", day=today)
    else:
        tab, scope = "all", boards.Scope("all")
    uid = current_user.id if current_user.is_authenticated else None
    board = boards.read_board(contest, scope, limit=PAGE_SIZE, user_id=uid)
    return render_template(
        "leaderboard/page.html",
        contest=contest,
        board=board,
        tab=tab,
        region_code=region_code,
        regions=all_regions(),
        today=today,
    )
