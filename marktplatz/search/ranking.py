"""What a listing's standing adds to its text relevance, and the "Warum oben?" hint.

The score of a hit is ``text relevance x (1 + prior / 100)``. Text relevance is BM25F over
title, summary, body, tags and codes (query.py gives the field weights); the prior is a
bonus in percent for what makes a listing worth reusing:

============================================  =========
live (phase "In Betrieb")                      +40
in progress ("In Umsetzung")                   +10
offered for reuse                              +40
each municipality reusing it in production     +10, at most +50
each other active reuse (pilot, evaluation)    +3, at most +15
Reifegrad: grade / top grade of its model      up to +20
stopped ("Eingestellt")                        -30
archived, or merged into another listing       -60
============================================  =========

So among listings that match a query equally well, a live service offered for reuse that
three towns run comes first (x 2.1), a stopped project last (x 0.7). A listing that matches
the words much better still wins: a title match weighs eight body matches. A query that is a
listing's whole title puts it first whatever its prior (query.EXACT_TITLE_BOOST).
Archived listings and merged duplicates are not searched unless asked for (filter "Auch
archivierte"). The formula is documented in docs/SEARCH.md.
"""

from __future__ import annotations

from typing import Any

from ..models.listing import REIFEGRAD_MODELS

PHASE_BONUS = {"live": 40, "in_progress": 10, "stopped": -30}
OFFERED_BONUS = 40
PRODUCTION_BONUS, PRODUCTION_CAP = 10, 50
ACTIVE_BONUS, ACTIVE_CAP = 3, 15
REIFEGRAD_BONUS = 20
ARCHIVED_MALUS = -60


def _counts(listing: Any) -> tuple[int, int]:
    production = sum(1 for r in listing.reuses if r.stage == "production")
    active = sum(1 for r in listing.reuses if r.stage in ("pilot", "evaluating", "interested"))
    return production, active


def prior(listing: Any) -> int:
    """Return the listing's ranking bonus in percent (never below -90)."""
    bonus = PHASE_BONUS.get(listing.phase or "", 0)
    if listing.reuse_offered:
        bonus += OFFERED_BONUS
    production, active = _counts(listing)
    bonus += min(PRODUCTION_CAP, PRODUCTION_BONUS * production) + min(ACTIVE_CAP, ACTIVE_BONUS * active)
    top = REIFEGRAD_MODELS.get(listing.reifegrad_model or "")
    if listing.reifegrad is not None and top:
        bonus += round(REIFEGRAD_BONUS * min(listing.reifegrad, top) / top)
    if listing.status == "archived" or listing.duplicate_of_id is not None:
        bonus += ARCHIVED_MALUS
    return max(-90, bonus)


def reasons(listing: Any, exact_title: bool = False) -> list[str]:
    """Return the short German reasons a hit ranks high ("Warum oben?"), most important first."""
    out: list[str] = []
    if exact_title:
        out.append("Titel stimmt genau überein")
    if listing.reuse_offered:
        out.append("zur Nachnutzung angeboten")
    production, _active = _counts(listing)
    if production:
        out.append(f"{production} {'Kommune nutzt' if production == 1 else 'Kommunen nutzen'} nach")
    if listing.phase == "live":
        out.append("in Betrieb")
    top = REIFEGRAD_MODELS.get(listing.reifegrad_model or "")
    if listing.reifegrad is not None and top:
        out.append(f"Reifegrad {listing.reifegrad}/{top}")
    return out
