"""Bulk upsert of a municipality's listings keyed by external_id (the API's sync endpoint).

One transaction per batch with a savepoint per item: an item that fails validation or a
database constraint is rolled back alone and reported, the others are committed together.
The rules are those of services.listings (same schema, same _apply, same permission
checks and audit events); only the commit strategy differs, which is what makes
500 items a request fast.
"""

from __future__ import annotations

import logging
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ..models import LeikaLeistung, Listing, Organisation, OzgLeistung, User, utcnow
from ..schemas.listing import ListingSchema, normalise_licence
from . import audit, notify
from .common import commit, load, require, slugify, unique_slug
from .errors import DomainError, Invalid
from .listings import SIMPLE_FIELDS, _apply, _check_external_id

log = logging.getLogger(__name__)

MAX_ITEMS = 500
INPUT_FIELDS = SIMPLE_FIELDS + ("tags", "ozg_ids", "leika_keys")


def listing_input(listing: Listing) -> dict[str, Any]:
    """Return the listing in the input format of ListingSchema (for PATCH and comparisons)."""
    data = {f: getattr(listing, f) for f in SIMPLE_FIELDS}
    data["tags"] = list(listing.tags)
    data["ozg_ids"] = [o.id for o in listing.ozg_leistungen]
    data["leika_keys"] = [lk.key for lk in listing.leika_leistungen]
    return data


def _canonical(data: dict[str, Any]) -> dict[str, Any]:
    """Normalise validated input the way _apply stores it, to detect unchanged items."""
    out = {f: data.get(f) for f in SIMPLE_FIELDS}
    if out.get("licence"):
        try:
            out["licence"] = normalise_licence(out["licence"])
        except ValidationError:
            pass
    if out.get("reifegrad") is None:
        out["reifegrad_model"] = None
    tags: list[str] = []
    for tag in data.get("tags") or []:
        t = tag.strip()
        if t and t.lower() not in {w.lower() for w in tags}:
            tags.append(t)
    out["tags"] = sorted(tags)
    out["ozg_ids"] = sorted(set(data.get("ozg_ids") or []))
    out["leika_keys"] = sorted({k.strip() for k in data.get("leika_keys") or []})
    return out


def _item_result(index: int, ext: Any, result: str, listing_id: int | None = None,
                 errors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "index": index,
        "external_id": ext if isinstance(ext, str) else None,
        "result": result,
        "id": listing_id,
        "errors": errors or {},
    }


def sync_listings(
    session: Session, user: User, organisation: Organisation, items: list[Any], full_sync: bool = False
) -> dict[str, Any]:
    """Upsert items as listings of organisation; with full_sync archive the missing ones."""
    if len(items) > MAX_ITEMS:
        raise Invalid({"items": [f"Höchstens {MAX_ITEMS} Einträge je Anfrage."]})
    require(user, "listing.create", organisation)
    batch_ids = sorted({
        item["external_id"].strip() for item in items
        if isinstance(item, dict) and isinstance(item.get("external_id"), str) and item["external_id"].strip()
    })
    # Only the batch's listings are loaded, so a batch costs the same however many
    # listings the municipality already has.
    existing: dict[str, Listing] = {}
    for start in range(0, len(batch_ids), 250):
        for lst in session.scalars(
            select(Listing)
            .where(Listing.organisation_id == organisation.id, Listing.external_id.in_(batch_ids[start:start + 250]))
            .options(
                selectinload(Listing.tag_rows),
                selectinload(Listing.ozg_leistungen),
                selectinload(Listing.leika_leistungen),
            )
        ):
            existing[lst.external_id] = lst  # type: ignore[index]
    catalogue = _Catalogue(session, items)
    results: list[dict[str, Any]] = []
    pending_audit: list[tuple[Listing, str]] = []
    seen: set[str] = set()
    changed_published: list[Listing] = []
    for index, item in enumerate(items):
        ext = item.get("external_id") if isinstance(item, dict) else None
        if isinstance(ext, str):
            ext = ext.strip()
        if not isinstance(ext, str) or not ext:
            results.append(_item_result(index, None, "error", errors={"external_id": ["Für den Abgleich ist eine externe ID nötig."]}))
            continue
        if ext in seen:
            results.append(_item_result(index, ext, "error", errors={"external_id": ["Diese externe ID kommt im Stapel mehrfach vor."]}))
            continue
        seen.add(ext)
        try:
            clean = load(ListingSchema(), {**item, "external_id": ext})
        except Invalid as err:
            results.append(_item_result(index, ext, "error", errors=err.errors))
            continue
        listing = existing.get(ext)
        try:
            if listing is not None:
                outcome = _update(session, user, listing, clean, catalogue)
                if outcome == "updated" and listing.status == "published":
                    changed_published.append(listing)
            else:
                listing = _create(session, user, organisation, clean, catalogue)
                existing[ext] = listing
                outcome = "created"
        except DomainError as err:
            errors = err.errors if isinstance(err, Invalid) else {"_schema": [err.message]}
            results.append(_item_result(index, ext, "error", errors=errors))
            continue
        if outcome != "unchanged":
            pending_audit.append((listing, outcome))
        results.append(_item_result(index, ext, outcome, listing.id))
    for listing, outcome in pending_audit:  # one flush for all audit rows, not one per item
        audit.record(session, user, f"listing.{outcome}", listing, via="sync")
    archived: list[dict[str, Any]] = []
    if full_sync:
        missing = session.scalars(
            select(Listing).where(
                Listing.organisation_id == organisation.id,
                Listing.external_id.is_not(None),
                Listing.status != "archived",
            ).order_by(Listing.external_id)
        ).all()
        for listing in missing:
            ext = listing.external_id
            if ext in seen:
                continue
            require(user, "listing.archive", listing)
            listing.status = "archived"
            listing.archived_at = utcnow()
            listing.updated_at = utcnow()
            audit.record(session, user, "listing.archived", listing, comment="Vollabgleich über die API")
            archived.append(_item_result(-1, ext, "archived", listing.id))
    commit(session)
    for listing in changed_published:
        notify.listing_changed(session, listing, user)
    summary = {k: 0 for k in ("created", "updated", "unchanged", "error", "archived")}
    for r in results + archived:
        summary[r["result"]] += 1
    log.info("sync for organisation %s: %s", organisation.id, summary)
    return {"results": results, "archived": archived, "summary": summary}


