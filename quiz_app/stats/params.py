"""What every staff page, export and API call reads from the query string:
the contest (`contest=<id>`, default the current one) and the region
(`region=<code>`, city-wide staff only), checked against the account."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ..auth.services import audit
from ..contest.services import contest_by_id, current_contest
from ..models import Contest, Region, User
from ..params import MAX_DB_INT, parse_int
from .services import ScopeError, resolve_region


class StatsParamError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def stats_scope(
    args: Mapping[str, str], staff: User, *, ip: str | None, now: datetime
) -> tuple[Contest, Region | None]:
    """(contest, region or None for the whole city); raises StatsParamError
    (400 bad contest id, 404 unknown contest or region, 403 another region,
    which is audited)."""
    raw = args.get("contest")
    if raw:
        cid = parse_int(raw, lo=1, hi=MAX_DB_INT)
        if cid is None:
            raise StatsParamError(400, "bad_contest", "contest 应为竞赛编号")
        contest = contest_by_id(cid)
    else:
        contest = current_contest(now)
    if contest is None:
        raise StatsParamError(404, "unknown_contest", "没有这个竞赛")
    try:
        region = resolve_region(staff, args.get("region") or None)
    except ScopeError as exc:
        if exc.status == 403:
            audit(
                "stats_denied",
                outcome="denied",
                actor=staff,
                ip=ip,
                obj=f"region={args.get('region')}",
                now=now,
            )
        raise StatsParamError(exc.status, exc.code, exc.message) from exc
    return contest, region
