"""Reads of the OZG catalogue: Leistungen with their listings, the matrix, the catalogue picker."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..models import (
    LeikaLeistung,
    Listing,
    ListingStatus,
    OzgLeistung,
    Themenfeld,
    listing_ozg,
)
from ..permissions import listing_visibility_filter
from .read_cache import PUBLISHED

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
