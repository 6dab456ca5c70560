"""The one `marktplatz` command group: db, data, user, search, backup, sync, federation, worker, serve."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def _app_factory() -> Flask:
    from .. import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_app_factory, add_default_commands=True)
def main() -> None:
    """Marktplatz: manage the database, reference data, users and more."""


def init_app(app: Flask) -> None:
    """Register the command groups on the app."""
    app.extensions.setdefault("marktplatz_setup_hooks", [])
    from . import backup
    from .data import data_group
    from .db import db_group
    from .federation import federation_group
    from .search import search_group
    from .serve import serve_command
    from .sync import sync_group
    from .user import user_group
    from .worker import worker_command

    for group in (db_group, data_group, user_group, search_group, worker_command, sync_group,
                  federation_group, serve_command):
        app.cli.add_command(group)
    backup.init_app(app)
