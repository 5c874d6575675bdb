"""`flask leaderboard rebuild [--contest ID] [--best]`: boards from SQL, RENAMEd in."""

from __future__ import annotations

import click
from sqlalchemy import select

from ..extensions import db
from ..models import Contest
from . import bp
from .services import fill_best, rebuild


@bp.cli.command("rebuild")
@click.option("--contest", "contest_id", type=int, help="Only this contest.")
@click.option(
    "--best",
    is_flag=True,
    help="First recompute contest_best (the SQL fallback's table) from the attempts.",
)
def rebuild_command(contest_id: int | None, best: bool) -> None:
    """Rebuild every board of one or all contests from the database."""
    q = select(Contest)
    if contest_id is not None:
        q = q.where(Contest.id == contest_id)
    contests = list(db.session.scalars(q))
    if not contests:
        raise click.ClickException("no such contest")
    for contest in contests:
        if best:
            rows = fill_best(contest)
            db.session.commit()
            click.echo(f"contest {contest.id}: {rows} citizens' bests recomputed")
        n = rebuild(contest, force=True)
        if n is None:
            raise click.ClickException(
                f"contest {contest.id}: the rebuild lost its lock; run it again"
            )
        click.echo(f"contest {contest.id}: {n} citizens on the city board")
