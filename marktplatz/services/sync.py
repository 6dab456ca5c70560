"""Bulk upsert of a municipality's listings keyed by external_id (the API's sync endpoint).

One transaction per batch. Every item is validated first (schema, permissions, catalogue);
an invalid item is reported and never written. The valid ones are then written together
with one flush (slugs for the whole batch from one query). Only if the database refuses that
flush (a constraint violated, e.g. by a concurrent writer) is the batch written again with a
savepoint per item, so an item that fails a constraint is rolled back alone and reported and
the others are committed. The rules are those of services.listings (same schema, same
_apply, same permission checks and audit events); only the write strategy differs, which
is what makes 500 items a request fast.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ..core.db import clear_failed, is_failed
from ..models import LeikaLeistung, Listing, ListingStatus, Organisation, OzgLeistung, User
from ..models.listing_fields import LISTING_FIELDS, FieldType
from ..schemas.listing import ListingSchema, normalise_licence
from . import audit
from .common import flush, load, require, slugify, unique_slug, unique_slugs
from .errors import DomainError, Forbidden, Invalid
from .lifecycle import Action, refusal, transition
from .listings import _apply, _check_external_id, unique_tags

log = logging.getLogger(__name__)

MAX_ITEMS = 500


def listing_input(listing: Listing) -> dict[str, Any]:
    """Return the listing in the input format of ListingSchema (for PATCH and comparisons)."""
    return {s.name: s.value(listing) for s in LISTING_FIELDS}


def _canonical(data: dict[str, Any]) -> dict[str, Any]:
    """Normalise validated input the way _apply stores it, to detect unchanged items."""
    out: dict[str, Any] = {}
    for spec in LISTING_FIELDS:
        value = data.get(spec.name)
        if spec.type is FieldType.TAGS:
            value = sorted(unique_tags(value or []))
        elif spec.type is FieldType.CODES:
            value = sorted({v.strip() if isinstance(v, str) else v for v in value or []})
        out[spec.name] = value
    if out.get("licence"):
        try:
            out["licence"] = normalise_licence(out["licence"])
        except ValidationError:
            pass
    if out.get("reifegrad") is None:
        out["reifegrad_model"] = None
    return out


def _item_result(index: int, ext: Any, result: str, listing: Listing | None = None,
                 errors: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {
        "index": index,
        "external_id": ext if isinstance(ext, str) else None,
        "result": result,
        "id": None,
        "slug": None,
        "status": None,
        "step": None,
        "errors": errors or {},
    }
    if listing is not None:
        _describe(out, listing)
    return out


def _describe(result: dict[str, Any], listing: Listing) -> None:
    """Put the listing's identity and state into its result (the API adds its URLs)."""
    result.update(id=listing.id, slug=listing.slug, status=listing.status)


NOT_DIRECT = ("Ihre Netzwerke veröffentlichen Einträge nur nach Prüfung durch die Koordination "
              "(direkt veröffentlichen nur, wenn jedes Netzwerk der Kommune es erlaubt).")

#: What a sync may ask for after writing: the lifecycle action it tries first.
STEPS = {"submit": Action.SUBMIT, "publish": Action.PUBLISH}


def _next_step(session: Session, user: User, listing: Listing, then: str) -> dict[str, Any]:
    """Take the step asked for on listing, if the lifecycle allows it; return what happened.

    "publish" publishes a draft where the owner's networks allow it (listing.publish) and
    otherwise submits it for review, saying why; "submit" submits. A listing already in
    review or published is left as it is; the reason is the lifecycle's.
    """
    reasons: list[str] = []
    for name in ("publish", "submit") if then == "publish" else ("submit",):
        action = STEPS[name]
        refused = refusal(user, listing, action)
        if refused is not None:
            forbidden = isinstance(refused, Forbidden) and action is Action.PUBLISH
            reasons.append(NOT_DIRECT if forbidden else refused.message)
            continue
        transition(user, listing, action)
        if action is Action.PUBLISH:
            audit.record(session, user, "listing.published", listing, first_publication=True, via="sync")
        else:
            audit.record(session, user, "listing.submitted", listing, via="sync")
        return {"requested": then, "done": name, "reason": " ".join(reasons) or None}
    return {"requested": then, "done": None, "reason": " ".join(reasons)}


