"""Review decisions by coordinators: approve, request changes, reject, unpublish."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import Listing, User, utcnow
from . import audit, notify
from .common import commit, require
from .errors import Conflict, Invalid


def _need_comment(comment: str, field: str = "comment") -> str:
    comment = (comment or "").strip()
    if len(comment) < 5:
        raise Invalid({field: ["Bitte kurz begründen (mindestens 5 Zeichen)."]})
    return comment[:5000]


def approve(session: Session, user: User, listing: Listing, comment: str = "") -> Listing:
    """Publish a listing that is in review."""
    require(user, "listing.review", listing)
    if listing.status != "in_review":
        raise Conflict("Nur Einträge in Prüfung können freigegeben werden.")
    listing.status = "published"
    listing.published_at = listing.published_at or utcnow()
    listing.review_comment = comment.strip() or None
    listing.updated_at = utcnow()
    audit.record(session, user, "listing.approved", listing, comment=comment)
    commit(session)
    notify.review_outcome(session, listing, f"„{listing.title}“ wurde freigegeben und ist veröffentlicht.")
    return listing


def request_changes(session: Session, user: User, listing: Listing, comment: str) -> Listing:
    """Send a listing in review back to its owner with a comment."""
    require(user, "listing.review", listing)
    comment = _need_comment(comment)
    if listing.status != "in_review":
        raise Conflict("Nur Einträge in Prüfung können zurückgegeben werden.")
    listing.status = "changes_requested"
    listing.review_comment = comment
    listing.updated_at = utcnow()
    audit.record(session, user, "listing.changes_requested", listing, comment=comment)
    commit(session)
    notify.review_outcome(session, listing, f"Zu „{listing.title}“ wurden Änderungen erbeten: {comment}")
    return listing


def reject(session: Session, user: User, listing: Listing, reason: str) -> Listing:
    """Reject a listing in review with a reason."""
    require(user, "listing.review", listing)
    reason = _need_comment(reason, "reason")
    if listing.status != "in_review":
        raise Conflict("Nur Einträge in Prüfung können abgelehnt werden.")
    listing.status = "rejected"
    listing.review_comment = reason
    listing.updated_at = utcnow()
    audit.record(session, user, "listing.rejected", listing, comment=reason)
    commit(session)
    notify.review_outcome(session, listing, f"„{listing.title}“ wurde abgelehnt: {reason}")
    return listing


def unpublish(session: Session, user: User, listing: Listing, reason: str) -> Listing:
    """Take a published listing offline (back to draft) with a reason."""
    require(user, "listing.review", listing)
    reason = _need_comment(reason, "reason")
    if listing.status != "published":
        raise Conflict("Nur veröffentlichte Einträge können zurückgezogen werden.")
    listing.status = "changes_requested"
    listing.review_comment = reason
    listing.updated_at = utcnow()
    audit.record(session, user, "listing.unpublished", listing, comment=reason)
    commit(session)
    notify.review_outcome(session, listing, f"„{listing.title}“ wurde von der Koordination zurückgezogen: {reason}")
    return listing
