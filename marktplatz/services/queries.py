"""Read-side queries for the web UI: browse, coverage, OZG matrix, dashboard, feeds, exports.

Every query takes the viewing user and applies ``listing_visibility_filter`` so pages,
feeds and exports show exactly what the viewer may see. Writes stay in the other services.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..models import (
    AuditEvent,
    Follow,
    Land,
    LeikaLeistung,
    Listing,
    ListingStatus,
    ListingTag,
    Network,
    NetworkMembership,
    Organisation,
    OzgLeistung,
    Reuse,
    ReuseStageChange,
    StatusUpdate,
    Themenfeld,
    listing_leika,
    listing_ozg,
)
from ..permissions import listing_visibility_filter, viewer_scope
from .listing_query import ListingQuery, statement

# Aggregates shown on every start and browse page are cached briefly per visibility class:
# at 100,000 listings they cost hundreds of milliseconds, and a number that is up to
# STATS_TTL seconds old is fine for "key numbers".
STATS_TTL = 30.0
_stats_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}


def _viewer_key(user: Any) -> Any:
    return viewer_scope(user)


def _cached(name: str, session: Session, user: Any, compute: Any) -> Any:
    """Return compute() from a short per-process cache keyed by name and visibility class."""
    import time

    from flask import current_app

    ttl = float(current_app.config.get("STATS_CACHE_SECONDS", STATS_TTL))
    if ttl <= 0:
        return compute()
    key = (name, str(session.get_bind().url), _viewer_key(user))
    now = time.monotonic()
    hit = _stats_cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    if len(_stats_cache) > 1000:
        _stats_cache.clear()
    _stats_cache[key] = (now + ttl, value)
    return value


PUBLISHED = Listing.status == ListingStatus.PUBLISHED.value
ONLINE_REUSE_STAGES = ("production", "pilot")


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


# --- municipality --------------------------------------------------------------------


@dataclass
class Coverage:
    """Which OZG-Leistungen a municipality has online and where others offer the rest."""

    online: list[dict[str, Any]] = field(default_factory=list)
    # Themenfeld name -> [{ozg, offers: [Listing]}]
    gaps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    catalogue_size: int = 0


def municipality_listings(session: Session, user: Any, org: Organisation) -> list[Listing]:
    """Return the listings of org the viewer may see."""
    return list(
        session.scalars(
            select(Listing)
            .where(listing_visibility_filter(user), Listing.organisation_id == org.id)
            .order_by(Listing.updated_at.desc())
        )
    )


def municipality_reuses(session: Session, user: Any, org: Organisation) -> list[Reuse]:
    """Return the reuses declared by org of listings the viewer may see."""
    return list(
        session.scalars(
            select(Reuse)
            .join(Listing, Listing.id == Reuse.listing_id)
            .where(Reuse.organisation_id == org.id, listing_visibility_filter(user))
            .options(selectinload(Reuse.listing))
            .order_by(Reuse.updated_at.desc())
        )
    )


def municipality_networks(session: Session, org: Organisation) -> list[Network]:
    """Return the networks org belongs to."""
    return list(
        session.scalars(
            select(Network).join(NetworkMembership, NetworkMembership.network_id == Network.id)
            .where(NetworkMembership.organisation_id == org.id).order_by(Network.name)
        )
    )


def coverage(session: Session, user: Any, org: Organisation) -> Coverage:
    """Compute which OZG-Leistungen org has online and which gaps others could fill."""
    visible = listing_visibility_filter(user)
    own = session.execute(
        select(listing_ozg.c.ozg_id, Listing.id, Listing.slug, Listing.title)
        .join(Listing, Listing.id == listing_ozg.c.listing_id)
        .where(visible, Listing.organisation_id == org.id, Listing.phase == "live",
               Listing.status.in_([s.value for s in (ListingStatus.PUBLISHED, ListingStatus.DRAFT,
                                                       ListingStatus.IN_REVIEW, ListingStatus.CHANGES_REQUESTED)]))
    ).all()
    reused = session.execute(
        select(listing_ozg.c.ozg_id, Listing.id, Listing.slug, Listing.title)
        .join(Listing, Listing.id == listing_ozg.c.listing_id)
        .join(Reuse, Reuse.listing_id == Listing.id)
        .where(visible, Reuse.organisation_id == org.id, Reuse.stage.in_(ONLINE_REUSE_STAGES))
    ).all()
    online: dict[int, dict[str, Any]] = {}
    for rows, how in ((own, "eigen"), (reused, "nachgenutzt")):
        for ozg_id, _lid, slug, title in rows:
            entry = online.setdefault(ozg_id, {"ozg_id": ozg_id, "via": []})
            entry["via"].append({"how": how, "slug": slug, "title": title})
    names = {}
    if online:
        names = dict(session.execute(select(OzgLeistung.id, OzgLeistung.name).where(OzgLeistung.id.in_(online))).all())
    result = Coverage(catalogue_size=session.scalar(select(func.count(OzgLeistung.id))) or 0)
    result.online = sorted(
        ({**v, "name": names.get(k, str(k))} for k, v in online.items()), key=lambda e: e["name"]
    )
    offers = session.execute(
        select(OzgLeistung, Themenfeld.name, Listing)
        .join(listing_ozg, listing_ozg.c.ozg_id == OzgLeistung.id)
        .join(Listing, Listing.id == listing_ozg.c.listing_id)
        .join(Themenfeld, Themenfeld.id == OzgLeistung.themenfeld_id)
        .where(visible, PUBLISHED, Listing.reuse_offered.is_(True), Listing.organisation_id != org.id)
        .order_by(Themenfeld.name, OzgLeistung.name, Listing.title)
    ).all()
    gaps: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for ozg, tf_name, listing in offers:
        if ozg.id in online:
            continue
        gaps[tf_name].setdefault(ozg.id, {"ozg": ozg, "offers": []})["offers"].append(listing)
    result.gaps = {tf: list(v.values()) for tf, v in gaps.items()}
    return result


# --- OZG catalogue -------------------------------------------------------------------


def ozg_catalogue(session: Session, user: Any, term: str = "", themenfeld_id: int | None = None) -> list[dict[str, Any]]:
    """Return Themenfelder with their Lebenslagen and OZG-Leistungen (with listing counts)."""
    q = select(OzgLeistung).options(selectinload(OzgLeistung.lebenslage), selectinload(OzgLeistung.themenfeld))
    term = (term or "").strip()
    if term:
        cond = [func.lower(OzgLeistung.name).like(f"%{term.lower()}%")]
        if term.isdigit():
            cond.append(OzgLeistung.id == int(term[:9]))
            cond.append(OzgLeistung.id.in_(select(LeikaLeistung.ozg_id).where(LeikaLeistung.key.startswith(term))))
        cond.append(OzgLeistung.id.in_(select(LeikaLeistung.ozg_id).where(func.lower(LeikaLeistung.name).like(f"%{term.lower()}%"))))
        q = q.where(or_(*cond))
    if themenfeld_id:
        q = q.where(OzgLeistung.themenfeld_id == themenfeld_id)
    counts = dict(
        session.execute(
            select(listing_ozg.c.ozg_id, func.count(Listing.id))
            .join(Listing, Listing.id == listing_ozg.c.listing_id)
            .where(listing_visibility_filter(user), PUBLISHED)
            .group_by(listing_ozg.c.ozg_id)
        ).all()
    )
    tree: dict[int, dict[str, Any]] = {}
    for ozg in session.scalars(q.order_by(OzgLeistung.themenfeld_id, OzgLeistung.lebenslage_id, OzgLeistung.name)):
        tf = tree.setdefault(ozg.themenfeld_id, {"themenfeld": ozg.themenfeld, "lebenslagen": {}})
        ll = tf["lebenslagen"].setdefault(ozg.lebenslage_id, {"lebenslage": ozg.lebenslage, "items": []})
        ll["items"].append({"ozg": ozg, "count": counts.get(ozg.id, 0)})
    out = []
    for tf in sorted(tree.values(), key=lambda t: t["themenfeld"].name):
        out.append({"themenfeld": tf["themenfeld"],
                    "lebenslagen": sorted(tf["lebenslagen"].values(), key=lambda ll: ll["lebenslage"].name)})
    return out


def themenfelder(session: Session) -> list[Themenfeld]:
    """Return all Themenfelder by name."""
    return list(session.scalars(select(Themenfeld).order_by(Themenfeld.name)))


def get_ozg(session: Session, ozg_id: int) -> OzgLeistung | None:
    """Return the OZG-Leistung with its LeiKa keys, or None."""
    return session.scalar(
        select(OzgLeistung).where(OzgLeistung.id == ozg_id).options(selectinload(OzgLeistung.leika))
    )


def ozg_matrix(session: Session, user: Any, ozg_id: int) -> list[dict[str, Any]]:
    """Return one row per municipality with a listing or a reuse for this OZG-Leistung."""
    listings = list(
        session.scalars(
            select(Listing)
            .join(listing_ozg, listing_ozg.c.listing_id == Listing.id)
            .where(listing_ozg.c.ozg_id == ozg_id, listing_visibility_filter(user),
                   Listing.status != ListingStatus.ARCHIVED.value)
            .options(selectinload(Listing.reuses))
            .order_by(Listing.title)
        )
    )
    rows: list[dict[str, Any]] = []
    for listing in listings:
        rows.append({"org": listing.organisation, "listing": listing, "reuse": None})
        for r in listing.reuses:
            if r.stage != "discontinued":
                rows.append({"org": r.organisation, "listing": listing, "reuse": r})
    phase_rank = {"live": 0, "in_progress": 1, "planned": 2, "idea": 3, "stopped": 4}
    rows.sort(key=lambda r: (
        r["reuse"] is not None,
        phase_rank.get(r["listing"].phase or "", 5),
        r["org"].short_name,
    ))
    return rows


def catalogue_search(session: Session, term: str, limit: int = 15) -> tuple[list[OzgLeistung], list[LeikaLeistung]]:
    """Find OZG-Leistungen and LeiKa-Leistungen by name, OZG-ID or LeiKa key (for the picker)."""
    term = (term or "").strip()
    if len(term) < 2:
        return [], []
    like = f"%{term.lower()}%"
    ozg_cond = [func.lower(OzgLeistung.name).like(like)]
    leika_cond = [func.lower(LeikaLeistung.name).like(like)]
    if term.isdigit():
        ozg_cond.append(OzgLeistung.id == int(term[:9]))
        leika_cond.append(LeikaLeistung.key.startswith(term))
    ozg = list(session.scalars(select(OzgLeistung).where(or_(*ozg_cond)).order_by(OzgLeistung.name).limit(limit)))
    leika = list(session.scalars(select(LeikaLeistung).where(or_(*leika_cond)).order_by(LeikaLeistung.key).limit(limit)))
    return ozg, leika


def catalogue_by_ids(session: Session, ozg_ids: list[int], leika_keys: list[str]) -> tuple[list[OzgLeistung], list[LeikaLeistung]]:
    """Return the OZG and LeiKa rows for the given ids and keys (unknown ones are skipped)."""
    ozg = list(session.scalars(select(OzgLeistung).where(OzgLeistung.id.in_(ozg_ids)))) if ozg_ids else []
    leika = list(session.scalars(select(LeikaLeistung).where(LeikaLeistung.key.in_(leika_keys)))) if leika_keys else []
    return ozg, leika


# --- dashboard -----------------------------------------------------------------------

ACTIVITY_LABELS = {
    "listing.updated": "wurde bearbeitet",
    "listing.status_posted": "hat eine Statusmeldung",
    "listing.approved": "wurde veröffentlicht",
    "listing.archived": "wurde archiviert",
    "listing.unpublished": "wurde zurückgezogen",
    "reuse.declared": "hat eine neue Nachnutzung",
    "reuse.stage_changed": "Nachnutzung hat die Stufe gewechselt",
}


def dashboard(session: Session, user: Any) -> dict[str, Any]:
    """Return own listings, own reuses, followed listings and their recent changes."""
    org_id = user.organisation_id
    own = list(
        session.scalars(select(Listing).where(Listing.organisation_id == org_id).order_by(Listing.updated_at.desc()))
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
    return {"own": own, "reuses": reuses, "followed": followed, "changes": changes, "incoming": incoming}


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
    """Turn a listing into one flat open-data record."""
    from ..schemas.listing import EXPORT_COLUMNS, export_values

    org = listing.organisation
    row = {
        "id": listing.id,
        "url": f"{base_url}/eintraege/{listing.slug}",
        "kommune": org.name,
        "ags": org.ags or "",
        "land": org.land or "",
        "nachnutzungen": listing.active_reuse_count,
        "veroeffentlicht": listing.published_at.isoformat() if listing.published_at else "",
        "aktualisiert": listing.updated_at.isoformat() if listing.updated_at else "",
        **export_values(listing),
    }
    return {column: row[column] for column in EXPORT_COLUMNS}

