"""Warn before a listing is created twice: same OZG-Leistung, same LeiKa key or similar text.

The report puts reuse first: offers for reuse from other municipalities lead, the viewer's
own municipality's listings and its existing reuses are kept apart, and generic words
("online", "digital", "Open Source", "Portal", the verbs of applying such as "anmelden",
"beantragen", ...) never make two titles similar.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from ..models import LeikaLeistung, Listing, ListingStatus, Reuse, listing_leika, listing_ozg
from ..permissions import listing_visibility_filter

# Words that say how or where a service runs, not what it does: two titles sharing only
# these are not the same thing ("Terminbuchung Open Source" is no "Berlin Open Data").
GENERIC_WORDS = frozenset("""
    online digital digitale digitaler digitales digitalen digitalisierung open source opensource
    portal portale portals service services dienst dienste onlinedienst onlinedienste
    onlineservice onlineantrag antrag anträge antrage app apps web webseite website plattform
    platform system systeme software tool tools lösung lösungen losung anwendung anwendungen
    verfahren modul module management verwaltung ebürger bürger bürgerservice bürgerportal
    serviceportal stadt städte gemeinde kommune kommunen kommunal kommunale kommunaler landkreis
    kreis e egov egovernment government neu neue neues cloud
    und oder für fur der die das den dem des ein eine einer eines im in auf mit von zu zum zur
    an am als bei nach über uber per via the of and for
    anmelden anmeldung anmeldungen abmelden abmeldung ummelden ummeldung melden meldung beantragen
    beantragung bestellen bestellung einreichen erhalten ausstellen ausstellung
""".split())

_WORD = re.compile(r"[^\W_]+")


def significant_words(text: str) -> list[str]:
    """Return the words of text that can make a title similar (no generic words)."""
    words = []
    for word in _WORD.findall(text or ""):
        if len(word) > 1 and word.casefold() not in GENERIC_WORDS:
            words.append(word)
    return words


@dataclass
class DuplicateMatch:
    """An existing listing that may describe the same thing."""

    listing: Listing
    score: float
    reasons: list[str]
    # The viewer's municipality's reuse of this listing, if it declared one.
    own_reuse: Reuse | None = None

    @property
    def reusers(self) -> int:
        """Count the municipalities that reuse the listing (not discontinued)."""
        return self.listing.active_reuse_count


@dataclass
class DuplicateReport:
    """Matches in reuse-first order and a one-line summary for the form.

    ``others`` are other municipalities' listings, offers for reuse first; ``own`` are the
    viewer's municipality's listings ("Ihre Kommune hat bereits ..."); ``reused`` are the
    matches the viewer's municipality already reuses (also in ``others``).
    """

    others: list[DuplicateMatch] = field(default_factory=list)
    own: list[DuplicateMatch] = field(default_factory=list)
    municipalities: int = 0
    offering_reuse: int = 0

    @property
    def matches(self) -> list[DuplicateMatch]:
        """Return every match: others (offers first), then the own municipality's."""
        return self.others + self.own

    @property
    def offers(self) -> list[DuplicateMatch]:
        """Return the other municipalities' matches offered for reuse."""
        return [m for m in self.others if m.listing.reuse_offered]

    @property
    def rest(self) -> list[DuplicateMatch]:
        """Return the other municipalities' matches not offered for reuse."""
        return [m for m in self.others if not m.listing.reuse_offered]

    @property
    def reused(self) -> list[DuplicateMatch]:
        """Return the matches the viewer's municipality already reuses."""
        return [m for m in self.others if m.own_reuse is not None]

    @property
    def summary(self) -> str:
        """Return e.g. '14 Kommunen arbeiten bereits daran, 3 bieten ihre Lösung zur Nachnutzung an'."""
        if not self.others:
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
    words = significant_words(data.get("title") or "")
    if words:
        from ..search import similar_listings

        for lid, sim in similar_listings(user, " ".join(words), limit=limit):
            add(lid, 4.0 * sim, "Ähnlicher Titel")
    if not scores:
        return DuplicateReport()
    own_id = data.get("id")
    ranked = sorted((lid for lid in scores if lid != own_id), key=lambda i: -scores[i])[:limit]
    rows = {
        lst.id: lst for lst in session.scalars(
            select(Listing).where(Listing.id.in_(ranked)).options(selectinload(Listing.reuses))
        )
    }
    own_org = getattr(user, "organisation_id", None)
    own_reuses: dict[int, Reuse] = {}
    if own_org is not None and rows:
        own_reuses = {
            r.listing_id: r for r in session.scalars(
                select(Reuse).where(Reuse.organisation_id == own_org, Reuse.listing_id.in_(list(rows)))
            )
        }
    matches = [DuplicateMatch(rows[i], round(scores[i], 2), reasons[i], own_reuses.get(i))
               for i in ranked if i in rows]
    own = [m for m in matches if own_org is not None and m.listing.organisation_id == own_org]
    others = [m for m in matches if m not in own]
    # Reuse first: an offer for reuse leads, whatever its score (sorted() is stable).
    others.sort(key=lambda m: not m.listing.reuse_offered)
    orgs = {m.listing.organisation_id for m in others}
    offering = {m.listing.organisation_id for m in others if m.listing.reuse_offered}
    return DuplicateReport(others, own, len(orgs), len(offering))
