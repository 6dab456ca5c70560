"""Reads for a municipality's page: its listings, reuses, networks and OZG coverage."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from ..models import (
    Listing,
    ListingStatus,
    Network,
    NetworkMembership,
    Organisation,
    OzgLeistung,
    Reuse,
    Themenfeld,
    listing_ozg,
)
from ..permissions import listing_visibility_filter
from .read_cache import ONLINE_REUSE_STAGES, PUBLISHED, _cached

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


def municipality_reused_by(session: Session, user: Any, org: Organisation) -> list[Reuse]:
    """Return the reuses others declared of org's listings the viewer may see (the other direction)."""
    return list(
        session.scalars(
            select(Reuse)
            .join(Listing, Listing.id == Reuse.listing_id)
            .where(Listing.organisation_id == org.id, Reuse.organisation_id != org.id,
                   listing_visibility_filter(user))
            .options(selectinload(Reuse.listing), selectinload(Reuse.organisation))
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
    result.gaps = _gaps(session, visible, org, set(online), user)
    return result


# Offers named per missing OZG-Leistung on the municipality page; all are on /ozg/<id>. At
# national scale nearly all of the catalogue's ~560 Leistungen are gaps with offers: with
# three named each the page weighed 420 kB, with one (the best) it stays readable.
OFFERS_PER_GAP = 1
# Offers kept per OZG-Leistung in the shared ranking: enough that a municipality's own
# offers, which it does not see as gaps, can be dropped and OFFERS_PER_GAP still remain.
_RANKED_OFFERS = OFFERS_PER_GAP + 5


def _gaps(session: Session, visible: Any, org: Organisation, online: set[int], user: Any) -> dict[str, list[dict[str, Any]]]:
    """Return, per Themenfeld, the OZG-Leistungen org lacks that others offer for reuse.

    Each entry carries the number of offers and the best OFFERS_PER_GAP of them (live ones
    first, then the newest). At national scale nearly every OZG-Leistung has offers by the
    hundred, so the page names a few and links to the Leistung's who-does-what page. The
    ranking is the same for every municipality: it is computed once per visibility class
    and kept briefly (read_cache), and each page drops its own offers from it.
    """
    ranking = _cached("reuse_offers_by_ozg", session, user, lambda: _offer_ranking(session, visible))
    own = dict(session.execute(
        select(listing_ozg.c.ozg_id, func.count())
        .join(Listing, Listing.id == listing_ozg.c.listing_id)
        .where(visible, PUBLISHED, Listing.reuse_offered.is_(True), Listing.organisation_id == org.id)
        .group_by(listing_ozg.c.ozg_id)
    ).all())
    gaps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in ranking:
        if entry["ozg_id"] in online:
            continue
        total = entry["total"] - own.get(entry["ozg_id"], 0)
        if total <= 0:
            continue
        offers = [o for o in entry["offers"] if o["organisation_id"] != org.id][:OFFERS_PER_GAP]
        gaps[entry["themenfeld"]].append({**entry, "total": total, "offers": offers})
    return dict(gaps)


def _offer_ranking(session: Session, visible: Any) -> list[dict[str, Any]]:
    """Return every OZG-Leistung with offers for reuse: its count and its best offers.

    Ordered by Themenfeld and name; a window function ranks the offers per Leistung, so only
    _RANKED_OFFERS rows per Leistung are read.
    """
    ozg_id = listing_ozg.c.ozg_id
    ranked = (
        select(
            ozg_id.label("ozg_id"),
            Listing.slug,
            Listing.title,
            Listing.organisation_id,
            func.row_number().over(
                partition_by=ozg_id,
                order_by=((Listing.phase == "live").desc(), Listing.published_at.desc(), Listing.id.desc()),
            ).label("rank"),
            func.count().over(partition_by=ozg_id).label("total"),
        )
        .join(Listing, Listing.id == listing_ozg.c.listing_id)
        .where(visible, PUBLISHED, Listing.reuse_offered.is_(True))
    ).subquery()
    rows = session.execute(
        select(ranked.c.ozg_id, OzgLeistung.name, Themenfeld.name, ranked.c.slug, ranked.c.title, ranked.c.total,
               ranked.c.organisation_id, Organisation.short_name)
        .join(OzgLeistung, OzgLeistung.id == ranked.c.ozg_id)
        .join(Themenfeld, Themenfeld.id == OzgLeistung.themenfeld_id)
        .join(Organisation, Organisation.id == ranked.c.organisation_id)
        .where(ranked.c.rank <= _RANKED_OFFERS)
        .order_by(Themenfeld.name, OzgLeistung.name, ranked.c.ozg_id, ranked.c.rank)
    ).all()
    out: list[dict[str, Any]] = []
    for oid, ozg_name, tf_name, slug, title, total, org_id, org_name in rows:
        if not out or out[-1]["ozg_id"] != oid:
            out.append({"ozg_id": oid, "name": ozg_name, "themenfeld": tf_name, "total": total, "offers": []})
        out[-1]["offers"].append({"slug": slug, "title": title, "organisation": org_name, "organisation_id": org_id})
    return out
