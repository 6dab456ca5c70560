"""Federation: follow another Marktplatz instance and mirror its public listings and reuses.

A source is read through its change feed with ``include=entity`` as an anonymous caller,
so only what that instance shows the public ever arrives: its published listings (and those
archived from published) and their reuses. Each page is applied in one transaction together
with the new cursor (``FederationSource.cursor``): a pull stopped anywhere resumes after the
last page applied, and a page applied twice changes nothing, since every change carries the
entity's current state (at-least-once delivery, idempotent application).

Mirrors:

- a listing becomes a local Listing of the same municipality (by its key, the official
  directory is the same on every instance) with ``origin_id``/``origin_remote_id``; it is
  read-only here (permissions/roles.py ``is_mirrored``; lifecycle.MIRRORED), takes its state
  from the remote one (lifecycle.mirror_state), and is found by search, in the who-does-what
  table and the statistics like any published listing, marked "aus <name>";
- a reuse of a mirrored listing becomes a local Reuse with the same origin;
- a tombstone, a listing that is no longer public there, or one the source itself only
  mirrors (its ``origin`` is set: no chains or loops between instances) removes the mirror.

Organisations (reference data of each instance) and status updates are not mirrored.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from marktplatz_client import ApiError, MarktplatzClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import FederationSource, Listing, ListingStatus, Organisation, Reuse, utcnow
from ..models.listing import REUSE_STAGES
from ..models.listing_fields import LISTING_FIELDS
from ..schemas.listing import ListingSchema
from .common import load, slugify, unique_slug
from .errors import Invalid
from .lifecycle import mirror_state
from .sync import _Catalogue

log = logging.getLogger(__name__)

PAGE = 100  # the feed's page bound with include=entity
MAX_PAGES = 50  # per pull: a worker round also delivers webhooks; the next round goes on
MIRRORED_STATES = (ListingStatus.PUBLISHED.value, ListingStatus.ARCHIVED.value)
# Fields copied from the remote listing: all of the catalogue but the remote CMS's own id.
_FIELDS = tuple(s.name for s in LISTING_FIELDS if s.name != "external_id")


@dataclass
class PullResult:
    """What one pull did."""

    pages: int = 0
    mirrored: int = 0  # listings and reuses created or updated
    removed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # German reason -> count
    caught_up: bool = False
    error: str | None = None


def normalise_url(url: str) -> str:
    """Return the instance's base URL (scheme and host, path without /api/v1), or raise Invalid."""
    raw = (url or "").strip().rstrip("/")
    if raw.endswith("/api/v1"):
        raw = raw[: -len("/api/v1")]
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise Invalid({"url": ["Bitte die Adresse des Marktplatzes angeben, z. B. https://marktplatz.nrw.de."]})
    if len(raw) > 500:
        raise Invalid({"url": ["Die Adresse ist zu lang (höchstens 500 Zeichen)."]})
    return raw


def client_for(source_url: str) -> MarktplatzClient:
    """Return an anonymous client of the source: it sees what the source shows the public."""
    from flask import current_app

    return MarktplatzClient(source_url, token=None, retries=int(current_app.config["FEDERATION_RETRIES"]),
                            timeout=30.0)


def follow(session: Session, url: str, name: str | None = None, interval_minutes: int = 15,
           client: MarktplatzClient | None = None) -> FederationSource:
    """Start following the instance at url; check that its change feed answers first."""
    base = normalise_url(url)
    if session.scalar(select(FederationSource.id).where(FederationSource.url == base)) is not None:
        raise Invalid({"url": ["Diesem Marktplatz wird bereits gefolgt."]})
    if not 1 <= interval_minutes <= 7 * 24 * 60:
        raise Invalid({"interval_minutes": ["Bitte ein Intervall zwischen 1 Minute und 7 Tagen angeben."]})
    label = (name or "").strip() or (urlsplit(base).hostname or base)
    if len(label) > 200:
        raise Invalid({"name": ["Der Name ist zu lang (höchstens 200 Zeichen)."]})
    try:
        (client or client_for(base)).changes_page(limit=1)
    except (ApiError, requests.RequestException, ValueError, KeyError) as err:
        raise Invalid({"url": [f"Unter dieser Adresse antwortet kein Marktplatz ({_reason(err)})."]}) from err
    source = FederationSource(url=base, name=label, interval_minutes=interval_minutes)
    session.add(source)
    session.flush()
    return source


