"""Reads of the OZG catalogue: Leistungen with their listings, the matrix, the catalogue picker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from ..models import (
    LeikaLeistung,
    Listing,
    ListingStatus,
    Organisation,
    OzgLeistung,
    Reuse,
    Themenfeld,
    listing_ozg,
)
from ..permissions import listing_visibility_filter
from .common import like_pattern
from .listing_query import Page
from .read_cache import PUBLISHED

# --- OZG catalogue -------------------------------------------------------------------


MAX_CATALOGUE_MATCHES = 500  # catalogue entries a text search returns at most (of 5,249 LeiKa)


def find_ozg_ids(session: Session, term: str, limit: int = MAX_CATALOGUE_MATCHES) -> list[int]:
    """Return the ids of the OZG-Leistungen matching term, best first.

    Words go through the search index's catalogue (the OZG names and their LeiKa names,
    German analysis, synonyms and word forms, ranked); an OZG-ID or the leading digits of a
    LeiKa key match exactly in SQL. While the index cannot answer, a plain name match in SQL
    stands in.
    """
    from .. import search

    term = (term or "").strip()[:200]
    if not term:
        return []
    if term.isdigit():
        ids = [int(term[:9])] if len(term) <= 9 else []
        ids += list(session.scalars(select(LeikaLeistung.ozg_id).where(LeikaLeistung.key.startswith(term))
                                    .order_by(LeikaLeistung.key).limit(limit)))
        known = set(session.scalars(select(OzgLeistung.id).where(OzgLeistung.id.in_(ids))))
        return [i for i in dict.fromkeys(ids) if i in known][:limit]
    found = search.search_catalogue(term, "ozg", limit)
    if found is not None:
        return found
    like = like_pattern(term)
    return list(session.scalars(select(OzgLeistung.id).where(or_(
        func.lower(OzgLeistung.name).like(like, escape="\\"),
        OzgLeistung.id.in_(select(LeikaLeistung.ozg_id).where(func.lower(LeikaLeistung.name).like(like, escape="\\"))),
    )).order_by(OzgLeistung.name).limit(limit)))


def find_leika_ids(session: Session, term: str, limit: int = MAX_CATALOGUE_MATCHES) -> list[int]:
    """Return the ids of the LeiKa-Leistungen matching term, best first (as find_ozg_ids)."""
    from .. import search

    term = (term or "").strip()[:200]
    if not term:
        return []
    if term.isdigit():
        return list(session.scalars(select(LeikaLeistung.id).where(LeikaLeistung.key.startswith(term[:14]))
                                    .order_by(LeikaLeistung.key).limit(limit)))
    found = search.search_catalogue(term, "leika", limit)
    if found is not None:
        return found
    return list(session.scalars(select(LeikaLeistung.id).where(
        func.lower(LeikaLeistung.name).like(like_pattern(term), escape="\\")).order_by(LeikaLeistung.key).limit(limit)))


def ozg_catalogue(session: Session, user: Any, term: str = "", themenfeld_id: int | None = None) -> list[dict[str, Any]]:
    """Return Themenfelder with their Lebenslagen and OZG-Leistungen (with listing counts)."""
    q = select(OzgLeistung).options(selectinload(OzgLeistung.lebenslage), selectinload(OzgLeistung.themenfeld))
    term = (term or "").strip()
    if term:
        q = q.where(OzgLeistung.id.in_(find_ozg_ids(session, term)))
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


# Rows per page of the who-does-what table: at national scale a popular Leistung has
# hundreds of efforts and reuses.
MATRIX_PAGE = 50
_PHASE_RANK = {"live": 0, "in_progress": 1, "planned": 2, "idea": 3, "stopped": 4}


@dataclass
class Matrix(Page):
    """One page of an OZG-Leistung's who-does-what rows (items), with the counts over all of them."""

    efforts: int = 0  # listings (own efforts) among all rows
    reusers: int = 0  # reuses among all rows

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Return the page's rows."""
        return self.items


