"""`marktplatz user`: accounts."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..core.db import get_session


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

    from ..models import Network, Organisation
    from ..services.accounts import create_user
    from ..services.errors import DomainError, Invalid

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
