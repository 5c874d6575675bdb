"""`flask stats refresh [--contest ID] [--reset]`: fold attempts and
registrations into the staff rollups (after a bulk load or a restore)."""

from __future__ import annotations

import click
from sqlalchemy import select

from ..clock import utcnow
from ..extensions import db
from ..models import Contest
from . import bp, rollup


@bp.cli.command("refresh")
@click.option("--contest", "contest_id", type=int, help="Only this contest.")
@click.option(
    "--reset", is_flag=True, help="Forget the folded figures first and fold again."
)
def refresh_command(contest_id: int | None, reset: bool) -> None:
    """Fold every settled attempt of one or all contests into the rollups."""
    q = select(Contest).order_by(Contest.id)
    if contest_id is not None:
        q = q.where(Contest.id == contest_id)
    contests = list(db.session.scalars(q))
    if not contests:
        raise click.ClickException("no such contest")
    if reset:
        for contest in contests:
            rollup.reset(contest.id)
        rollup.reset_signups()
        db.session.commit()
    for contest in contests:
        rounds = rollup.refresh_all(contest, now=utcnow())
        position = rollup.cursor_position(rollup.contest_cursor(contest.id))
        pending = rollup.pending_count(contest.id)
        click.echo(
            f"contest {contest.id}: {rounds} batches folded, up to attempt "
            f"{position} ({pending} of them still open)"
        )
