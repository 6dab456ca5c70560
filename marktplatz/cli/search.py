"""`marktplatz search ...`: rebuild the index, catch up, follow the change log, show its state."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("search")
def search_group() -> None:
    """Full-text search index."""


@search_group.command("rebuild")
@with_appcontext
def rebuild_cmd() -> None:
    """Build a fresh index beside the live one and swap it in atomically."""
    from ..core.db import get_session
    from ..search import catch_up, rebuild_index
    from ..search.index import count_documents

    total = count_documents(get_session())
    with click.progressbar(length=total, label="Suchindex", file=sys.stderr) as bar:
        path = rebuild_index(lambda n: bar.update(n))
    applied = catch_up()
    click.echo(f"Suchindex neu aufgebaut: {path} ({total} Dokumente, {applied} Änderungen nachgezogen).")


@search_group.command("catch-up")
@with_appcontext
def catch_up_cmd() -> None:
    """Apply pending database changes to the index."""
    from ..search import catch_up

    click.echo(f"{catch_up()} Änderungen übernommen.")


@search_group.command("follow")
@with_appcontext
def follow_cmd() -> None:
    """Keep the index following the change log (what `marktplatz worker` does besides its queue).

    For an app server with an index directory of its own, beside the one the worker follows.
    """
    import logging
    import signal
    import threading

    from .worker import follow_index

    logging.basicConfig(level=logging.INFO, format="%(asctime)s search-follow %(levelname)s %(message)s")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_a: stopping.set())
    signal.signal(signal.SIGINT, lambda *_a: stopping.set())
    app = current_app._get_current_object()
    follow_index(app, stopping, float(app.config["SEARCH_POLL_SECONDS"]))


@search_group.command("status")
@with_appcontext
def status_cmd() -> None:
    """Show the live index directory, its state and position."""
    from ..search.index import check, current_generation, read_position

    root = current_app.config["INDEX_DIR"]
    gen = current_generation(root)
    click.echo(f"Verzeichnis: {root}")
    click.echo(f"Aktuell: {gen or '-'}")
    click.echo(f"Zustand: {check(root) or 'in Ordnung'}")
    if gen:
        try:
            click.echo(f"Position: {read_position(gen)}")
        except (OSError, ValueError):
            click.echo("Position: unbekannt")
