"""Create, edit, submit and archive listings; post status updates."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..models import (
    LeikaLeistung,
    Listing,
    ListingStatus,
    ListingTag,
    Organisation,
    OzgLeistung,
    StatusUpdate,
    User,
    utcnow,
)
from ..models.listing_fields import LISTING_FIELDS
from ..permissions import can
from ..schemas.listing import ListingSchema, StatusUpdateSchema, normalise_licence
from . import audit
from .common import flush, load, require, slugify, unique_slug
from .errors import Conflict, Invalid, NotFound
from .lifecycle import Action, transition

log = logging.getLogger(__name__)

# Fields copied 1:1 from validated input onto the model; the lists (tags, OZG-Leistungen,
# LeiKa-Leistungen) are rows of their own and written by _apply.
SIMPLE_FIELDS = tuple(s.name for s in LISTING_FIELDS if not s.is_list)


# Built once: constructing the statement cost more than running it on the listing page.
_BY_ID = select(Listing).where(Listing.id == bindparam("ident"))
_BY_SLUG = select(Listing).where(Listing.slug == bindparam("ident"))


def get_listing(session: Session, user: Any, ident: int | str) -> Listing:
    """Return a listing by id or slug that user may see, or raise NotFound."""
    listing = session.scalar(_BY_ID if isinstance(ident, int) else _BY_SLUG, {"ident": ident})
    if listing is None or not can(user, "listing.view", listing):
        raise NotFound("Diesen Eintrag gibt es nicht oder Sie dürfen ihn nicht sehen.")
    return listing


def _resolve_catalogue(session: Session, data: dict[str, Any]) -> tuple[list[OzgLeistung], list[LeikaLeistung]]:
    errors: dict[str, list[str]] = {}
    ozg_ids = sorted(set(data.get("ozg_ids") or []))
    ozg = list(session.scalars(select(OzgLeistung).where(OzgLeistung.id.in_(ozg_ids)))) if ozg_ids else []
    missing = sorted(set(ozg_ids) - {o.id for o in ozg})
    if missing:
        errors["ozg_ids"] = [f"Unbekannte OZG-ID: {', '.join(map(str, missing))}."]
    keys = sorted({k.strip() for k in data.get("leika_keys") or []})
    leika = list(session.scalars(select(LeikaLeistung).where(LeikaLeistung.key.in_(keys)))) if keys else []
    missing_keys = sorted(set(keys) - {lk.key for lk in leika})
    if missing_keys:
        errors["leika_keys"] = [f"Unbekannter LeiKa-Schlüssel: {', '.join(missing_keys)}."]
    if errors:
        raise Invalid(errors)
    return ozg, leika


def load_listing_input(session: Session, data: Any, partial: bool = False) -> dict[str, Any]:
    """Validate listing input with every rule in one pass: fields, cross-field rules, catalogue.

    A busy officer sees all errors in the first round, not the catalogue's in a second one.
    """
    errors: dict[str, Any] = {}
    try:
        clean = load(ListingSchema(), data, partial=partial)
    except Invalid as err:
        errors, clean = dict(err.errors), err.valid_data
    if not errors.keys() & {"ozg_ids", "leika_keys"} and ("ozg_ids" in clean or "leika_keys" in clean):
        try:
            _resolve_catalogue(session, {"ozg_ids": clean.get("ozg_ids") or [],
                                         "leika_keys": clean.get("leika_keys") or []})
        except Invalid as err:
            errors.update(err.errors)
    if errors:
        raise Invalid(errors)
    return clean


def unique_tags(tags: list[str]) -> list[str]:
    """Return the tags as stored: stripped, without blanks and case-insensitive repeats."""
    wanted: list[str] = []
    for tag in tags:
        t = tag.strip()
        if t and t.lower() not in {w.lower() for w in wanted}:
            wanted.append(t)
    return wanted


def _apply(session: Session, listing: Listing, data: dict[str, Any]) -> None:
    for field in SIMPLE_FIELDS:
        if field in data:
            setattr(listing, field, data[field])
    if data.get("licence"):
        listing.licence = normalise_licence(data["licence"])
    if "ozg_ids" in data or "leika_keys" in data:
        ozg, leika = _resolve_catalogue(
            session,
            {
                "ozg_ids": data.get("ozg_ids", [o.id for o in listing.ozg_leistungen]),
                "leika_keys": data.get("leika_keys", [lk.key for lk in listing.leika_leistungen]),
            },
        )
        listing.ozg_leistungen = ozg
        listing.leika_leistungen = leika
    if "tags" in data:
        existing = {t.tag: t for t in listing.tag_rows}
        listing.tag_rows = [existing.get(t) or ListingTag(tag=t) for t in unique_tags(data["tags"])]
    if listing.reifegrad is None:
        listing.reifegrad_model = None
    listing.updated_at = utcnow()


def create_listing(
    session: Session,
    user: User,
    data: dict[str, Any],
    organisation: Organisation | None = None,
    duplicate_override_reason: str | None = None,
    duplicate_candidates: list[int] | None = None,
) -> Listing:
    """Create a draft listing for the user's (or the given) municipality.

    duplicate_candidates are the ids of the listings the duplicate warning showed, when the
    officer went on with duplicate_override_reason: the reviewers see them.
    """
    org = organisation or user.organisation
    if org is None:
        raise Invalid({"organisation": ["Ihr Konto ist keiner Kommune zugeordnet."]})
    listing = Listing(organisation=org, created_by=user)
    transition(user, listing, Action.CREATE, permission_obj=org)
    clean = load_listing_input(session, data)
    session.add(listing)
    with session.no_autoflush:
        _apply(session, listing, clean)
        listing.slug = unique_slug(session, Listing, slugify(f"{clean['title']} {org.short_name}"))
    if duplicate_override_reason:
        listing.duplicate_override_reason = duplicate_override_reason.strip()[:2000]
    with session.no_autoflush:  # the check's query must not flush the new row into the clash it looks for
        _check_external_id(session, listing)
    flush(session)
    extra = {"duplicate_candidates": [int(i) for i in duplicate_candidates][:20]} if (
        duplicate_override_reason and duplicate_candidates) else {}
    audit.record(session, user, "listing.created", listing, **extra)
    flush(session)
    log.info("listing %s created by user %s", listing.id, user.id)
    return listing


def _check_external_id(session: Session, listing: Listing) -> None:
    if not listing.external_id:
        return
    # A new listing has its organisation object but no organisation_id before the flush.
    org_id = listing.organisation_id if listing.organisation_id is not None else listing.organisation.id
    other = session.scalar(
        select(Listing.id).where(
            Listing.organisation_id == org_id,
            Listing.external_id == listing.external_id,
            Listing.id != (listing.id or -1),
        )
    )
    if other is not None:
        raise Invalid({"external_id": ["Diese externe ID verwendet Ihre Kommune bereits für einen anderen Eintrag."]})


def update_listing(
    session: Session,
    user: User,
    listing: Listing,
    data: dict[str, Any],
    expected_version: int | None,
    partial: bool = False,
) -> Listing:
    """Apply an edit; raise Conflict if the listing changed since expected_version."""
    require(user, "listing.edit", listing)
    clean = load_listing_input(session, data, partial=partial)
    if expected_version is not None and expected_version != listing.version:
        raise Conflict(
            "Jemand anderes hat diesen Eintrag inzwischen geändert.",
            current_version=listing.version,
        )
    with session.no_autoflush:
        transition(user, listing, Action.EDIT)
        _apply(session, listing, clean)
        _check_external_id(session, listing)
    audit.record(session, user, "listing.updated", listing, fields=sorted(clean))
    try:
        flush(session)
    except StaleDataError as err:  # a concurrent writer won the race between check and flush
        raise Conflict("Jemand anderes hat diesen Eintrag inzwischen geändert.") from err
    return listing


def submit_for_review(session: Session, user: User, listing: Listing) -> Listing:
    """Put a draft (or a listing with requested changes) into review."""
    transition(user, listing, Action.SUBMIT)
    audit.record(session, user, "listing.submitted", listing)
    flush(session)
    return listing


def publish_listing(session: Session, user: User, listing: Listing) -> Listing:
    """Publish a draft without review, where every network of its municipality allows it."""
    transition(user, listing, Action.PUBLISH)
    audit.record(session, user, "listing.published", listing, first_publication=True)
    flush(session)
    return listing


def archive_listing(session: Session, user: User, listing: Listing, reason: str = "") -> Listing:
    """Archive a listing (readable afterwards only if it was published)."""
    if listing.status == ListingStatus.ARCHIVED:
        require(user, "listing.archive", listing)
        return listing
    previous = transition(user, listing, Action.ARCHIVE)
    audit.record(session, user, "listing.archived", listing, comment=reason, from_state=previous.value)
    flush(session)
    return listing


def withdraw_listing(session: Session, user: User, listing: Listing) -> Listing:
    """Take a listing in review back to a draft, before the coordination decides."""
    transition(user, listing, Action.WITHDRAW)
    audit.record(session, user, "listing.withdrawn", listing)
    flush(session)
    return listing


def delete_draft(session: Session, user: User, listing: Listing) -> str:
    """Delete a draft that was never submitted and return its title."""
    transition(user, listing, Action.DELETE)
    title = listing.title
    event = audit.record(session, user, "listing.deleted", listing, title=title)
    event.listing_id = None  # the audit trail outlives the row it names
    session.delete(listing)
    flush(session)
    log.info("draft listing %s deleted by user %s", event.object_id, user.id)
    return title


def restore_listing(session: Session, user: User, listing: Listing, comment: str = "") -> Listing:
    """Return an archived listing to the state it was archived from."""
    transition(user, listing, Action.RESTORE)
    audit.record(session, user, "listing.restored", listing, comment=comment, to_state=listing.status)
    flush(session)
    return listing


def post_status_update(session: Session, user: User, listing: Listing, data: dict[str, Any]) -> StatusUpdate:
    """Add an entry to the listing's status timeline, optionally moving its phase."""
    require(user, "listing.post_status", listing)
    clean = load(StatusUpdateSchema(), data)
    update = StatusUpdate(listing=listing, author=user, **clean)
    session.add(update)
    if clean.get("phase") and clean["phase"] != listing.phase:
        listing.phase = clean["phase"]
    listing.updated_at = utcnow()
    session.flush()
    audit.record(session, user, "listing.status_posted", listing, status_update_id=update.id)
    flush(session)
    return update
