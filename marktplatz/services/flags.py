"""Flags: officers report listings; coordinators resolve or dismiss the reports."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Flag, Listing, User, utcnow
from ..models.listing import FLAG_REASONS
from ..permissions import can, moderated_organisations
from . import audit, moderation
from .common import flush, require
from .errors import Conflict, Invalid, NotFound


def flag_listing(
    session: Session, user: User, listing: Listing, reason: str, comment: str = "",
    duplicate_of: Listing | None = None,
) -> Flag:
    """Report listing to its coordinators (outdated, wrong, duplicate, inappropriate)."""
    require(user, "listing.flag", listing)
    if not can(user, "listing.view", listing):
        raise NotFound("Diesen Eintrag gibt es nicht oder Sie dürfen ihn nicht sehen.")
    if reason not in FLAG_REASONS:
        raise Invalid({"reason": ["Bitte einen Grund auswählen."]})
    comment = (comment or "").strip()[:2000]
    if reason in ("wrong", "inappropriate") and len(comment) < 5:
        raise Invalid({"comment": ["Bitte kurz beschreiben, was nicht stimmt (mindestens 5 Zeichen)."]})
    if duplicate_of is not None and duplicate_of.id == listing.id:
        raise Invalid({"duplicate_of": ["Ein Eintrag kann kein Duplikat von sich selbst sein."]})
    existing = session.scalar(select(Flag).where(
        Flag.listing_id == listing.id, Flag.reporter_id == user.id, Flag.reason == reason,
        Flag.status == "open"))
    if existing is not None:
        raise Conflict("Sie haben diesen Eintrag aus diesem Grund bereits gemeldet.")
    flag = Flag(listing=listing, reporter=user, reason=reason, comment=comment,
                duplicate_of_id=duplicate_of.id if duplicate_of is not None else None)
    session.add(flag)
    session.flush()
    audit.record(session, user, "listing.flagged", listing, comment=comment, reason=reason, flag_id=flag.id)
    flush(session)
    return flag


def open_flags(session: Session, user: User) -> list[Flag]:
    """Return the open flags on listings user coordinates, oldest first."""
    q = select(Flag).join(Listing, Listing.id == Flag.listing_id).where(Flag.status == "open")
    orgs = moderated_organisations(user)
    if orgs is not None:
        q = q.where(Listing.organisation_id.in_(orgs))
    return [f for f in session.scalars(q.order_by(Flag.created_at)) if can(user, "flag.resolve", f.listing)]


def _get(session: Session, user: User, flag_id: int) -> Flag:
    flag = session.get(Flag, flag_id)
    if flag is None:
        raise NotFound("Diese Meldung gibt es nicht.")
    require(user, "flag.resolve", flag.listing)
    if flag.status != "open":
        raise Conflict("Diese Meldung ist bereits erledigt.")
    return flag


def resolve_flag(session: Session, user: User, flag_id: int, dismiss: bool = False, comment: str = "") -> Flag:
    """Close a flag as resolved (acted upon) or dismissed (no action needed)."""
    flag = _get(session, user, flag_id)
    flag.status = "dismissed" if dismiss else "resolved"
    flag.resolved_by_id = user.id
    flag.resolved_at = utcnow()
    audit.record(session, user, f"flag.{flag.status}", flag.listing, comment=comment, flag_id=flag.id)
    flush(session)
    return flag


def resolve_as_duplicate(session: Session, user: User, flag_id: int, target: Listing, comment: str = "") -> Flag:
    """Act on a duplicate flag: archive the listing as duplicate of target."""
    flag = _get(session, user, flag_id)
    moderation.mark_duplicate(session, user, flag.listing, target, comment)
    session.refresh(flag)
    return flag