def sync_listings(
    session: Session, user: User, organisation: Organisation, items: list[Any], full_sync: bool = False,
    then: str | None = None,
) -> dict[str, Any]:
    """Upsert items as listings of organisation; with full_sync archive the missing ones.

    then ("submit" or "publish", see _next_step) moves each created, updated or unchanged
    listing on in its lifecycle; each result says what was done ("step") and the state.
    """
    if then is not None and then not in STEPS:
        raise Invalid({"then": [f"Erlaubt ist einer der Werte: {', '.join(STEPS)}."]})
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
    schema = ListingSchema()
    failed_before = is_failed()
    results: list[dict[str, Any]] = []
    writes: list[_Write] = []
    unchanged: list[tuple[dict[str, Any], Listing]] = []
    seen: set[str] = set()
    # 1. Validate every item without touching the session: an item that fails here is
    #    reported and never written.
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
            clean = load(schema, {**item, "external_id": ext})
            listing = existing.get(ext)
            if listing is not None and _canonical(clean) == _canonical(listing_input(listing)):
                results.append(_item_result(index, ext, "unchanged", listing))
                unchanged.append((results[-1], listing))
                continue
            refused = refusal(user, listing, Action.EDIT) if listing is not None else None
            if refused is not None:  # creating was checked for the whole batch above
                raise refused.fail()
            catalogue.check(clean)
        except DomainError as err:
            _reported(failed_before)
            errors = err.errors if isinstance(err, Invalid) else {"_schema": [err.message]}
            results.append(_item_result(index, ext, "error", errors=errors))
            continue
        result = _item_result(index, ext, "updated" if listing is not None else "created")
        results.append(result)
        writes.append(_Write(result, clean, listing))
    # 2. Write all valid items with one flush. Should the database refuse it (a constraint
    #    violated, e.g. by a concurrent writer), write them again one savepoint per item, so
    #    only the offending items fail.
    if writes and not _write_all(session, user, organisation, writes, catalogue):
        for w in writes:
            try:
                if w.listing is not None:
                    _update(session, user, w.listing, w.clean, catalogue)
                else:
                    w.listing = _create(session, user, organisation, w.clean, catalogue)
            except DomainError as err:
                _reported(failed_before)
                errors = err.errors if isinstance(err, Invalid) else {"_schema": [err.message]}
                w.result.update(result="error", errors=errors)
                w.listing = None
    for w in writes:  # one flush for all audit rows, not one per item
        if w.listing is None:
            continue
        outcome = w.result["result"]
        audit.record(session, user, f"listing.{outcome}", w.listing, via="sync")
    written = [(w.result, w.listing) for w in writes if w.listing is not None]
    for result, listing in sorted(written + unchanged, key=lambda pair: pair[0]["index"]):
        if then is not None:
            result["step"] = _next_step(session, user, listing, then)
        _describe(result, listing)
    archived: list[dict[str, Any]] = []
    if full_sync:
        missing = session.scalars(
            select(Listing).where(
                Listing.organisation_id == organisation.id,
                Listing.external_id.is_not(None),
                Listing.status != ListingStatus.ARCHIVED.value,
            ).order_by(Listing.external_id)
        ).all()
        for listing in missing:
            ext = listing.external_id
            if ext in seen:
                continue
            transition(user, listing, Action.ARCHIVE)
            audit.record(session, user, "listing.archived", listing, comment="Vollabgleich über die API")
            archived.append(_item_result(-1, ext, "archived", listing))
    flush(session)  # the followers of changed published listings are notified of its audit events
    summary = {k: 0 for k in ("created", "updated", "unchanged", "error", "archived")}
    if then is not None:
        summary.update(submitted=0, published=0)
    for r in results + archived:
        summary[r["result"]] += 1
        done = (r.get("step") or {}).get("done")
        if done:
            summary["submitted" if done == "submit" else "published"] += 1
    log.info("sync for organisation %s: %s", organisation.id, summary)
    return {"results": results, "archived": archived, "summary": summary}