def ozg_matrix(session: Session, user: Any, ozg_id: int, page: int = 1, size: int = MATRIX_PAGE) -> Matrix:
    """Return one page of rows, one per municipality with a listing or a reuse for this Leistung.

    Own efforts first (live ones first), then reuses, each by municipality name. The order is
    found from a few columns of every row; only the page's listings and reuses are loaded.
    """
    visible = (listing_ozg.c.ozg_id == ozg_id, listing_visibility_filter(user),
               Listing.status != ListingStatus.ARCHIVED.value)
    own = session.execute(
        select(Listing.id, Listing.phase, Organisation.short_name)
        .join(listing_ozg, listing_ozg.c.listing_id == Listing.id)
        .join(Organisation, Organisation.id == Listing.organisation_id)
        .where(*visible)
    ).all()
    reused = session.execute(
        select(Reuse.id, Listing.phase, Organisation.short_name)
        .join(Listing, Listing.id == Reuse.listing_id)
        .join(listing_ozg, listing_ozg.c.listing_id == Listing.id)
        .join(Organisation, Organisation.id == Reuse.organisation_id)
        .where(*visible, Reuse.stage != "discontinued")
    ).all()
    keys = [((False, _PHASE_RANK.get(phase or "", 5), name, lid), "listing", lid) for lid, phase, name in own]
    keys += [((True, _PHASE_RANK.get(phase or "", 5), name, rid), "reuse", rid) for rid, phase, name in reused]
    keys.sort(key=lambda k: k[0])
    total = len(keys)
    pages = max(1, -(-total // size))
    page = min(max(page, 1), pages)
    chosen = keys[(page - 1) * size : page * size]
    listing_ids = {i for _k, kind, i in chosen if kind == "listing"}
    reuse_ids = {i for _k, kind, i in chosen if kind == "reuse"}
    listings = {lst.id: lst for lst in session.scalars(
        select(Listing).where(Listing.id.in_(listing_ids)))} if listing_ids else {}
    reuses = {r.id: r for r in session.scalars(
        select(Reuse).where(Reuse.id.in_(reuse_ids)).options(selectinload(Reuse.listing)))} if reuse_ids else {}
    rows: list[dict[str, Any]] = []
    for _key, kind, i in chosen:
        if kind == "listing":
            rows.append({"org": listings[i].organisation, "listing": listings[i], "reuse": None})
        else:
            rows.append({"org": reuses[i].organisation, "listing": reuses[i].listing, "reuse": reuses[i]})
    return Matrix(rows, total, page, size, efforts=len(own), reusers=len(reused))


def catalogue_search(session: Session, term: str, limit: int = 15) -> tuple[list[OzgLeistung], list[LeikaLeistung]]:
    """Find OZG-Leistungen and LeiKa-Leistungen by name, OZG-ID or LeiKa key (for the picker)."""
    term = (term or "").strip()
    if len(term) < 2:
        return [], []
    return (by_ids(session, OzgLeistung, find_ozg_ids(session, term, limit)),
            by_ids(session, LeikaLeistung, find_leika_ids(session, term, limit)))


def matching_ozg(session: Session, term: str, limit: int = 5) -> list[dict[str, Any]]:
    """Return the best OZG-Leistungen for a search text as entries (id, label, detail)."""
    rows = by_ids(session, OzgLeistung, find_ozg_ids(session, term, limit))
    return [{"id": o.id, "label": o.name, "detail": f"OZG-ID {o.id} · {o.themenfeld.name} · {o.lebenslage.name}"}
            for o in rows]


def by_ids(session: Session, model: Any, ids: list[int]) -> list[Any]:
    """Return the rows of model with these ids, in the order of ids."""
    if not ids:
        return []
    rows = {r.id: r for r in session.scalars(select(model).where(model.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def catalogue_by_ids(session: Session, ozg_ids: list[int], leika_keys: list[str]) -> tuple[list[OzgLeistung], list[LeikaLeistung]]:
    """Return the OZG and LeiKa rows for the given ids and keys (unknown ones are skipped)."""
    ozg = list(session.scalars(select(OzgLeistung).where(OzgLeistung.id.in_(ozg_ids)))) if ozg_ids else []
    leika = list(session.scalars(select(LeikaLeistung).where(LeikaLeistung.key.in_(leika_keys)))) if leika_keys else []
    return ozg, leika
