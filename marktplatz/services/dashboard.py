"""The "Meine Kommune" dashboard of a signed-in user."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import (
    AuditEvent,
    Follow,
    Listing,
    Reuse,
)
from ..permissions import listing_visibility_filter
from .reuse_suggestions import pending_for

# --- dashboard -----------------------------------------------------------------------

ACTIVITY_LABELS = {
    "listing.updated": "wurde bearbeitet",
    "listing.status_posted": "hat eine Statusmeldung",
    "listing.approved": "wurde veröffentlicht",
    "listing.published": "wurde ohne Prüfung veröffentlicht",
    "listing.archived": "wurde archiviert",
    "listing.unpublished": "wurde zurückgezogen",
    "reuse.declared": "hat eine neue Nachnutzung",
    "reuse.stage_changed": "Nachnutzung hat die Stufe gewechselt",
}


def dashboard(session: Session, user: Any) -> dict[str, Any]:
    """Return own listings, own reuses, suggested reuses, followed listings and their recent changes."""
    org_id = user.organisation_id
    own = list(
        # The reuses in one query: the page shows each listing's count of active reuses.
        session.scalars(select(Listing).where(Listing.organisation_id == org_id)
                        .options(selectinload(Listing.reuses)).order_by(Listing.updated_at.desc()))
    ) if org_id else []
    reuses = list(
        session.scalars(
            select(Reuse).where(Reuse.organisation_id == org_id)
            .options(selectinload(Reuse.listing), selectinload(Reuse.history))
            .order_by(Reuse.updated_at.desc())
        )
    ) if org_id else []
    followed = list(
        session.scalars(
            select(Listing).join(Follow, Follow.listing_id == Listing.id)
            .where(Follow.user_id == user.id, listing_visibility_filter(user)).order_by(Listing.title)
        )
    )
    changes = []
    if followed:
        ids = [f.id for f in followed]
        by_id = {f.id: f for f in followed}
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.listing_id.in_(ids), AuditEvent.action.in_(list(ACTIVITY_LABELS)))
            .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(20)
        )
        for ev in events:
            changes.append({"listing": by_id[ev.listing_id], "label": ACTIVITY_LABELS[ev.action], "at": ev.created_at})
    incoming = list(
        session.scalars(
            select(Reuse).join(Listing, Listing.id == Reuse.listing_id)
            .where(Listing.organisation_id == org_id).options(selectinload(Reuse.listing))
            .order_by(Reuse.updated_at.desc())
        )
    ) if org_id else []
    return {"own": own, "reuses": reuses, "followed": followed, "changes": changes, "incoming": incoming,
            # Named in a publiccode.yml's usedBy: waiting for this municipality to confirm or dismiss.
            "suggestions": pending_for(session, user)}
