"""Command line: `marktplatz db|data|user ...`, all calling the services."""

from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from .db import get_session


def _app_factory() -> Flask:
    from . import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_app_factory, add_default_commands=True)
def main() -> None:
    """Marktplatz: manage the database, reference data, users and more."""


def _alembic_config():
    from alembic.config import Config

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


@click.group("data")
def data_group() -> None:
    """Reference data and demo content."""


def _progress_bar(label: str, total: int):
    return click.progressbar(length=total, label=label, file=sys.stderr)


@data_group.command("load-reference")
@with_appcontext
def load_reference_cmd() -> None:
    """Load municipalities, Kreise, the OZG catalogue and LeiKa (idempotent)."""
    from .services.reference import load_reference

    session = get_session()
    totals = {"Länder": 16, "Themenfelder": 14, "Lebenslagen": 55, "OZG-Leistungen": 557,
              "LeiKa-Leistungen": 4797, "Kommunen und Kreise": 11381}
    with _progress_bar("Referenzdaten", sum(totals.values())) as bar:
        added = load_reference(session, lambda _label, n: bar.update(n))
    click.echo("Neu geladen: " + ", ".join(f"{k}={v}" for k, v in added.items()))


@data_group.command("load-demo")
@with_appcontext
def load_demo_cmd() -> None:
    """Load demo networks, accounts and listings (only into an empty marketplace)."""
    from .services.demo import load_demo

    session = get_session()
    result = load_demo(session, lambda label, n: click.echo(f"  {label}: {n}", err=True))
    if result:
        click.echo(f"Demo-Inhalte geladen: {result}")
    else:
        click.echo("Demo-Inhalte sind bereits vorhanden.")


@data_group.command("setup")
@with_appcontext
def setup_cmd() -> None:
    """Migrate, load reference data and demo content if missing (used by make run)."""
    from .services.demo import DEMO_PASSWORD, demo_loaded, load_demo
    from .services.reference import load_reference, reference_loaded

    upgrade_database()
    session = get_session()
    if not reference_loaded(session):
        click.echo("Lade Referenzdaten (Destatis GV100AD, OZG-Katalog, LeiKa) ...")
        load_reference(session)
    if not demo_loaded(session):
        click.echo("Lade Demo-Inhalte ...")
        load_demo(session)
    for hook in current_app.extensions.get("marktplatz_setup_hooks", []):
        hook()
    click.echo("")
    click.echo(f"Demo-Zugänge (Passwort für alle: {DEMO_PASSWORD}):")
    for email, role in DEMO_LOGINS:
        click.echo(f"  {email:38s} {role}")


DEMO_LOGINS = [
    ("digital@freiburg.example", "Digitalbeauftragter Freiburg (bietet Hundesteuer an)"),
    ("digital@ettlingen.example", "Digitalbeauftragte/r Ettlingen (nutzt nach)"),
    ("digital@bad-salzuflen.example", "Digitalbeauftragte Bad Salzuflen"),
    ("digital@tangerhuette.example", "Digitalbeauftragter Tangerhütte"),
    ("koordination@andi.example", "Koordination ANDI"),
    ("koordination@lippe.example", "Koordination Digitale Verwaltung Lippe"),
    ("admin@marktplatz.example", "Plattform-Admin"),
]


@click.group("user")
def user_group() -> None:
    """User accounts."""


@user_group.command("create")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["officer", "coordinator", "admin"]), default="officer", show_default=True)
@click.option("--ags", help="AGS of the user's municipality (officers, coordinators)")
@click.option("--network", "networks", multiple=True, help="Slug of a network the coordinator moderates")
@click.password_option()
@with_appcontext
def user_create(email: str, name: str, role: str, ags: str | None, networks: tuple[str, ...], password: str) -> None:
    """Create a user account."""
    from sqlalchemy import select

    from .models import Network, Organisation
    from .services.accounts import create_user
    from .services.errors import DomainError, Invalid

    session = get_session()
    org = None
    if ags:
        org = session.scalar(select(Organisation).where(Organisation.ags == ags))
        if org is None:
            raise click.BadParameter(f"Keine Kommune mit AGS {ags}.", param_hint="--ags")
    nets = []
    for slug in networks:
        net = session.scalar(select(Network).where(Network.slug == slug))
        if net is None:
            raise click.BadParameter(f"Kein Netzwerk {slug!r}.", param_hint="--network")
        nets.append(net)
    try:
        user = create_user(session, email, name, password, role, org, nets)
    except Invalid as err:
        for field, msgs in err.errors.items():
            click.echo(f"{field}: {' '.join(msgs)}", err=True)
        sys.exit(1)
    except DomainError as err:
        click.echo(err.message, err=True)
        sys.exit(1)
    click.echo(f"Konto {user.email} ({user.role}) angelegt.")


def init_app(app: Flask) -> None:
    """Register the command groups on the app."""
    app.extensions.setdefault("marktplatz_setup_hooks", [])
    from . import backup_cli
    from .sync_cli import sync_group
    from .worker import worker_command

    for group in (db_group, data_group, user_group, worker_command, sync_group):
        app.cli.add_command(group)
    backup_cli.init_app(app)

    from .search.cli import search_group

    app.cli.add_command(search_group)