@dataclass
class _Write:
    """A validated item to create (listing None) or to update, and its result entry."""

    result: dict[str, Any]
    clean: dict[str, Any]
    listing: Listing | None


def _write_all(session: Session, user: User, organisation: Organisation, writes: list[_Write],
               catalogue: _Catalogue) -> bool:
    """Apply every write in one savepoint and flush once; return False (nothing written) on a constraint error."""
    creates = [w for w in writes if w.listing is None]
    slugs = unique_slugs(session, Listing, [slugify(f"{w.clean['title']} {organisation.short_name}") for w in creates])
    nested = session.begin_nested()
    made: list[tuple[_Write, Listing]] = []
    try:
        with session.no_autoflush:
            for w in writes:
                if w.listing is not None:
                    # No _check_external_id here: the listing was found by this very external_id.
                    transition(user, w.listing, Action.EDIT)
                    catalogue.apply(session, w.listing, w.clean)
                else:
                    listing = Listing(organisation=organisation, created_by=user)
                    transition(user, listing, Action.CREATE, permission_obj=organisation)
                    catalogue.apply(session, listing, w.clean)
                    listing.slug = slugs[len(made)]
                    made.append((w, listing))
            session.add_all([listing for _w, listing in made])
        session.flush()
    except IntegrityError:
        nested.rollback()
        log.info("sync for organisation %s: bulk write refused, writing item by item", organisation.id)
        return False
    except BaseException:
        nested.rollback()
        raise
    nested.commit()
    for w, listing in made:
        w.listing = listing
    return True


def _reported(failed_before: bool) -> None:
    """An item's error goes into its result and its savepoint was rolled back: the batch goes on."""
    if not failed_before:
        clear_failed()


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

    def check(self, clean: dict[str, Any]) -> None:
        """Raise Invalid if clean names an OZG-Leistung or LeiKa-Leistung that does not exist."""
        errors: dict[str, list[str]] = {}
        missing = sorted({i for i in clean.get("ozg_ids") or [] if i not in self.ozg})
        if missing:
            errors["ozg_ids"] = [f"Unbekannte OZG-ID: {', '.join(map(str, missing))}."]
        missing_keys = sorted({k.strip() for k in clean.get("leika_keys") or []} - self.leika.keys())
        if missing_keys:
            errors["leika_keys"] = [f"Unbekannter LeiKa-Schlüssel: {', '.join(missing_keys)}."]
        if errors:
            raise Invalid(errors)

    def apply(self, session: Session, listing: Listing, clean: dict[str, Any]) -> None:
        """Apply clean to listing like services.listings._apply, resolving the catalogue from the cache.

        clean has passed check() (sync_listings checks every item before writing any).
        """
        rest = {k: v for k, v in clean.items() if k not in ("ozg_ids", "leika_keys")}
        _apply(session, listing, rest)
        ozg = [self.ozg[i] for i in sorted(set(clean.get("ozg_ids") or []))]
        leika = [self.leika[k] for k in sorted({k.strip() for k in clean.get("leika_keys") or []})]
        new = listing.id is None and listing not in session
        # A new listing's collections are empty: setting them empty again only costs time.
        if ozg or not new:
            listing.ozg_leistungen = ozg
        if leika or not new:
            listing.leika_leistungen = leika


def _create(session: Session, user: User, organisation: Organisation, clean: dict[str, Any],
            catalogue: _Catalogue) -> Listing:
    nested = session.begin_nested()
    try:
        listing = Listing(organisation=organisation, created_by=user)
        transition(user, listing, Action.CREATE, permission_obj=organisation)
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


def _update(session: Session, user: User, listing: Listing, clean: dict[str, Any], catalogue: _Catalogue) -> None:
    """Apply a validated change to listing in a savepoint of its own (the item-by-item path)."""
    nested = session.begin_nested()
    try:
        with session.no_autoflush:
            transition(user, listing, Action.EDIT)
            catalogue.apply(session, listing, clean)
            _check_external_id(session, listing)
        session.flush()
    except IntegrityError as err:
        nested.rollback()
        raise Invalid({"_schema": ["Der Eintrag widerspricht einem vorhandenen Datensatz."]}) from err
    except BaseException:
        nested.rollback()
        raise
    nested.commit()
