"""`flask leaderboard rebuild [--contest ID]`: boards from SQL, RENAMEd in."""

from __future__ import annotations

import click
from sqlalchemy import select

from ..extensions import db
from ..models import Contest
from . import bp
from .services import rebuild


@bp.cli.command("rebuild")
@click.option("--contest", "contest_id", type=int, help="Only this contest.")
def rebuild_command(contest_id: int | None) -> None:
    """Rebuild every board of one or all contests from the database."""
    q = select(Contest)
    if contest_id is not None:
        q = q.where(Contest.id == contest_id)
    contests = list(db.session.scalars(q))
    if not contests:
        raise click.ClickException("no such contest")
    for contest in contests:
        n = rebuild(contest, force=True)
        click.echo(f"contest {contest.id}: {n} citizens on the city board")
