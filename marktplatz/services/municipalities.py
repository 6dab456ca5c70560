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
from .read_cache import ONLINE_REUSE_STAGES, PUBLISHED

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
