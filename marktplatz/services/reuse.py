"""Reuse declarations (Nachnutzung), owned by the reusing municipality, and following."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Follow, Listing, ListingStatus, Reuse, ReuseStageChange, User, utcnow
from ..permissions import can
from ..schemas.listing import ReuseSchema
from . import audit
from .common import flush, load, require
from .errors import Conflict, DomainError, Forbidden, NotFound, unraised


def declare_refusal(user: Any, listing: Listing) -> DomainError | None:
    """Return why user may not declare a reuse of listing, or None if they may (an unraised error)."""
    with unraised():
        if not can(user, "listing.view", listing):
            return NotFound("Diesen Eintrag gibt es nicht oder Sie dürfen ihn nicht sehen.")
        if not can(user, "reuse.declare", listing):
            return Forbidden("Sie haben für diese Aktion keine Berechtigung.")
        if listing.organisation_id == user.organisation_id:
            return Conflict("Die eigene Lösung kann nicht als Nachnutzung erklärt werden.")
        if listing.status != ListingStatus.PUBLISHED:
            return Conflict("Nachnutzung kann nur für veröffentlichte Einträge erklärt werden.")
    return None


def may_declare_reuse(user: Any, listing: Listing) -> bool:
    """Tell whether the page should offer user to declare a reuse of listing."""
    return declare_refusal(user, listing) is None


def declare_reuse(session: Session, user: User, listing: Listing, data: dict[str, Any]) -> Reuse:
    """Declare that the user's municipality reuses listing, at a given stage."""
    refused = declare_refusal(user, listing)
    if refused is not None:
        raise refused.fail()
    clean = load(ReuseSchema(), data)
    existing = session.scalar(
        select(Reuse).where(Reuse.listing_id == listing.id, Reuse.organisation_id == user.organisation_id)
    )
    if existing is not None:
        raise Conflict("Ihre Kommune hat für diesen Eintrag bereits eine Nachnutzung erklärt.", reuse_id=existing.id)
    reuse = Reuse(
        listing=listing,
        organisation_id=user.organisation_id,
        stage=clean["stage"],
        note=clean["note"],
        reason=clean["reason"],
        contact_name=clean["contact_name"] or user.name,
        contact_email=clean["contact_email"] or user.email,
        created_by_id=user.id,
    )
    reuse.history.append(ReuseStageChange(from_stage=None, to_stage=clean["stage"], note=clean["note"], changed_by_id=user.id))
    session.add(reuse)
    session.flush()
    audit.record(session, user, "reuse.declared", reuse, stage=reuse.stage)
    flush(session)
    return reuse


def change_reuse_stage(session: Session, user: User, reuse: Reuse, data: dict[str, Any]) -> Reuse:
    """Move a reuse to another stage and record it in its history."""
    require(user, "reuse.update", reuse)
    clean = load(ReuseSchema(), data)
    old = reuse.stage
    if clean["stage"] == old and not clean["note"]:
        return reuse
    reuse.stage = clean["stage"]
    if clean["stage"] == "discontinued":
        reuse.reason = clean["reason"]
    if clean["contact_name"]:
        reuse.contact_name = clean["contact_name"]
    if clean["contact_email"]:
        reuse.contact_email = clean["contact_email"]
    reuse.updated_at = utcnow()
    reuse.history.append(
        ReuseStageChange(
            from_stage=old,
            to_stage=clean["stage"],
            note=clean["reason"] if clean["stage"] == "discontinued" else clean["note"],
            changed_by_id=user.id,
        )
    )
    audit.record(session, user, "reuse.stage_changed", reuse, from_stage=old, to_stage=reuse.stage)
    flush(session)
    return reuse


def follow(session: Session, user: User, listing: Listing) -> None:
    """Follow a listing (idempotent)."""
    require(user, "listing.follow", listing)
    if not can(user, "listing.view", listing):
        raise NotFound("Diesen Eintrag gibt es nicht oder Sie dürfen ihn nicht sehen.")
    if session.get(Follow, (user.id, listing.id)) is None:
        session.add(Follow(user_id=user.id, listing_id=listing.id))
        flush(session)


def unfollow(session: Session, user: User, listing: Listing) -> None:
    """Stop following a listing (idempotent)."""
    row = session.get(Follow, (user.id, listing.id))
    if row is not None:
        session.delete(row)
        flush(session)


def is_following(session: Session, user: Any, listing: Listing) -> bool:
    """Tell whether user follows listing."""
    if not getattr(user, "is_authenticated", False):
        return False
    return session.get(Follow, (user.id, listing.id)) is not None
