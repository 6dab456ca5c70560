"""Record audit events."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..models import AuditEvent, Listing, Organisation


def record(
    session: Session,
    actor: Any,
    action: str,
    obj: Any,
    comment: str = "",
    **details: Any,
) -> AuditEvent:
    """Add an audit event for action on obj by actor to the session (committed by the caller)."""
    listing_id = obj.id if isinstance(obj, Listing) else getattr(obj, "listing_id", None)
    # A municipality's own events belong to it, so the audit log filters them by municipality too.
    org_id = obj.id if isinstance(obj, Organisation) else getattr(obj, "organisation_id", None)
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        organisation_id=org_id,
        action=action,
        object_type=type(obj).__name__.lower(),
        object_id=getattr(obj, "id", None),
        listing_id=listing_id,
        comment=comment or "",
        details=details,
    )
    # Not stored: what the event's listeners (services.notify) need of the objects themselves.
    event.subject = obj
    event.actor = actor
    session.add(event)
    return event
