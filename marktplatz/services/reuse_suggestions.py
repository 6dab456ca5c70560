"""Suggested reuses from publiccode.yml usedBy: record them at import, confirm or dismiss them.

A name matched to one municipality (services/usedby.py) becomes a *suggestion* of that
municipality's reuse. Only an officer of that municipality turns it into a declared reuse
(through reuse.declare_reuse, so its rules, notifications and change log apply) or
dismisses it. Names that match no municipality, or several, are kept as written and shown
as "laut publiccode.yml" on the listing page. Suggestions live in their own table: no read
of declared reuse (counts, matrix, statistics, API, feed, exports) sees them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from ..models import Listing, ListingStatus, Reuse, ReuseSuggestion, User, utcnow
from ..models.listing import REUSE_STAGES
from ..permissions import can, listing_visibility_filter
from . import audit, changelog
from .common import flush, require
from .errors import Conflict, Invalid, NotFound
from .reuse import declare_reuse
from .usedby import MAX_NAMES, clean, match_names, normalise

SOURCE = "publiccode.yml"
#: The stages a suggestion can be confirmed with ("eingestellt" is not a use: dismiss it).
CONFIRM_STAGES = {k: v for k, v in REUSE_STAGES.items() if k != "discontinued"}
DEFAULT_STAGE = "production"  # usedBy says the software is in use


def used_by_names(raw: Any) -> list[str]:
    """Return the distinct names of a usedBy value (at most MAX_NAMES), in file order."""
    if not isinstance(raw, list):
        return []
    out: list[str] = []
    seen: set[str] = set()
    for item in raw[:MAX_NAMES]:
        name = clean(item)
        if name is None or not normalise(name) or normalise(name) in seen:
            continue
        seen.add(normalise(name))
        out.append(name)
    return out


def record_used_by(session: Session, listing: Listing, names: list[str]) -> dict[str, int]:
    """Bring the listing's suggestions in line with the usedBy names of its latest file.

    Idempotent: a municipality already suggested, confirmed or dismissed is not suggested
    again, nor one that declared its reuse already, nor the publisher itself. A pending
    suggestion whose name the file no longer lists is withdrawn; unmatched names mirror the
    file. Returns how many names were suggested anew, are pending and stay unmatched.
    """
    matches = match_names(session, names)
    rows = list(session.scalars(select(ReuseSuggestion).where(ReuseSuggestion.listing_id == listing.id)))
    by_org = {r.organisation_id: r for r in rows if r.organisation_id is not None}
    declared = set(session.scalars(select(Reuse.organisation_id).where(Reuse.listing_id == listing.id)))
    wanted: dict[int, tuple[int, str]] = {}
    unmatched: list[tuple[int, str, int]] = []
    for position, m in enumerate(matches):
        if m.organisation_id is None:
            unmatched.append((position, m.name, m.candidates))
        elif m.organisation_id != listing.organisation_id and m.organisation_id not in wanted:
            wanted[m.organisation_id] = (position, m.name)
    changed = False
    added = 0
    for org_id, row in by_org.items():
        if row.state == "suggested" and (org_id not in wanted or org_id in declared):
            session.delete(row)
            changed = True
    for org_id, (position, name) in wanted.items():
        row = by_org.get(org_id)
        if row is None and org_id not in declared:
            session.add(ReuseSuggestion(listing_id=listing.id, organisation_id=org_id, source=SOURCE, name=name,
                                        state="suggested", candidates=1, position=position))
            changed = True
            added += 1
        elif row is not None and row.state == "suggested" and org_id not in declared \
                and (row.name, row.position) != (name, position):
            row.name, row.position = name, position
            changed = True
    old = sorted((r.position, r.name, r.candidates) for r in rows if r.state == "unmatched")
    if old != sorted(unmatched):
        for r in rows:
            if r.state == "unmatched":
                session.delete(r)
        session.flush()  # the old rows go before the new ones come
        for position, name, candidates in unmatched:
            session.add(ReuseSuggestion(listing_id=listing.id, organisation_id=None, source=SOURCE, name=name,
                                        state="unmatched", candidates=candidates, position=position))
        changed = True
    if changed:
        session.flush()
        # The listing page and its cached copy show the names: readers must see them change.
        changelog.record(session, listing)
    pending = sum(1 for org_id in wanted if org_id not in declared
                  and (by_org.get(org_id) is None or by_org[org_id].state == "suggested"))
    return {"suggested": added, "pending": pending, "unmatched": len(unmatched)}


def _not_declared():
    return ~exists(select(Reuse.id).where(Reuse.listing_id == ReuseSuggestion.listing_id,
                                          Reuse.organisation_id == ReuseSuggestion.organisation_id))


def pending_for(session: Session, user: Any) -> list[ReuseSuggestion]:
    """Return the suggestions the user's municipality may confirm: published listings it may see."""
    org_id = getattr(user, "organisation_id", None)
    if not org_id:
        return []
    return list(session.scalars(
        select(ReuseSuggestion)
        .join(Listing, Listing.id == ReuseSuggestion.listing_id)
        .where(ReuseSuggestion.organisation_id == org_id, ReuseSuggestion.state == "suggested",
               Listing.status == ListingStatus.PUBLISHED.value, listing_visibility_filter(user), _not_declared())
        .options(selectinload(ReuseSuggestion.listing).selectinload(Listing.organisation))
        .order_by(ReuseSuggestion.created_at.desc(), ReuseSuggestion.id.desc())
    ))


