"""Review decisions by coordinators: approve, request changes, reject, unpublish."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    AuditEvent,
    Flag,
    Listing,
    ListingStatus,
    Network,
    NetworkMembership,
    Reuse,
    User,
    utcnow,
)
from ..permissions import can, is_moderator, listing_visibility_filter, moderated_organisations
from . import audit
from .common import flush, require
from .errors import Conflict, Invalid, NotFound
from .lifecycle import Action, refusal, transition

__all__ = ["is_moderator"]


def check_reason(comment: str, field: str = "reason") -> str:
    """Return the cleaned reason of a decision that needs one, or raise Invalid naming field."""
    return _need_comment(comment, field)


def _need_comment(comment: str, field: str = "comment") -> str:
    comment = (comment or "").strip()
    if len(comment) < 5:
        raise Invalid({field: ["Bitte kurz begründen (mindestens 5 Zeichen)."]})
    return comment[:5000]


def approve(session: Session, user: User, listing: Listing, comment: str = "") -> Listing:
    """Publish a listing that is in review."""
    first_time = listing.published_at is None
    transition(user, listing, Action.APPROVE)
    listing.review_comment = comment.strip() or None
    audit.record(session, user, "listing.approved", listing, comment=comment, first_publication=first_time)
    flush(session)
    return listing


def _decide(
    session: Session, user: User, listing: Listing, text: str, field: str,
    *, move: Action, action: str,
) -> Listing:
    """Apply a reasoned review decision: check, move the state, audit (the owner is notified of it)."""
    require(user, "listing.review", listing)
    text = _need_comment(text, field)
    transition(user, listing, move)
    listing.review_comment = text
    audit.record(session, user, action, listing, comment=text)
    flush(session)
    return listing


def request_changes(session: Session, user: User, listing: Listing, comment: str) -> Listing:
    """Send a listing in review back to its owner with a comment."""
    return _decide(
        session, user, listing, comment, "comment", move=Action.REQUEST_CHANGES,
        action="listing.changes_requested",
    )


def reject(session: Session, user: User, listing: Listing, reason: str) -> Listing:
    """Reject a listing in review with a reason."""
    return _decide(
        session, user, listing, reason, "reason", move=Action.REJECT,
        action="listing.rejected",
    )


def unpublish(session: Session, user: User, listing: Listing, reason: str) -> Listing:
    """Take a published listing offline (back to the owner for changes) with a reason."""
    return _decide(
        session, user, listing, reason, "reason", move=Action.UNPUBLISH,
        action="listing.unpublished",
    )


def _in_scope(q, user: User):
    """Limit q to listings whose owner is in a network user coordinates (admins: all)."""
    orgs = moderated_organisations(user)
    return q if orgs is None else q.where(Listing.organisation_id.in_(orgs))


QUEUE_AGES = {"7": 7, "14": 14, "30": 30}  # "older than N days" choices of the queue filter


def queue_networks(session: Session, user: User) -> list[Network]:
    """Return the networks user's queue can be filtered by (admins: all)."""
    q = select(Network).order_by(Network.name)
    if not user.is_admin:
        q = q.where(Network.id.in_(sorted(user.coordinated_network_ids) or [-1]))
    return list(session.scalars(q))


