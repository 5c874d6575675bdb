"""`flask privacy purge --before DATE [--yes]`: the retention purge."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import click
from flask import current_app

from ..clock import utcnow
from . import bp
from .services import PrivacyError, purge


@bp.cli.command("purge")
@click.option(
    "--before",
    "before_day",
    required=True,
    help="YYYY-MM-DD: citizens whose last activity ended before this day "
    "(00:00 in QUIZ_TIMEZONE) are anonymised.",
)
@click.option("--yes", is_flag=True, help="Apply; without it only count (dry run).")
def purge_command(before_day: str, yes: bool) -> None:
    """Remove the personal data of citizens of past contests, keep the statistics."""
    try:
        day = date.fromisoformat(before_day)
    except ValueError:
        raise click.BadParameter("expected YYYY-MM-DD", param_hint="--before")
    zone = ZoneInfo(current_app.config["QUIZ_TIMEZONE"])
    before = datetime.combine(day, time(0), tzinfo=zone)
    try:
        report = purge(before, now=utcnow(), apply=yes)
    except PrivacyError:
        raise click.ClickException(
            f"--before {before_day} is in the future; it must be not later than today"
        )
    if report.applied:
        click.echo(
            f"anonymised {report.count} citizen accounts inactive since before "
            f"{before.isoformat()}"
        )
    else:
        click.echo(
            f"dry run: {report.count} citizen accounts inactive since before "
            f"{before.isoformat()} would be anonymised; add --yes to apply"
        )