def listing_used_by(session: Session, listing: Listing) -> list[dict[str, Any]]:
    """Return what the listing's publiccode.yml says about its users and is not declared reuse.

    Names matching no municipality or several (as written), and matched ones still waiting
    for the municipality. The caller has checked that the viewer may see the listing.
    """
    rows = session.scalars(
        select(ReuseSuggestion)
        .where(ReuseSuggestion.listing_id == listing.id, ReuseSuggestion.state.in_(("suggested", "unmatched")),
               (ReuseSuggestion.organisation_id.is_(None)) | _not_declared())
        .options(selectinload(ReuseSuggestion.organisation))
        .order_by(ReuseSuggestion.position, ReuseSuggestion.id)
    )
    return [{"name": r.name, "organisation": r.organisation, "pending": r.state == "suggested",
             "ambiguous": r.state == "unmatched" and r.candidates > 1} for r in rows]


def get_suggestion(session: Session, user: Any, suggestion_id: int) -> ReuseSuggestion:
    """Return the suggestion, or raise NotFound if it is missing or on a listing the user may not see."""
    row = session.get(ReuseSuggestion, suggestion_id)
    if row is None or row.organisation_id is None or not can(user, "listing.view", row.listing):
        raise NotFound("Diesen Vorschlag gibt es nicht.")
    return row


def _open(user: User, row: ReuseSuggestion) -> None:
    require(user, "reuse_suggestion.decide", row)
    if row.state != "suggested":
        raise Conflict(f"Dieser Vorschlag ist bereits erledigt ({row.state_label}).")


def confirm(session: Session, user: User, row: ReuseSuggestion, data: dict[str, Any]) -> Reuse:
    """Confirm a suggestion at a stage: declare the reuse through the reuse service."""
    _open(user, row)
    stage = data.get("stage")
    if stage not in CONFIRM_STAGES:
        raise Invalid({"stage": ["Bitte wählen Sie eine Stufe: " + ", ".join(CONFIRM_STAGES.values()) + "."]})
    reuse = declare_reuse(session, user, row.listing, {
        "stage": stage, "note": f"Bestätigt aus der publiccode.yml (usedBy: „{row.name}“)."})
    row.state = "confirmed"
    row.decided_at = utcnow()
    row.decided_by_id = user.id
    audit.record(session, user, "reuse_suggestion.confirmed", row, reuse_id=reuse.id, stage=stage)
    flush(session)
    return reuse


def dismiss(session: Session, user: User, row: ReuseSuggestion) -> ReuseSuggestion:
    """Dismiss a suggestion: the municipality does not use it; never suggested again."""
    _open(user, row)
    row.state = "dismissed"
    row.decided_at = utcnow()
    row.decided_by_id = user.id
    audit.record(session, user, "reuse_suggestion.dismissed", row)
    session.flush()
    changelog.record(session, row.listing)  # the listing page no longer names it
    flush(session)
    return row


__all__ = ["CONFIRM_STAGES", "DEFAULT_STAGE", "SOURCE", "confirm", "dismiss", "get_suggestion",
           "listing_used_by", "pending_for", "record_used_by", "used_by_names"]
