"""Command line: `marktplatz export FILE` and `marktplatz import FILE` (backup and restore)."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import with_appcontext

from ..core.db import get_engine


@click.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def export_cmd(path: str) -> None:
    """Write every table to a JSON dump (gzip-compressed if PATH ends in .gz)."""
    from ..services.backup import export_dump, open_dump

    with open_dump(path, "w") as out:
        counts = export_dump(get_engine(), out, lambda name, n: click.echo(f"  {name}: {n}", err=True))
    click.echo(f"Export geschrieben: {path} ({sum(counts.values())} Zeilen aus {len(counts)} Tabellen).")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def import_cmd(path: str) -> None:
    """Restore a JSON dump into an empty, migrated database."""
    from ..services.backup import BackupError, import_dump, open_dump

    try:
        with open_dump(path, "r") as inp:
            counts = import_dump(
                get_engine(), inp, lambda name, n: click.echo(f"  {name}: {n}", err=True)
            )
    except BackupError as err:
        click.echo(f"Import abgebrochen: {err}", err=True)
        sys.exit(1)
    click.echo(f"Import abgeschlossen: {sum(counts.values())} Zeilen in {len(counts)} Tabellen. "
               "Planer-Statistiken aktualisiert (ANALYZE): die Datenbank ist bereit.")


def init_app(app: Flask) -> None:
    """Register the export and import commands."""
    app.cli.add_command(export_cmd)
    app.cli.add_command(import_cmd)
