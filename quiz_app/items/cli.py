"""`flask items refresh [--contest ID] [--full]`: item statistics from SQL."""

from __future__ import annotations

import time

import click
from sqlalchemy import select

from ..clock import utcnow
from ..extensions import db
from ..models import Contest
from . import bp
from .services import refresh


@bp.cli.command("refresh")
@click.option("--contest", "contest_id", type=int, help="Only this contest.")
@click.option("--full", is_flag=True, help="Recount from scratch (the repair).")
def refresh_command(contest_id: int | None, full: bool) -> None:
    """Add the attempts finished since the last refresh (waits for a page
    view's refresh of the same contest to end first)."""
    q = select(Contest).order_by(Contest.id)
    if contest_id is not None:
        q = q.where(Contest.id == contest_id)
    contests = list(db.session.scalars(q))
    if not contests:
        raise click.ClickException("no such contest")
    for contest in contests:
        t0 = time.perf_counter()
        r = refresh(contest, now=utcnow(), full=full, wait=True)
        took = time.perf_counter() - t0
        click.echo(
            f"contest {contest.id}: {'rebuilt' if full else 'refreshed'} in "
            f"{took:.2f} s, {r.added} attempts added, {r.attempts} counted, "
            f"watermark {r.watermark}, {r.pending} still open"
        )
