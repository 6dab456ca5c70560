"""Numbers for the coordinator dashboard of a network (or of the whole platform for admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import (
    Flag,
    Listing,
    ListingStatus,
    Network,
    NetworkMembership,
    OzgLeistung,
    Reuse,
    Themenfeld,
    listing_ozg,
    utcnow,
)
from ..models.listing import PHASES
from ..permissions import listing_visibility_filter
from .common import require


def _member_filter(network: Network | None):
    if network is None:
        return None
    return Listing.organisation_id.in_(
        select(NetworkMembership.organisation_id).where(NetworkMembership.network_id == network.id))


def _months(now: datetime, count: int = 12) -> list[tuple[int, int]]:
    y, m = now.year, now.month
    out = []
    for _ in range(count):
        out.append((y, m))
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return list(reversed(out))


def dashboard(session: Session, user: Any, network: Network | None) -> dict[str, Any]:
    """Return the dashboard figures for network (None: all listings, admins only)."""
    require(user, "network.view_dashboard", network)
    scope = _member_filter(network)
    # Figures count only what the viewer may see (a coordinator never counts drafts).
    conds = [listing_visibility_filter(user)] + ([scope] if scope is not None else [])
    published = [*conds, Listing.status == ListingStatus.PUBLISHED.value]

    by_status = dict(session.execute(
        select(Listing.status, func.count(Listing.id)).where(*conds).group_by(Listing.status)).all())
    phase_rows = dict(session.execute(
        select(Listing.phase, func.count(Listing.id)).where(*published).group_by(Listing.phase)).all())
    phases = [(label, phase_rows.get(key, 0)) for key, label in PHASES.items()]
    if phase_rows.get(None):
        phases.append(("Ohne Angabe", phase_rows[None]))

    now = utcnow()
    months = _months(now)
    start = datetime(months[0][0], months[0][1], 1, tzinfo=now.tzinfo)
    reuse_dates = session.scalars(
        select(Reuse.created_at).join(Listing, Listing.id == Reuse.listing_id)
        .where(*conds, Reuse.created_at >= start))
    per_month = {k: 0 for k in months}
    for when in reuse_dates:
        key = (when.year, when.month)
        if key in per_month:
            per_month[key] += 1
    reuses_over_time = [(f"{m:02d}/{y % 100:02d}", n) for (y, m), n in per_month.items()]

    top_rows = session.execute(
        select(Listing, func.count(Reuse.id).label("n")).join(Reuse, Reuse.listing_id == Listing.id)
        .where(*published, Reuse.stage != "discontinued")
        .group_by(Listing.id).order_by(func.count(Reuse.id).desc(), Listing.title).limit(10)).all()
    most_reused = [(row[0], row[1]) for row in top_rows]

    overrides = list(session.scalars(
        select(Listing).where(*conds, Listing.duplicate_override_reason.is_not(None),
                              Listing.duplicate_override_reason != "")
        .order_by(Listing.created_at.desc()).limit(50)))

    covered_q = (select(func.distinct(listing_ozg.c.ozg_id))
                 .join(Listing, Listing.id == listing_ozg.c.listing_id).where(*published))
    covered_ids = set(session.scalars(covered_q))
    total_ozg = session.scalar(select(func.count(OzgLeistung.id))) or 0
    per_field_total = dict(session.execute(
        select(OzgLeistung.themenfeld_id, func.count(OzgLeistung.id)).group_by(OzgLeistung.themenfeld_id)).all())
    per_field_cov: dict[int, int] = {}
    if covered_ids:
        for tf_id, n in session.execute(
            select(OzgLeistung.themenfeld_id, func.count(OzgLeistung.id))
            .where(OzgLeistung.id.in_(covered_ids)).group_by(OzgLeistung.themenfeld_id)):
            per_field_cov[tf_id] = n
    fields = session.scalars(select(Themenfeld).order_by(Themenfeld.name)).all()
    coverage = [
        {"name": tf.name, "covered": per_field_cov.get(tf.id, 0), "total": per_field_total.get(tf.id, 0),
         "percent": round(100 * per_field_cov.get(tf.id, 0) / per_field_total[tf.id], 1)
         if per_field_total.get(tf.id) else 0.0}
        for tf in fields
    ]
    open_flags = session.scalar(
        select(func.count(Flag.id)).join(Listing, Listing.id == Flag.listing_id)
        .where(*conds, Flag.status == "open")) or 0
    return {
        "network": network,
        "totals": {
            "members": len(network.memberships) if network is not None else None,
            "published": by_status.get(ListingStatus.PUBLISHED.value, 0),
            "in_review": by_status.get(ListingStatus.IN_REVIEW.value, 0),
            "changes_requested": by_status.get(ListingStatus.CHANGES_REQUESTED.value, 0),
            "archived": by_status.get(ListingStatus.ARCHIVED.value, 0),
            "reuses": session.scalar(
                select(func.count(Reuse.id)).join(Listing, Listing.id == Reuse.listing_id)
                .where(*conds, Reuse.stage != "discontinued")) or 0,
            "open_flags": open_flags,
            "ozg_covered": len(covered_ids),
            "ozg_total": total_ozg,
        },
        "phases": phases,
        "reuses_over_time": reuses_over_time,
        "most_reused": most_reused,
        "overrides": overrides,
        "coverage": coverage,
    }
