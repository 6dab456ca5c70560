"""Factories that build test objects through the service layer."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from marktplatz.models import Listing, Network, NetworkMembership, Organisation, User
from marktplatz.services import accounts, listings, moderation

PASSWORD = "correct-horse-1"
_seq = itertools.count(1)

FREIBURG, MANNHEIM, KARLSRUHE, BAD_SALZUFLEN, LEMGO = "08311000", "08222000", "08212000", "05766008", "05766044"


def org(session: Session, ags: str) -> Organisation:
    """Return the reference organisation with this AGS."""
    found = session.scalar(select(Organisation).where(Organisation.ags == ags))
    assert found is not None, ags
    return found


def network(session: Session, slug: str, *members: str) -> Network:
    """Create a network with the given member AGS."""
    net = Network(slug=slug, name=f"Netzwerk {slug}")
    session.add(net)
    for ags in members:
        net.memberships.append(NetworkMembership(organisation=org(session, ags)))
    session.commit()
    return net


def user(session: Session, role: str = "officer", ags: str | None = FREIBURG, networks: list[Network] | None = None, email: str | None = None) -> User:
    """Create a user through the accounts service."""
    n = next(_seq)
    made = accounts.create_user(
        session,
        email or f"user{n}@example.org",
        f"Test Person {n}",
        PASSWORD,
        role,
        org(session, ags) if ags else None,
        networks,
    )
    session.commit()  # a factory is the edge of its unit of work, as a request is
    return made


def listing_data(**overrides: Any) -> dict[str, Any]:
    """Return valid listing input, with overrides."""
    data: dict[str, Any] = {
        "kind": "dienst",
        "title": f"Hundesteuer online {next(_seq)}",
        "summary": "Hunde online an- und abmelden, ohne Termin im Rathaus.",
        "description": "Ein **Online-Dienst** für die Hundesteuer.",
        "tags": ["Hundesteuer"],
        "ozg_ids": [10160],
        "leika_keys": ["99102013000000"],
        "phase": "live",
        "reifegrad": 3,
        "reifegrad_model": "1.1",
    }
    data.update(overrides)
    return data


def listing(session: Session, owner: User, publish_by: User | None = None, **overrides: Any) -> Listing:
    """Create a listing; publish it when publish_by (a coordinator or admin) is given."""
    item = listings.create_listing(session, owner, listing_data(**overrides))
    if publish_by is not None:
        listings.submit_for_review(session, owner, item)
        moderation.approve(session, publish_by, item)
    session.commit()  # a factory is the edge of its unit of work, as a request is
    return item
