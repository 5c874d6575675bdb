"""`flask contest create|create-2023|sweep`: contests as rows, the expiry sweeper."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import current_app

from ..clock import utcnow
from . import bp
from .services import create_contest, sweep_expired

CONTEST_2023 = "2023年唐山市公民科学素质知识网络竞赛"


def _local(value: str, tz: str) -> datetime:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(tz))
    return moment


@bp.cli.command("create")
@click.option("--title", required=True)
@click.option("--starts", required=True, help="ISO time; contest zone if no offset.")
@click.option("--ends", required=True, help="ISO time; contest zone if no offset.")
@click.option(
    "--time-limit",
    "time_limit_s",
    default=900,
    show_default=True,
    help="Seconds per attempt.",
)
@click.option(
    "--types",
    default='{"single": 10, "multiple": 5, "judge": 5}',
    show_default=True,
    help="JSON: questions per type.",
)
@click.option("--quotas", default="{}", help="JSON: minimum questions per category.")
@click.option("--points", default=5, show_default=True, help="Points per question.")
@click.option("--per-day", default=3, show_default=True, help="Attempts per day.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True)
def create_command(
    title, starts, ends, time_limit_s, types, quotas, points, per_day, timezone
) -> None:
    """Create a contest with the given rules."""
    try:
        contest = create_contest(
            title=title,
            starts_at=_local(starts, timezone),
            ends_at=_local(ends, timezone),
            time_limit_s=time_limit_s,
            type_counts=json.loads(types),
            category_quotas=json.loads(quotas),
            points_per_question=points,
            attempts_per_day=per_day,
            timezone=timezone,
            check_bank=True,
        )
    except ZoneInfoNotFoundError:
        raise click.ClickException(f"unknown time zone {timezone!r}")
    except (ValueError, json.JSONDecodeError) as exc:
        raise click.ClickException(str(exc))
    click.echo(f"contest {contest.id}: {contest.title}")


@bp.cli.command("sweep")
def sweep_command() -> None:
    """Finish every attempt whose time ran out (idempotent; run from cron)."""
    n = sweep_expired(now=utcnow(), grace_s=current_app.config["SUBMIT_GRACE_S"])
    click.echo(f"finished {n} expired attempts")
