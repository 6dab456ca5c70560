"""Warn before a listing is created twice: same OZG-Leistung, same LeiKa key or similar text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import LeikaLeistung, Listing, ListingStatus, listing_leika, listing_ozg
from ..permissions import listing_visibility_filter


@dataclass
class DuplicateMatch:
    """An existing listing that may describe the same thing."""

    listing: Listing
    score: float
    reasons: list[str]


@dataclass
class DuplicateReport:
    """Ranked matches and a one-line summary for the form."""

    matches: list[DuplicateMatch] = field(default_factory=list)
    municipalities: int = 0
    offering_reuse: int = 0

    @property
    def summary(self) -> str:
        """Return e.g. '14 Kommunen arbeiten bereits daran, 3 bieten ihre Lösung zur Nachnutzung an'."""
        if not self.matches:
            return ""
        n, k = self.municipalities, self.offering_reuse
        first = "1 Kommune arbeitet bereits daran" if n == 1 else f"{n} Kommunen arbeiten bereits daran"
        if k == 0:
            return first + "."
        second = "1 bietet ihre Lösung zur Nachnutzung an" if k == 1 else f"{k} bieten ihre Lösung zur Nachnutzung an"
        return f"{first}, {second}."


def find_duplicates(session: Session, user: Any, data: dict[str, Any], limit: int = 20) -> DuplicateReport:
    """Return listings user may see that share the OZG-Leistung, LeiKa key or wording of data."""
    scores: dict[int, float] = {}
    reasons: dict[int, list[str]] = {}

    def add(lid: int, score: float, reason: str) -> None:
        scores[lid] = scores.get(lid, 0.0) + score
        if reason not in reasons.setdefault(lid, []):
            reasons[lid].append(reason)

    visible = listing_visibility_filter(user)
    ozg_ids = [int(x) for x in data.get("ozg_ids") or [] if str(x).strip().isdigit()]
    if ozg_ids:
        q = select(listing_ozg.c.listing_id).join(Listing, Listing.id == listing_ozg.c.listing_id).where(
            listing_ozg.c.ozg_id.in_(ozg_ids), visible, Listing.status != ListingStatus.ARCHIVED.value
        )
        for lid in session.scalars(q):
            add(lid, 5.0, "Gleiche OZG-Leistung")
    keys = [str(k).strip() for k in data.get("leika_keys") or [] if str(k).strip()]
    if keys:
        q = (
            select(listing_leika.c.listing_id)
            .join(LeikaLeistung, LeikaLeistung.id == listing_leika.c.leika_id)
            .join(Listing, Listing.id == listing_leika.c.listing_id)
            .where(LeikaLeistung.key.in_(keys), visible, Listing.status != ListingStatus.ARCHIVED.value)
        )
        for lid in session.scalars(q):
            add(lid, 6.0, "Gleicher LeiKa-Schlüssel")
    text = " ".join(filter(None, [data.get("title") or ""]))
    if text.strip():
        from ..search import similar_listings

        for lid, sim in similar_listings(user, text, limit=limit):
            add(lid, 4.0 * sim, "Ähnlicher Titel")
    if not scores:
        return DuplicateReport()
    own_id = data.get("id")
    ranked = sorted((lid for lid in scores if lid != own_id), key=lambda i: -scores[i])[:limit]
    rows = {lst.id: lst for lst in session.scalars(select(Listing).where(Listing.id.in_(ranked)))}
    matches = [DuplicateMatch(rows[i], round(scores[i], 2), reasons[i]) for i in ranked if i in rows]
    orgs = {m.listing.organisation_id for m in matches}
    offering = {m.listing.organisation_id for m in matches if m.listing.reuse_offered}
    return DuplicateReport(matches, len(orgs), len(offering))