def unfollow(session: Session, source: FederationSource) -> int:
    """Stop following source and remove everything mirrored from it; return how many listings."""
    mirrored = list(session.scalars(select(Listing).where(Listing.origin_id == source.id)))
    for listing in mirrored:  # their reuses go with them (cascade); each removal is logged
        session.delete(listing)
    session.flush()
    session.delete(source)
    session.flush()
    return len(mirrored)


def due_sources(session: Session, now: datetime | None = None) -> list[FederationSource]:
    """Return the sources whose interval has passed since their last pull."""
    now = now or utcnow()
    return [s for s in session.scalars(select(FederationSource).order_by(FederationSource.id))
            if s.last_run_at is None or s.last_run_at + timedelta(minutes=s.interval_minutes) <= now]


def pull(session: Session, source: FederationSource, client: MarktplatzClient | None = None,
         max_pages: int = MAX_PAGES, commit: Any = None) -> PullResult:
    """Apply the source's changes since its cursor, one transaction per page.

    commit is called after each page (the worker and the CLI pass session.commit); a failure
    leaves the pages before it applied, records the reason on the source and is returned in
    the result, never raised: one unreachable source must not stop the others.
    """
    commit = commit or session.flush
    client = client or client_for(source.url)
    result = PullResult()
    source_id = source.id
    try:
        for page in client.iter_change_pages(source.cursor, PAGE, include_entity=True):
            _apply_page(session, source, page["items"], result)
            source.cursor = page["next_cursor"]
            result.pages += 1
            commit()
            if result.pages >= max_pages:
                break
        else:
            result.caught_up = True
    except (ApiError, requests.RequestException, ValueError, KeyError, TypeError) as err:
        session.rollback()  # the page being applied is dropped whole; its cursor was not saved
        source = session.get(FederationSource, source_id)  # type: ignore[assignment]
        result.error = _reason(err)
        log.warning("federation: pulling %s failed: %s", source.url, result.error)
    source.last_run_at = utcnow()
    source.last_error = result.error
    if result.error is None:
        source.last_ok_at = source.last_run_at
    source.last_skipped = "; ".join(f"{n}× {why}" for why, n in result.skipped.most_common()) or None
    commit()
    return result


def _reason(err: Exception) -> str:
    if isinstance(err, ApiError):
        return f"HTTP {err.status}"
    if isinstance(err, requests.RequestException):
        return f"nicht erreichbar: {type(err).__name__}"
    return "unerwartete Antwort"


def _apply_page(session: Session, source: FederationSource, changes: list[dict[str, Any]], result: PullResult) -> None:
    listings = [c for c in changes if c.get("entity_type") == "listing"]
    catalogue = _Catalogue(session, [c.get("entity") for c in listings])
    known = _Known(session, source, changes)
    for change in changes:
        kind = change.get("entity_type")
        if kind not in ("listing", "reuse"):
            continue  # organisations are each instance's reference data; status updates stay there
        if not _is_id(change.get("entity_id")):
            result.skipped["Änderung ohne gültige Kennung"] += 1
            continue
        model = Listing if kind == "listing" else Reuse
        local = known.mirror(model, change["entity_id"])
        entity = change.get("entity")
        if change.get("tombstone") or not isinstance(entity, dict):
            known.remove(local, result)
        elif kind == "listing":
            _apply_listing(session, source, change["entity_id"], entity, local, known, catalogue, result)
        else:
            _apply_reuse(session, source, change["entity_id"], entity, local, known, result)
    session.flush()


def _org_key(entity: dict[str, Any]) -> str | None:
    org = entity.get("organisation")
    key = org.get("key") if isinstance(org, dict) else None
    return key if isinstance(key, str) and len(key) <= 40 else None


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


