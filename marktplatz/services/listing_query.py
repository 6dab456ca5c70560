"""One query object for listing lists, and the listings service that runs it.

The web builds a ListingQuery from its German URL parameters (``art``, ``lizenz``,
``sortierung``), the API from its own (``kind``, ``ozg_id``, ...). Both mean the same
fields, named once here. ``statement`` turns a query into SQL (visibility included);
``index_filters`` into the search index's filters; ``browse`` runs it: through the index
when there is a search text (every hit re-checked against the database with the same
visibility policy, since the index may lag), through SQL otherwise or while the index
cannot answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql import Select

from ..models import (
    LeikaLeistung,
    Listing,
    ListingStatus,
    ListingTag,
    Network,
    NetworkMembership,
    Organisation,
    OzgLeistung,
    Reuse,
    listing_leika,
    listing_ozg,
)
from ..permissions import listing_visibility_filter

SORTS = ("relevance", "newest", "updated", "title", "reused")
INDEX_SORTS = {"relevance": "relevance", "newest": "newest", "reused": "reused"}
# A multi-choice filter (kind, land, kreis, network, themenfeld_id, phase, licence) holds
# None, one value or a tuple of values: any of them matches (OR within a filter, AND across).
Choice = Any


def choices(value: Choice) -> tuple[Any, ...]:
    """Return a multi-choice filter's values as a tuple (empty: no choice)."""
    if value is None or value == "":
        return ()
    return tuple(value) if isinstance(value, (tuple, list, set, frozenset)) else (value,)


@dataclass(frozen=True)
class ListingQuery:
    """Which listings a viewer asks for: filters, sort and page (None: not filtered)."""

    viewer: Any = None
    text: str | None = None
    kind: Choice = None
    status: str | None = None
    phase: Choice = None
    land: Choice = None
    kreis: Choice = None
    network: Choice = None  # slugs
    ozg_id: int | None = None
    themenfeld_id: Choice = None
    leika_key: str | None = None
    ags: str | None = None
    tag: str | None = None
    external_id: str | None = None
    min_reifegrad: int | None = None
    reifegrad_model: str | None = None  # the model min_reifegrad counts in (None: any)
    licence: Choice = None
    reuse_offered: bool | None = None
    published_only: bool = True
    include_archived: bool = False  # archived listings and merged duplicates too
    sort: str = "newest"
    page: int = 1
    size: int = 20

    def without_text(self) -> ListingQuery:
        """Return the same query without its search text."""
        return replace(self, text=None)

    @property
    def narrowed(self) -> bool:
        """Tell whether any filter besides the text is set."""
        return any(getattr(self, name) not in (None, ()) for name in (
            "kind", "status", "phase", "land", "kreis", "network", "ozg_id", "themenfeld_id", "leika_key",
            "ags", "tag", "external_id", "min_reifegrad", "licence", "reuse_offered"))


