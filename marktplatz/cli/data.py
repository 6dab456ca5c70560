"""`marktplatz data`: reference data and the demo."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from ..core.db import get_session
from .db import upgrade_database


@click.group("data")
def data_group() -> None:
    """Reference data and demo content."""


def _progress_bar(label: str, total: int):
    return click.progressbar(length=total, label=label, file=sys.stderr)


@data_group.command("load-reference")
@with_appcontext
def load_reference_cmd() -> None:
    """Load municipalities, Kreise, the OZG catalogue and LeiKa (idempotent)."""
    from ..services.reference import load_reference

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
    from ..services.demo import load_demo

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
    from ..services.demo import demo_loaded, load_demo
    from ..services.reference import load_reference, reference_loaded

    upgrade_database()
    session = get_session()
    if not reference_loaded(session):
        click.echo("Lade Referenzdaten (Destatis GV100AD, OZG-Katalog, LeiKa) ...")
        load_reference(session)
        session.commit()
    if not demo_loaded(session):
        click.echo("Lade Demo-Inhalte ...")
        load_demo(session)
        session.commit()
    else:  # a demo loaded before the process registers existed gets them once
        from ..services.demo import BAD_SALZUFLEN, LIPPE_NEIGHBOURS
        from ..services.demo_registers import demo_registers_loaded, load_demo_registers

        if not demo_registers_loaded(session, BAD_SALZUFLEN):
            click.echo("Lade Demo-Prozessregister ...")
            load_demo_registers(session, BAD_SALZUFLEN, LIPPE_NEIGHBOURS)
            session.commit()
        from ..services.demo import load_missing_catalogue
        from ..services.demo_catalogue import catalogue_loaded

        if not catalogue_loaded(session):  # and a demo older than the catalogue gets that once
            click.echo("Lade Beispiel-Katalog (Demo) ...")
            load_missing_catalogue(session)
            session.commit()
    for hook in current_app.extensions.get("marktplatz_setup_hooks", []):
        hook()
    click.echo("Daten und Suchindex sind bereit.")


DEMO_LOGINS = [
    ("digital@freiburg.example", "Digitalbeauftragter Freiburg (bietet Hundesteuer an)"),
    ("digital@ettlingen.example", "Digitalbeauftragte/r Ettlingen (nutzt nach)"),
    ("digital@bad-salzuflen.example", "Digitalbeauftragte Bad Salzuflen"),
    ("digital@tangerhuette.example", "Digitalbeauftragter Tangerhütte"),
    ("koordination@andi.example", "Koordination ANDI"),
    ("koordination@lippe.example", "Koordination Digitale Verwaltung Lippe"),
    ("admin@marktplatz.example", "Plattform-Admin"),
]