class _Known:
    """The mirrors and municipalities one page refers to, loaded with three queries (not two per change)."""

    def __init__(self, session: Session, source: FederationSource, changes: list[dict[str, Any]]) -> None:
        self.session = session
        entities = [c.get("entity") if isinstance(c.get("entity"), dict) else {} for c in changes]
        keys = {k for k in map(_org_key, entities) if k is not None}
        self.orgs = {o.key: o for o in session.scalars(select(Organisation).where(Organisation.key.in_(keys)))} \
            if keys else {}
        ids: dict[Any, set[int]] = {Listing: set(), Reuse: set()}
        for change, entity in zip(changes, entities, strict=True):
            if change.get("entity_type") == "reuse":
                ids[Reuse].add(change.get("entity_id"))
                ids[Listing].add(entity.get("listing_id"))
            elif change.get("entity_type") == "listing":
                ids[Listing].add(change.get("entity_id"))
        self.mirrors: dict[tuple[Any, int], Any] = {}
        for model, wanted in ids.items():
            wanted = {i for i in wanted if _is_id(i)}
            if wanted:
                for row in session.scalars(select(model).where(model.origin_id == source.id,
                                                               model.origin_remote_id.in_(wanted))):
                    self.mirrors[(model, row.origin_remote_id)] = row

    def organisation(self, entity: dict[str, Any]) -> Organisation | None:
        """Return the local municipality of the entity's organisation key."""
        key = _org_key(entity)
        return self.orgs.get(key) if key is not None else None

    def mirror(self, model: Any, remote_id: Any) -> Any:
        """Return the local mirror of the source's listing or reuse remote_id, if any."""
        return self.mirrors.get((model, remote_id)) if _is_id(remote_id) else None

    def add(self, obj: Any) -> None:
        """Record a new mirror."""
        self.session.add(obj)
        self.mirrors[(type(obj), obj.origin_remote_id)] = obj

    def remove(self, obj: Any, result: PullResult) -> None:
        """Delete a mirror (if there is one)."""
        if obj is not None:
            self.session.delete(obj)
            # At once: a reuse recreated there in the same page takes the same (listing,
            # municipality), and a flush would insert it before deleting this one.
            self.session.flush()
            self.mirrors.pop((type(obj), obj.origin_remote_id), None)
            result.removed += 1


def _apply_listing(session: Session, source: FederationSource, remote_id: int, entity: dict[str, Any],
                   local: Listing | None, known: _Known, catalogue: _Catalogue, result: PullResult) -> None:
    if entity.get("origin") or entity.get("status") not in MIRRORED_STATES:
        known.remove(local, result)  # mirrored there itself, or no longer public
        return
    org = known.organisation(entity)
    if org is None:
        result.skipped["Eintrag einer hier unbekannten Kommune"] += 1
        known.remove(local, result)
        return
    data = {name: entity[name] for name in _FIELDS if name in entity}
    data["visibility"] = "public"
    data["ozg_ids"] = [i for i in data.get("ozg_ids") or [] if i in catalogue.ozg]
    data["leika_keys"] = [k for k in data.get("leika_keys") or [] if k in catalogue.leika]
    try:
        clean = load(ListingSchema(), data)
    except Invalid as err:
        result.skipped[f"Eintrag mit ungültigem Feld ({', '.join(sorted(err.errors))})"] += 1
        return  # an earlier valid state stays
    if local is None:
        local = Listing(origin_id=source.id, origin_remote_id=remote_id, organisation=org)
        known.add(local)
    local.organisation = org
    with session.no_autoflush:
        catalogue.apply(session, local, clean)
        wanted = slugify(str(entity.get("slug") or "")) or slugify(f"{clean['title']} {org.short_name}")
        if local.slug != wanted:
            local.slug = unique_slug(session, Listing, wanted, exclude_id=local.id)
    local.origin_url = _page_url(source, entity)
    mirror_state(local, entity["status"], _when(entity.get("published_at")))
    result.mirrored += 1


def _apply_reuse(session: Session, source: FederationSource, remote_id: int, entity: dict[str, Any],
                 local: Reuse | None, known: _Known, result: PullResult) -> None:
    listing = known.mirror(Listing, entity.get("listing_id"))
    org = known.organisation(entity)
    if listing is None or org is None or entity.get("stage") not in REUSE_STAGES:
        result.skipped["Nachnutzung eines hier nicht gespiegelten Eintrags"] += 1
        known.remove(local, result)
        return
    if local is None:
        local = Reuse(origin_id=source.id, origin_remote_id=remote_id)
        known.add(local)
    local.listing, local.organisation = listing, org
    local.stage = entity["stage"]
    local.reason = str(entity.get("reason") or "")[:5000]
    local.note = str(entity.get("note") or "")[:5000]
    local.updated_at = _when(entity.get("updated_at")) or utcnow()
    result.mirrored += 1


def _page_url(source: FederationSource, entity: dict[str, Any]) -> str:
    page = ((entity.get("links") or {}).get("page") or "")
    if isinstance(page, str) and page.startswith(source.url + "/"):
        return page[:500]
    return f"{source.url}/eintraege/{entity.get('slug') or entity.get('id')}"[:500]


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