def queue_filters(session: Session, user: User, args: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Parse the queue's filter parameters (netzwerk, art, alter); return (filters, errors by field)."""
    from ..models.listing import KINDS

    filters: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    net = (args.get("netzwerk") or "").strip()
    if net:
        found = next((n for n in queue_networks(session, user) if n.slug == net), None)
        if found is None:
            errors["netzwerk"] = ["Dieses Netzwerk koordinieren Sie nicht."]
        else:
            filters["network"] = found
    kind = (args.get("art") or "").strip()
    if kind:
        if kind in KINDS:
            filters["kind"] = kind
        else:
            errors["art"] = ["Bitte eine der angebotenen Arten wählen."]
    age = (args.get("alter") or "").strip()
    if age:
        if age in QUEUE_AGES:
            filters["older_than_days"] = QUEUE_AGES[age]
        else:
            errors["alter"] = ["Bitte eine der angebotenen Wartezeiten wählen."]
    return filters, errors


def review_queue(session: Session, user: User, network: Network | None = None, kind: str | None = None,
                 older_than_days: int | None = None) -> list[Listing]:
    """Return the listings in review that user may decide, oldest submission first.

    Optionally only those of one network's members, of one kind, or waiting longer than
    older_than_days.
    """
    q = select(Listing).where(Listing.status == ListingStatus.IN_REVIEW.value)
    if network is not None:
        q = q.where(Listing.organisation_id.in_(
            select(NetworkMembership.organisation_id).where(NetworkMembership.network_id == network.id)))
    if kind:
        q = q.where(Listing.kind == kind)
    if older_than_days:
        q = q.where(Listing.submitted_at <= utcnow() - timedelta(days=older_than_days))
    items = session.scalars(_in_scope(q, user).order_by(Listing.submitted_at, Listing.id))
    return [item for item in items if can(user, "listing.review", item)]


def overridden_candidates(session: Session, user: User, listing: Listing) -> tuple[list[Listing], bool]:
    """Return the duplicate candidates of listing that user may see, and whether they were stored.

    When the officer went on despite the duplicate warning, the candidates they were shown
    are stored with the creation (audit details); otherwise the current ones are computed.
    """
    from .duplicates import find_duplicates

    created = session.scalar(
        select(AuditEvent).where(AuditEvent.listing_id == listing.id, AuditEvent.action == "listing.created")
        .order_by(AuditEvent.id.desc()).limit(1))
    ids = [int(i) for i in ((created.details or {}).get("duplicate_candidates") or [])] if created else []
    if ids:
        found = {lst.id: lst for lst in session.scalars(select(Listing).where(Listing.id.in_(ids)))}
        return [found[i] for i in ids if i in found and can(user, "listing.view", found[i])], True
    data = {"title": listing.title, "ozg_ids": [o.id for o in listing.ozg_leistungen],
            "leika_keys": [lk.key for lk in listing.leika_leistungen]}
    report = find_duplicates(session, user, data)
    return [m.listing for m in report.matches if m.listing.id != listing.id][:10], False


def recently_changed(session: Session, user: User, days: int = 30, limit: int = 50) -> list[tuple[AuditEvent, Listing]]:
    """Return (edit, listing) for edits to published listings in user's networks, newest first."""
    since = utcnow() - timedelta(days=days)
    q = (
        select(AuditEvent)
        .join(Listing, Listing.id == AuditEvent.listing_id)
        .where(AuditEvent.action == "listing.updated", AuditEvent.created_at >= since,
               Listing.status == ListingStatus.PUBLISHED.value, listing_visibility_filter(user))
    )
    events = session.scalars(_in_scope(q, user).order_by(AuditEvent.created_at.desc()).limit(limit))
    pairs = [(e, session.get(Listing, e.listing_id)) for e in events]
    return [(e, listing) for e, listing in pairs if listing is not None and can(user, "listing.review", listing)]


def listing_for_review(session: Session, user: User, slug: str) -> Listing:
    """Return a listing by slug that user may moderate, or raise NotFound."""
    listing = session.scalar(select(Listing).where(Listing.slug == slug))
    if listing is None or not can(user, "listing.review", listing):
        raise NotFound("Diesen Eintrag gibt es nicht oder Sie dürfen ihn nicht prüfen.")
    return listing


def audit_trail(session: Session, user: User, listing: Listing) -> list[AuditEvent]:
    """Return every recorded transition of listing, oldest first (owner and reviewers)."""
    require(user, "listing.view_audit", listing)
    return list(session.scalars(
        select(AuditEvent).where(AuditEvent.listing_id == listing.id)
        .order_by(AuditEvent.created_at, AuditEvent.id)
    ))


def my_submissions(session: Session, user: User) -> list[Listing]:
    """Return the user's municipality's listings that are in review or need changes."""
    if user.organisation_id is None:
        return []
    return list(session.scalars(
        select(Listing).where(
            Listing.organisation_id == user.organisation_id,
            Listing.status.in_([s.value for s in (ListingStatus.DRAFT, ListingStatus.IN_REVIEW,
                                                   ListingStatus.CHANGES_REQUESTED, ListingStatus.REJECTED)]),
        ).order_by(Listing.updated_at.desc())
    ))


def check_duplicate(user: User, listing: Listing, target: Listing | None) -> None:
    """Raise unless user may archive listing as a duplicate of target (the merge's rules).

    The confirmation page asks this before it shows both listings, so it never shows a
    target the coordinator may not see.
    """
    require(user, "listing.mark_duplicate", listing)
    if target is None or not can(user, "listing.view", target):
        raise Invalid({"target": ["Kein Eintrag mit dieser Adresse gefunden."]})
    if target.id == listing.id:
        raise Invalid({"target": ["Ein Eintrag kann kein Duplikat von sich selbst sein."]})
    if target.status != ListingStatus.PUBLISHED:
        raise Invalid({"target": ["Der Ziel-Eintrag muss veröffentlicht und für Sie sichtbar sein."]})
    if target.duplicate_of_id == listing.id:
        raise Invalid({"target": ["Der Ziel-Eintrag ist selbst als Duplikat dieses Eintrags markiert."]})
    refused = refusal(user, listing, Action.MARK_DUPLICATE)
    if refused is not None and not (listing.status == ListingStatus.ARCHIVED and listing.duplicate_of_id == target.id):
        raise refused.fail()


def mark_duplicate(session: Session, user: User, listing: Listing, target: Listing, comment: str = "") -> Listing:
    """Archive listing as a duplicate of target and invite its reusers to move to target."""
    check_duplicate(user, listing, target)
    if listing.status == ListingStatus.ARCHIVED and listing.duplicate_of_id == target.id:
        return listing
    transition(user, listing, Action.MARK_DUPLICATE)
    listing.duplicate_of_id = target.id
    now = listing.updated_at

    for flag in session.scalars(select(Flag).where(Flag.listing_id == listing.id, Flag.status == "open")):
        flag.status = "resolved"
        flag.resolved_by_id = user.id
        flag.resolved_at = now
        flag.duplicate_of_id = target.id
    audit.record(session, user, "listing.marked_duplicate", listing, comment=comment, duplicate_of=target.id)
    flush(session)
    return listing


def move_reuse(session: Session, user: User, reuse: Reuse, target_listing: Listing) -> Reuse:
    """Move a reuse of a duplicate to the surviving listing in one step."""
    require(user, "reuse.update", reuse)
    if reuse.listing.duplicate_of_id != target_listing.id:
        raise Conflict("Die Nachnutzung kann nur auf den Eintrag übertragen werden, dessen Duplikat sie betrifft.")
    if not can(user, "listing.view", target_listing) or target_listing.status != ListingStatus.PUBLISHED:
        raise NotFound("Diesen Eintrag gibt es nicht oder Sie dürfen ihn nicht sehen.")
    if target_listing.organisation_id == reuse.organisation_id:
        raise Conflict("Die eigene Lösung kann nicht als Nachnutzung erklärt werden.")
    existing = session.scalar(select(Reuse).where(
        Reuse.listing_id == target_listing.id, Reuse.organisation_id == reuse.organisation_id))
    if existing is not None:
        raise Conflict("Ihre Kommune hat für diesen Eintrag bereits eine Nachnutzung erklärt.")
    old_listing_id = reuse.listing_id
    reuse.listing = target_listing
    reuse.updated_at = utcnow()
    session.flush()
    audit.record(session, user, "reuse.moved", reuse, from_listing=old_listing_id)
    flush(session)
    return reuse
