"""`flask bank import PATH`: load the starter bank or an organizer's file."""

from __future__ import annotations

from pathlib import Path

import click

from ..auth.services import audit
from ..clock import utcnow
from . import bp
from .fileformat import BankFileError
from .services import import_directory, import_file

bp.cli.short_help = "Question bank commands."


@bp.cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def import_command(path: Path) -> None:
    """Import a folder (categories.csv + *.csv) or one CSV/XLSX file."""
    try:
        if path.is_dir():
            result = import_directory(path, now=utcnow())
        else:
            result = import_file(path.read_bytes(), path.name, now=utcnow())
    except BankFileError as exc:
        audit("bank_import", outcome="rejected", ip="cli", obj=path.name, now=utcnow())
        click.echo(f"导入失败，未导入任何题目：{exc.filename}", err=True)
        for err in exc.errors:
            click.echo(f"  {err}", err=True)
        raise SystemExit(1)
    audit(
        "bank_import",
        outcome=f"ok:{result.total}",
        ip="cli",
        obj=f"{path.name} created={result.created},revised={result.revised},"
        f"edited={result.edited},unchanged={result.unchanged}",
        now=utcnow(),
    )
    click.echo(
        f"imported {result.total} questions "
        f"({result.created} new, {result.revised} new revisions, "
        f"{result.edited} edited in place, {result.unchanged} unchanged)"
    )
