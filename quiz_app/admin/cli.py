"""`flask regions population`: set one region's population, or many from a
CSV file (code,population), all or nothing."""

from __future__ import annotations

from pathlib import Path

import click

from ..clock import utcnow
from . import bp, populations


@bp.cli.command("population")
@click.argument("code", required=False)
@click.argument("value", required=False)
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A CSV of code,population rows (blank population = unknown).",
)
def population_command(code: str | None, value: str | None, path: Path | None):
    """Set CODE's population to VALUE (1..20000000, or "-" for unknown), or
    every row of --file; nothing changes if any row is bad."""
    if path is not None:
        if code or value:
            raise click.UsageError("give CODE VALUE or --file, not both")
        try:
            values = populations.read_population_file(path.read_bytes())
        except populations.PopulationError as exc:
            raise click.ClickException(_lines(exc))
    else:
        if not code or value is None:
            raise click.UsageError("give CODE VALUE, or --file populations.csv")
        ok, number = populations.parse_population("" if value == "-" else value)
        if not ok:
            raise click.ClickException(f"{code}: {populations.RANGE_MESSAGE}")
        values = {code: number}
    try:
        changed = populations.set_populations(
            values, actor=None, ip="cli", now=utcnow()
        )
    except populations.PopulationError as exc:
        raise click.ClickException(_lines(exc))
    click.echo(f"populations: {len(values)} given, {changed} changed")


def _lines(exc: populations.PopulationError) -> str:
    return "nothing changed:\n" + "\n".join(
        f"  {k}: {v}" for k, v in exc.problems.items()
    )