class _Catalogue:
    """OZG-Leistungen and LeiKa-Leistungen of a whole batch, loaded with two queries."""

    def __init__(self, session: Session, items: list[Any]) -> None:
        ozg_ids: set[int] = set()
        keys: set[str] = set()
        for item in items:
            if not isinstance(item, dict):
                continue
            for v in item.get("ozg_ids") or [] if isinstance(item.get("ozg_ids"), list) else []:
                if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31:
                    ozg_ids.add(v)
                elif isinstance(v, str) and v.strip().isdigit() and len(v.strip()) < 10:
                    ozg_ids.add(int(v))
            for k in item.get("leika_keys") or [] if isinstance(item.get("leika_keys"), list) else []:
                if isinstance(k, str):
                    keys.add(k.strip())
        self.ozg = {o.id: o for o in session.scalars(select(OzgLeistung).where(OzgLeistung.id.in_(ozg_ids)))} if ozg_ids else {}
        self.leika = {lk.key: lk for lk in session.scalars(select(LeikaLeistung).where(LeikaLeistung.key.in_(keys)))} if keys else {}

    def apply(self, session: Session, listing: Listing, clean: dict[str, Any]) -> None:
        """Apply clean to listing like services.listings._apply, resolving the catalogue from the cache."""
        rest = {k: v for k, v in clean.items() if k not in ("ozg_ids", "leika_keys")}
        ozg_ids = sorted(set(clean.get("ozg_ids") or []))
        keys = sorted({k.strip() for k in clean.get("leika_keys") or []})
        errors: dict[str, list[str]] = {}
        missing = [i for i in ozg_ids if i not in self.ozg]
        if missing:
            errors["ozg_ids"] = [f"Unbekannte OZG-ID: {', '.join(map(str, missing))}."]
        missing_keys = [k for k in keys if k not in self.leika]
        if missing_keys:
            errors["leika_keys"] = [f"Unbekannter LeiKa-Schlüssel: {', '.join(missing_keys)}."]
        if errors:
            raise Invalid(errors)
        _apply(session, listing, rest)
        listing.ozg_leistungen = [self.ozg[i] for i in ozg_ids]
        listing.leika_leistungen = [self.leika[k] for k in keys]


def _create(session: Session, user: User, organisation: Organisation, clean: dict[str, Any],
            catalogue: _Catalogue) -> Listing:
    nested = session.begin_nested()
    try:
        listing = Listing(organisation=organisation, status="draft", created_by=user)
        with session.no_autoflush:
            catalogue.apply(session, listing, clean)
            listing.slug = unique_slug(session, Listing, slugify(f"{clean['title']} {organisation.short_name}"))
        session.add(listing)
        session.flush()
    except IntegrityError as err:
        nested.rollback()
        raise Invalid({"_schema": ["Der Eintrag widerspricht einem vorhandenen Datensatz."]}) from err
    except BaseException:
        nested.rollback()
        raise
    nested.commit()
    return listing


def _update(session: Session, user: User, listing: Listing, clean: dict[str, Any],
            catalogue: _Catalogue) -> str:
    if _canonical(clean) == _canonical(listing_input(listing)):
        return "unchanged"
    require(user, "listing.edit", listing)
    if listing.status == "archived":
        raise Invalid({"_schema": ["Archivierte Einträge können nicht bearbeitet werden."]})
    nested = session.begin_nested()
    try:
        with session.no_autoflush:
            catalogue.apply(session, listing, clean)
            _check_external_id(session, listing)
        if listing.status == "rejected":
            listing.status = "draft"
        session.flush()
    except IntegrityError as err:
        nested.rollback()
        raise Invalid({"_schema": ["Der Eintrag widerspricht einem vorhandenen Datensatz."]}) from err
    except BaseException:
        nested.rollback()
        raise
    nested.commit()
    return "updated"
