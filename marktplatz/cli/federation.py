"""`marktplatz federation follow|list|pull|unfollow`: mirror other Marktplatz instances.

The worker pulls every followed instance when its interval has passed (cli/worker.py);
`pull` does it now, for one instance or all.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import func, select

from ..core.db import get_session
from ..models import FederationSource, Listing
from ..services import federation
from ..services.errors import Invalid


@click.group("federation")
def federation_group() -> None:
    """Follow other Marktplatz instances and mirror their public listings and reuses."""


def _fail(err: Invalid) -> None:
    for name, messages in err.errors.items():
        for message in messages if isinstance(messages, list) else [messages]:
            click.echo(f"{name}: {message}", err=True)
    raise SystemExit(2)


def _source(session, url: str) -> FederationSource:
    try:
        base = federation.normalise_url(url)
    except Invalid as err:
        _fail(err)
    source = session.scalar(select(FederationSource).where(FederationSource.url == base))
    if source is None:
        click.echo(f"Diesem Marktplatz wird nicht gefolgt: {base}", err=True)
        raise SystemExit(2)
    return source


@federation_group.command("follow")
@click.argument("url")
@click.option("--name", default=None, help='Shown on mirrored listings as "aus NAME" (default: the host name)')
@click.option("--every", "interval", default=15, show_default=True, type=int, help="Minutes between pulls by the worker")
@click.option("--no-pull", is_flag=True, help="Only register; the worker pulls later")
@with_appcontext
def follow(url: str, name: str | None, interval: int, no_pull: bool) -> None:
    """Follow the instance at URL (its change feed must answer) and pull it once."""
    session = get_session()
    try:
        source = federation.follow(session, url, name, interval)
    except Invalid as err:
        session.rollback()
        _fail(err)
    session.commit()
    click.echo(f"Gefolgt: {source.name} ({source.url}), alle {source.interval_minutes} Minuten.")
    if not no_pull:
        _pull(session, source)


def _pull(session, source: FederationSource) -> bool:
    while True:  # pull until caught up: the CLI has no worker round to share
        result = federation.pull(session, source, commit=session.commit)
        if result.error or result.caught_up:
            break
    count = session.scalar(select(func.count(Listing.id)).where(Listing.origin_id == source.id))
    line = f"{source.name}: {count} Einträge gespiegelt"
    if source.last_skipped:
        line += f"; übersprungen: {source.last_skipped}"
    click.echo(line)
    if result.error:
        click.echo(f"{source.name}: Abruf fehlgeschlagen: {result.error}", err=True)
    return result.error is None


@federation_group.command("pull")
@click.argument("url", required=False)
@with_appcontext
def pull(url: str | None) -> None:
    """Pull the instance at URL now, or every followed instance."""
    session = get_session()
    sources = [_source(session, url)] if url else list(session.scalars(select(FederationSource).order_by(FederationSource.id)))
    ok = all([_pull(session, s) for s in sources])
    raise SystemExit(0 if ok else 1)


@federation_group.command("list")
@with_appcontext
def list_sources() -> None:
    """List the followed instances with their last pull."""
    session = get_session()
    for s in session.scalars(select(FederationSource).order_by(FederationSource.id)):
        count = session.scalar(select(func.count(Listing.id)).where(Listing.origin_id == s.id))
        last = s.last_ok_at.isoformat(timespec="seconds") if s.last_ok_at else "nie"
        state = f"Fehler: {s.last_error}" if s.last_error else "ok"
        click.echo(f"{s.url}\t{s.name}\t{count} Einträge\tzuletzt erfolgreich: {last}\t{state}")


@federation_group.command("unfollow")
@click.argument("url")
@with_appcontext
def unfollow(url: str) -> None:
    """Stop following URL and remove what was mirrored from it."""
    session = get_session()
    source = _source(session, url)
    name = source.name
    removed = federation.unfollow(session, source)
    session.commit()
    click.echo(f"{name}: nicht mehr gefolgt, {removed} gespiegelte Einträge entfernt.")
