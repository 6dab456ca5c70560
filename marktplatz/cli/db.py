"""`marktplatz db`: the schema, migrated with Alembic."""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import with_appcontext


def _alembic_config():
    from alembic.config import Config

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    cfg = Config(os.path.join(root, "alembic.ini"))
    cfg.set_main_option("script_location", os.path.join(root, "migrations"))
    cfg.attributes["database_url"] = current_app.config["DATABASE_URL"]
    return cfg


def upgrade_database(revision: str = "head") -> None:
    """Run the Alembic migrations up to revision for the current app's database."""
    from alembic import command

    command.upgrade(_alembic_config(), revision)


@click.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply the migrations."""
    upgrade_database(revision)
    click.echo("Datenbank ist auf dem neuesten Stand.")