@dataclass
class Page:
    """One page of results with its paging numbers."""

    items: list[Any]
    total: int
    page: int
    size: int

    @property
    def pages(self) -> int:
        """Return the number of pages."""
        return max(1, -(-self.total // self.size))

    @property
    def has_prev(self) -> bool:
        """Tell whether there is a previous page."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Tell whether there is a next page."""
        return self.page < self.pages


def text_condition(text: str) -> Any:
    """Return the plain SQL match of a search text (used while the search index cannot answer)."""
    term = f"%{text.lower()}%"
    return or_(
        func.lower(Listing.title).like(term),
        func.lower(Listing.summary).like(term),
        func.lower(Listing.technologies).like(term),
        func.lower(Listing.platform).like(term),
    )


def statement(q: ListingQuery) -> Select:
    """Return a select() of the listings q's viewer may see that match q's filters."""
    s = select(Listing).where(listing_visibility_filter(q.viewer))
    if q.published_only:
        shown = [ListingStatus.PUBLISHED.value] + ([ListingStatus.ARCHIVED.value] if q.include_archived else [])
        s = s.where(Listing.status.in_(shown))
    elif not q.include_archived and q.status is None:
        s = s.where(Listing.status != ListingStatus.ARCHIVED.value)
    if q.text:
        s = s.where(text_condition(q.text))
    for name in ("status", "external_id", "reuse_offered"):
        value = getattr(q, name)
        if value is not None:
            s = s.where(getattr(Listing, name) == value)
    for name in ("kind", "phase", "licence"):
        if values := choices(getattr(q, name)):
            s = s.where(getattr(Listing, name).in_(values))
    if q.min_reifegrad is not None:
        s = s.where(Listing.reifegrad >= q.min_reifegrad)
        if q.reifegrad_model is not None:
            s = s.where(Listing.reifegrad_model == q.reifegrad_model)
    org_cond = []
    if lands := choices(q.land):
        org_cond.append(Organisation.land_code.in_(lands))
    if kreise := choices(q.kreis):
        org_cond.append(or_(Organisation.kreis_key.in_(kreise), Organisation.key.in_(kreise)))
    if q.ags:
        org_cond.append(Organisation.ags == q.ags)
    if org_cond:
        s = s.where(exists(select(Organisation.id).where(Organisation.id == Listing.organisation_id, *org_cond)))
    if nets := choices(q.network):
        s = s.where(exists(
            select(NetworkMembership.id).join(Network, Network.id == NetworkMembership.network_id)
            .where(NetworkMembership.organisation_id == Listing.organisation_id, Network.slug.in_(nets))))
    if q.ozg_id is not None:
        s = s.where(exists(select(listing_ozg.c.listing_id).where(
            listing_ozg.c.listing_id == Listing.id, listing_ozg.c.ozg_id == q.ozg_id)))
    if themen := choices(q.themenfeld_id):
        s = s.where(exists(
            select(listing_ozg.c.listing_id).join(OzgLeistung, OzgLeistung.id == listing_ozg.c.ozg_id)
            .where(listing_ozg.c.listing_id == Listing.id, OzgLeistung.themenfeld_id.in_(themen))))
    if q.leika_key:
        s = s.where(Listing.id.in_(
            select(listing_leika.c.listing_id).join(LeikaLeistung, LeikaLeistung.id == listing_leika.c.leika_id)
            .where(LeikaLeistung.key == q.leika_key)))
    if q.tag:
        s = s.where(Listing.id.in_(select(ListingTag.listing_id).where(func.lower(ListingTag.tag) == q.tag.lower())))
    return s


def _reuse_count() -> Any:
    return (
        select(func.count(Reuse.id))
        .where(Reuse.listing_id == Listing.id, Reuse.stage != "discontinued")
        .correlate(Listing)
        .scalar_subquery()
    )


def _sql_order(sort: str) -> tuple[Any, ...]:
    return {
        "updated": (Listing.updated_at.desc(), Listing.id.desc()),
        "title": (func.lower(Listing.title), Listing.id),
        "reused": (_reuse_count().desc(), Listing.published_at.desc(), Listing.id.desc()),
    }.get(sort, (Listing.published_at.desc(), Listing.id.desc()))


def sql_page(session: Session, q: ListingQuery) -> Page:
    """Return one page of q through SQL, sorted (relevance falls back to newest)."""
    s = statement(q)
    total = session.scalar(select(func.count()).select_from(s.order_by(None).subquery())) or 0
    pages = max(1, -(-total // q.size))
    page = min(max(q.page, 1), pages)
    items = list(session.scalars(
        s.options(selectinload(Listing.reuses)).order_by(*_sql_order(q.sort)).offset((page - 1) * q.size).limit(q.size)
    ))
    return Page(items, total, page, q.size)


# Filters the index can apply; a query with any other (status, ags, tag, leika_key,
# external_id) is answered by SQL when it has no search text.
_SQL_ONLY = ("status", "ags", "tag", "leika_key", "external_id")


def index_filters(session: Session, q: ListingQuery) -> dict[str, Any]:
    """Translate q's filters into the search index's filters."""
    out: dict[str, Any] = {"include_archived": q.include_archived}
    if q.published_only:
        out["statuses"] = {ListingStatus.PUBLISHED.value} | (
            {ListingStatus.ARCHIVED.value} if q.include_archived else set())
    for name in ("kind", "land", "kreis", "phase", "licence"):
        if values := choices(getattr(q, name)):
            out[name] = list(values)
    if nets := choices(q.network):
        ids = session.scalars(select(Network.id).where(Network.slug.in_(nets))).all()
        out["network"] = [str(i) for i in ids] or ["0"]
    if themen := choices(q.themenfeld_id):
        out["themenfeld"] = [str(t) for t in themen]
    if q.min_reifegrad is not None:
        out["reifegrad_min"] = q.min_reifegrad
        out["reifegrad_model"] = q.reifegrad_model
    if q.reuse_offered:
        out["reuse_offered"] = "ja"
    if q.ozg_id is not None:
        out["ozg_id"] = q.ozg_id
    return out


@dataclass
class Browse:
    """A page of (listing, search hit or None), with what the index adds to a text search."""

    page: Page
    from_index: bool = False
    index_unavailable: bool = False  # the index is being rebuilt (not merely behind the viewer)
    facets: dict[str, list[tuple[str, str, int]]] | None = None  # (value, value, count): no labels
    spelling: list[str] | None = None
    partial_words: list[str] | None = None  # no hit had every word: results for these


def browse(session: Session, q: ListingQuery) -> Browse:
    """Run q through the search index, or through SQL when the index cannot answer it.

    A text search always goes to the index. So does browsing without a text, sorted by date
    or by reuses: the index counts the result and its facets from its bitmaps, where SQL
    would count every visible row (at 100,000 listings the browse page spent most of its
    time there). Other sorts (updated, title), filters the index does not hold and a lost or
    lagging index are answered by SQL.
    """
    from .. import search

    by_index = bool(q.text) or (q.sort in INDEX_SORTS and q.sort != "relevance"
                                and all(getattr(q, name) is None for name in _SQL_ONLY))
    if by_index:
        sort = INDEX_SORTS.get(q.sort, "relevance")
        flt = index_filters(session, q)
        # The page labels the facet options from filter_options: no label lookups here.
        found = search.search_listings(q.viewer, q.text or "", flt, sort, q.page, q.size, facet_labels=False)
        if not found.unavailable:
            page = q.page
            if page > found.pages:
                page = found.pages
                found = search.search_listings(q.viewer, q.text or "", flt, sort, page, q.size, facet_labels=False)
            # The index may lag behind a change of state or visibility: every hit is checked
            # against the database with the same policy before it is shown.
            rows = {lst.id: lst for lst in session.scalars(
                statement(replace(q, text=None, page=1)).where(Listing.id.in_(found.listing_ids))
                .options(selectinload(Listing.reuses)))}
            # Without a text the database's own title and summary are shown, not the index's.
            items = [(rows[h.listing_id], h if q.text else None) for h in found.hits if h.listing_id in rows]
            return Browse(Page(items, found.total, page, q.size), from_index=True,
                          facets=found.facets, spelling=found.suggestions, partial_words=found.partial_words)
        # While a lost index is rebuilt, or while it lags behind the viewer's own last write,
        # the plain database search stands in (the notice only for a rebuild).
        unavailable = not found.lagging
        if q.text:
            q = replace(q, published_only=False)  # as the index would: own drafts too
    else:
        unavailable = False
    found_sql = sql_page(session, q)
    return Browse(Page([(lst, None) for lst in found_sql.items], found_sql.total, found_sql.page, found_sql.size),
                  index_unavailable=unavailable)
