"""Organizer page of a contest's item statistics (/admin/contests/<id>/items)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app, render_template, request
from sqlalchemy import select

from ..auth.decorators import roles_required
from ..clock import utcnow
from ..extensions import db
from ..models import Category, Contest
from ..params import MAX_DB_INT, parse_int
from . import bp
from . import services as svc

ORGANIZERS = ("organizer", "admin")
PAGE = 50
MAX_PER_PAGE = 200
FLAG_NAMES = {"too_easy": "过易", "too_hard": "过难", "suspect_key": "答案存疑"}


@dataclass(frozen=True)
class Listing:
    flag: str | None = None
    category: str | None = None
    sort: str = "id"
    descending: bool = False
    page: int = 1
    per_page: int = PAGE


def parse_listing(args: Mapping[str, str]) -> tuple[Listing, dict[str, str]]:
    """Query string -> Listing, and a message per bad parameter.

    `sort` is a column name, `-name` for descending (or `order=desc`)."""
    errors: dict[str, str] = {}
    flag = args.get("flag") or None
    if flag is not None and flag not in svc.FLAGS:
        errors["flag"] = "flag 应为 " + " / ".join(svc.FLAGS)
    category = args.get("category") or None
    if category is not None and (len(category) > 32 or not category.isascii()):
        errors["category"] = "category 应为分类代码"
    raw_sort = args.get("sort") or "id"
    descending = raw_sort.startswith("-")
    sort = raw_sort.lstrip("-")
    if sort not in svc.SORTS:
        errors["sort"] = "sort 应为 " + " / ".join(svc.SORTS) + "（前加 - 为降序）"
    order = args.get("order")
    if order not in (None, "", "asc", "desc"):
        errors["order"] = "order 应为 asc 或 desc"
    descending = descending or order == "desc"
    page = parse_int(args.get("page") or "1", lo=1, hi=MAX_DB_INT // MAX_PER_PAGE)
    if page is None:
        errors["page"] = "page 应为正整数"
    per_page = parse_int(args.get("per_page") or str(PAGE), lo=1, hi=MAX_PER_PAGE)
    if per_page is None:
        errors["per_page"] = f"per_page 应为 1 到 {MAX_PER_PAGE} 的整数"
    if errors:
        return Listing(), errors
    return Listing(flag, category, sort, descending, page, per_page), {}


def listed(contest: Contest, listing: Listing):
    """Refresh if stale, then (page of items, total, all items, state)."""
    svc.refresh_for_view(contest, current_app.config, now=utcnow())
    items = svc.contest_items(contest.id, svc.thresholds(current_app.config))
    chosen = svc.select_items(
        items,
        flag=listing.flag,
        category=listing.category,
        sort=listing.sort,
        descending=listing.descending,
    )
    start = (listing.page - 1) * listing.per_page
    page = chosen[start : start + listing.per_page]
    return page, len(chosen), items, svc.state_of(contest.id)


@bp.get("/admin/contests/<int:contest_id>/items")
@roles_required(*ORGANIZERS)
def contest_items(contest_id: int):
    contest = db.session.get(Contest, contest_id)
    if contest is None:
        return render_template("error.html", code=404, message="竞赛不存在"), 404
    listing, errors = parse_listing(request.args)
    if errors:
        message = "；".join(errors.values())
        return render_template("error.html", code=400, message=message), 400
    page, total, items, state = listed(contest, listing)
    categories = {
        c.code: c.name
        for c in db.session.scalars(select(Category).order_by(Category.sort_order))
    }
    flag_counts = {f: sum(1 for i in items if f in i.flags) for f in svc.FLAGS}
    args = {
        k: v
        for k, v in {"flag": listing.flag, "category": listing.category}.items()
        if v
    }
    return render_template(
        "items/contest.html",
        contest=contest,
        items=page,
        total=total,
        listing=listing,
        pages=max((total + listing.per_page - 1) // listing.per_page, 1),
        state=state,
        categories=categories,
        flag_names=FLAG_NAMES,
        flag_counts=flag_counts,
        args=args,
        th=svc.thresholds(current_app.config),
        top_share=svc.TOP_SHARE,
        top_min=svc.top_threshold(contest),
    )
