"""Reads of listings for pages, feeds and exports: filters, key numbers, latest, similar,
the listing page's collections, feeds and the open-data export (all through the visibility policy)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import and_, bindparam, func, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..models import (
    Land,
    LeikaLeistung,
    Listing,
    ListingTag,
    Network,
    Organisation,
    OzgLeistung,
    Reuse,
    ReuseStageChange,
    StatusUpdate,
    Themenfeld,
    listing_leika,
    listing_ozg,
)
from ..permissions import listing_visibility_filter
from .listing_query import ListingQuery, statement
from .read_cache import PUBLISHED, _cached, _viewer_key


def filter_options(session: Session, user: Any) -> dict[str, Any]:
    """Return the choices offered by the browse filters (cached briefly)."""
    return _cached("filter_options", session, user, lambda: _filter_options(session, user))


def _filter_options(session: Session, user: Any) -> dict[str, Any]:
    visible = and_(listing_visibility_filter(user), PUBLISHED)
    kreise = session.execute(
        select(Organisation.kreis_key, Organisation.kreis)
        .join(Listing, Listing.organisation_id == Organisation.id)
        .where(visible, Organisation.kreis_key.is_not(None))
        .distinct()
        .order_by(Organisation.kreis)
    ).all()
    licences = session.scalars(
        select(Listing.licence).where(visible, Listing.licence.is_not(None)).distinct().order_by(Listing.licence)
    ).all()
    return {
        "lands": session.execute(select(Land.code, Land.name).order_by(Land.name)).all(),
        "kreise": kreise,
        "networks": session.execute(select(Network.slug, Network.name).order_by(Network.name)).all(),
        "themenfelder": session.execute(select(Themenfeld.id, Themenfeld.name).order_by(Themenfeld.name)).all(),
        "licences": licences,
    }


def home_stats(session: Session, user: Any) -> dict[str, int]:
    """Return the key numbers of the start page (cached briefly)."""
    return _cached("home_stats", session, user, lambda: _home_stats(session, user))


def _home_stats(session: Session, user: Any) -> dict[str, int]:
    visible = and_(listing_visibility_filter(user), PUBLISHED)
    return {
        "listings": session.scalar(select(func.count(Listing.id)).where(visible)) or 0,
        "municipalities": session.scalar(
            select(func.count(func.distinct(Listing.organisation_id))).where(visible)
        ) or 0,
        "reuses": session.scalar(
            select(func.count(Reuse.id)).join(Listing, Listing.id == Reuse.listing_id)
            .where(visible, Reuse.stage != "discontinued")
        ) or 0,
        "ozg": session.scalar(
            select(func.count(func.distinct(listing_ozg.c.ozg_id)))
            .join(Listing, Listing.id == listing_ozg.c.listing_id).where(visible)
        ) or 0,
        # Of the listings, those mirrored from other instances (services/federation.py).
        "external": session.scalar(
            select(func.count(Listing.id)).where(visible, Listing.origin_id.is_not(None))
        ) or 0,
    }


def latest_listings(session: Session, user: Any, limit: int = 6) -> list[Listing]:
    """Return the newest published listings user may see."""
    return list(
        session.scalars(
            select(Listing).where(listing_visibility_filter(user), PUBLISHED)
            .order_by(Listing.published_at.desc(), Listing.id.desc()).limit(limit)
        )
    )


def similar_listings(session: Session, user: Any, listing: Listing, limit: int = 6) -> list[Listing]:
    """Return other published listings sharing an OZG-Leistung with listing.

    The query walks every listing of those OZG-Leistungen (hundreds at 100,000 listings), so
    its answer is kept per process for each listing and visibility class until the data
    changes (changelog.data_version); the listings themselves are loaded fresh by id.
    """
    if not listing.ozg_leistungen:
        return []
    from ..core.caching import app_cache
    from .changelog import data_version

    # (listing id, limit, viewer class) -> (data version, ids of the similar listings)
    cache = app_cache("similar_listings", 5000)
    key = (listing.id, limit, _viewer_key(user))
    version = data_version(session)
    hit = cache.get(key)
    if hit is not None and hit[0] == version:
        if not hit[1]:
            return []
        # Visibility is checked again: network memberships are not in the change log.
        found = {item.id: item for item in session.scalars(
            select(Listing).where(Listing.id.in_(hit[1]), listing_visibility_filter(user), PUBLISHED))}
        return [found[i] for i in hit[1] if i in found]
    items = list(session.scalars(_similar_statement(user, limit), {"listing_id": listing.id}))
    cache.put(key, (version, [item.id for item in items]))
    return items


# Built statements of similar_listings per visibility class (the filter depends on nothing
# else): building the statement and its cache key each time cost more than running it.
_similar_statements: dict[tuple[Any, ...], Any] = {}


def _similar_statement(user: Any, limit: int):
    key = (_viewer_key(user), limit)
    stmt = _similar_statements.get(key)
    if stmt is None:
        # An IN over the listing_ozg rows of the listing's OZG-Leistungen (index on ozg_id)
        # lets the database start from the few candidates; a correlated EXISTS made SQLite
        # walk every published listing and probe listing_ozg for each (10 ms at 5,000).
        own = listing_ozg.alias("own_ozg")
        listing_id = bindparam("listing_id")
        sharing = select(listing_ozg.c.listing_id).where(
            listing_ozg.c.ozg_id.in_(select(own.c.ozg_id).where(own.c.listing_id == listing_id))
        )
        stmt = (
            select(Listing)
            .where(listing_visibility_filter(user), PUBLISHED, Listing.id != listing_id, Listing.id.in_(sharing))
            .order_by(Listing.reuse_offered.desc(), Listing.published_at.desc(), Listing.id.desc())
            .limit(limit)
        )
        if len(_similar_statements) > 500:
            _similar_statements.clear()
        _similar_statements[key] = stmt
    return stmt


# What the listing page shows besides the listing, one statement per relationship, built once.
# Each orders like the relationship in models/listing.py (tests compare both ways of loading).
_LISTING_ID = bindparam("listing_id")
_PAGE_COLLECTIONS = {
    "ozg_leistungen": select(OzgLeistung)
    .join(listing_ozg, listing_ozg.c.ozg_id == OzgLeistung.id)
    .where(listing_ozg.c.listing_id == _LISTING_ID)
    .order_by(OzgLeistung.id),
    "leika_leistungen": select(LeikaLeistung)
    .join(listing_leika, listing_leika.c.leika_id == LeikaLeistung.id)
    .where(listing_leika.c.listing_id == _LISTING_ID)
    .order_by(LeikaLeistung.key),
    "tag_rows": select(ListingTag).where(ListingTag.listing_id == _LISTING_ID).order_by(ListingTag.tag),
    "status_updates": select(StatusUpdate)
    .where(StatusUpdate.listing_id == _LISTING_ID)
    .order_by(StatusUpdate.created_at.desc()),
    "reuses": select(Reuse).where(Reuse.listing_id == _LISTING_ID).order_by(Reuse.created_at),
}
_PAGE_REUSE_HISTORY = (
    select(ReuseStageChange)
    .join(Reuse, Reuse.id == ReuseStageChange.reuse_id)
    .where(Reuse.listing_id == _LISTING_ID)
    .order_by(ReuseStageChange.changed_at)
)


def load_listing_page(session: Session, listing: Listing) -> Listing:
    """Load the relationships the listing page shows, one prebuilt query each.

    Equivalent to the lazy loads the template would trigger (the reuse histories in one
    query instead of one per reuse), at a fraction of their cost. Relationships already
    loaded in this session are left as they are. The caller has checked visibility.
    """
    params = {"listing_id": listing.id}
    unloaded = sa_inspect(listing).unloaded
    for name, stmt in _PAGE_COLLECTIONS.items():
        if name in unloaded:
            set_committed_value(listing, name, list(session.scalars(stmt, params)))
    reuses = [r for r in listing.reuses if "history" in sa_inspect(r).unloaded]
    if reuses:
        history: dict[int, list[ReuseStageChange]] = defaultdict(list)
        for change in session.scalars(_PAGE_REUSE_HISTORY, params):
            history[change.reuse_id].append(change)
        for reuse in reuses:
            set_committed_value(reuse, "history", history.get(reuse.id, []))
    return listing


# --- feeds and exports ---------------------------------------------------------------


def feed_listings(session: Session, user: Any, network_slug: str | None = None, ozg_id: int | None = None, limit: int = 50) -> list[Listing]:
    """Return the newest published listings for a feed, optionally per network or OZG-Leistung."""
    q = statement(ListingQuery(viewer=user, network=network_slug, ozg_id=ozg_id))
    q = q.order_by(Listing.published_at.desc(), Listing.id.desc()).limit(limit)
    return list(session.scalars(q))


def export_listings(session: Session) -> list[Listing]:
    """Return all public published listings (open data: what anonymous visitors can see)."""
    return list(
        session.scalars(
            select(Listing)
            .where(listing_visibility_filter(None), PUBLISHED)
            .options(selectinload(Listing.ozg_leistungen), selectinload(Listing.leika_leistungen),
                     selectinload(Listing.tag_rows), selectinload(Listing.reuses))
            .order_by(Listing.id)
        )
    )


def export_row(listing: Listing, base_url: str) -> dict[str, Any]:
    """Turn a listing into one open-data record with JSON types (the CSV flattens it)."""
    from ..schemas.listing import EXPORT_COLUMNS, export_values

    org = listing.organisation
    row = {
        "id": listing.id,
        "url": f"{base_url}/eintraege/{listing.slug}",
        "kommune": org.name,
        "ags": org.ags or None,
        "land": org.land or None,
        "nachnutzungen": listing.active_reuse_count,
        "veroeffentlicht": listing.published_at.isoformat() if listing.published_at else None,
        "aktualisiert": listing.updated_at.isoformat() if listing.updated_at else None,
        **export_values(listing),
    }
    return {column: row[column] for column in EXPORT_COLUMNS}
