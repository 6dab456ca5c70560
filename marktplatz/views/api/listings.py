"""API: listings, status updates, reuse declarations, duplicate check, publiccode.yml export."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, request
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from ... import search
from ...core.db import get_session
from ...core.extensions import search_limit
from ...models import (
    Listing,
    StatusUpdate,
)
from ...models.listing import KINDS, PHASES, STATUSES
from ...schemas.listing import ListingSchema, ReuseSchema, StatusUpdateSchema
from ...services import listing_query, publiccode
from ...services import listings as listing_service
from ...services import reuse as reuse_service
from ...services.duplicates import find_duplicates
from ...services.errors import Invalid
from ...services.listing_query import ListingQuery
from ...services.sync import listing_input
from . import cursor as cursors
from . import mergepatch, problems
from .common import (
    ApiBlueprint,
    accepts,
    current_user_or_none,
    id_page,
    ranked_cursor,
    ranked_page,
    rate_limited,
    read_only,
    require_scope,
    safe_int,
)
from .schemas import (
    DuplicateCheckSchema,
    DuplicateResultSchema,
    ListingArgs,
    ListingOutSchema,
    ListingPageSchema,
    PageArgs,
    ReuseOutSchema,
    StatusUpdateOutSchema,
    page_schema,
)

blp = ApiBlueprint("api_listings", __name__, url_prefix="/api/v1/listings",
                   description="Einträge: Dienste, Komponenten, Projekte")
problems.install(blp)
rate_limited(blp)

MERGE_PATCH = "application/merge-patch+json"
StatusUpdatePage = page_schema(StatusUpdateOutSchema, "StatusUpdatePage")
ReusePage = page_schema(ReuseOutSchema, "ReusePage")
LOAD_OPTIONS = (
    selectinload(Listing.tag_rows),
    selectinload(Listing.ozg_leistungen),
    selectinload(Listing.leika_leistungen),
)


# Full-text queries take at most this many best matches from the search index, best first;
# pages follow that ranking (the cursor is a position in it).
MAX_TEXT_MATCHES = 10_000


def text_matches(user: Any, q: str) -> tuple[Any, list[int] | None]:
    """Return the condition selecting the listings that match q and their ranking.

    The ids come from the search index, best first; while the index cannot answer (missing,
    or behind the caller's own last write) the condition is the plain SQL match and the
    ranking None (the page is then in id order).
    """
    ids = search.matching_listing_ids(user, q, limit=MAX_TEXT_MATCHES)
    if ids is None:
        return listing_query.text_condition(q), None
    return Listing.id.in_(ids), ids


Facets = dict[str, list[dict[str, Any]]]
FACET_LABELS = {"kind": KINDS, "status": STATUSES, "phase": PHASES}


def text_facets(user: Any, q: str, restrict: list[int] | None) -> Facets:
    """Return the search facets of q (code, German name, count), over restrict when other
    filters narrowed it."""
    filters = {"listing_ids": restrict} if restrict is not None else {}
    found = search.search_listings(user, q, filters, "relevance", 1, 1)
    return {name: [{"code": str(value), "name": str(label), "count": count} for value, label, count in entries]
            for name, entries in found.facets.items()}


def column_facets(q: Any) -> Facets:
    """Return the kind, status and phase facets of the listings q selects, largest first."""
    facets: Facets = {}
    sub = q.subquery()
    for name, labels in FACET_LABELS.items():
        col = sub.c[name]
        rows = get_session().execute(select(col, func.count()).group_by(col)).all()
        entries = [{"code": str(k), "name": labels.get(k, str(k)), "count": n} for k, n in rows if k is not None]
        facets[name] = sorted(entries, key=lambda e: (-e["count"], e["code"]))
    return facets


def duplicate_candidates(session: Any, user: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Return the duplicate report of data (title, ozg_ids, leika_keys, exclude_id) for the API."""
    ozg_ids = list(data.get("ozg_ids") or [])
    keys = [k.strip() for k in data.get("leika_keys") or [] if k.strip()]
    report = find_duplicates(session, user, {"title": data.get("title") or "", "ozg_ids": ozg_ids,
                                             "leika_keys": keys, "id": data.get("exclude_id")})
    def candidate(m: Any) -> dict[str, Any]:
        lst = m.listing
        return {
            "id": lst.id, "title": lst.title, "kind": lst.kind, "organisation": lst.organisation,
            "score": m.score, "reasons": m.reasons, "reuse_offered": lst.reuse_offered,
            "reifegrad": lst.reifegrad, "reifegrad_model": lst.reifegrad_model, "platform": lst.platform,
            "cost_model": lst.cost_model, "reusers": m.reusers,
            "own_reuse_stage": m.own_reuse.stage if m.own_reuse is not None else None,
            "shared_ozg_ids": sorted({o.id for o in lst.ozg_leistungen} & set(ozg_ids)),
            "shared_leika_keys": sorted({lk.key for lk in lst.leika_leistungen} & set(keys)),
        }

    return {"summary": report.summary, "municipalities": report.municipalities,
            "offering_reuse": report.offering_reuse,
            "candidates": [candidate(m) for m in report.others],
            "own_listings": [candidate(m) for m in report.own]}


def _get(listing_id: int) -> Listing:
    return listing_service.get_listing(get_session(), current_user_or_none(), safe_int(listing_id))


@blp.route("")
@search_limit("SEARCH_RATELIMIT")
@blp.etag
@blp.arguments(ListingArgs, location="query")
@blp.response(200, ListingPageSchema)
def list_listings(args: dict[str, Any]):
    """List the listings the caller may see, with filters, full-text q and optional facets."""
    user = current_user_or_none()
    text = (args.get("q") or "").strip()
    query = ListingQuery(viewer=user, published_only=False, include_archived=True, **{
        name: args.get(name) for name in ("kind", "status", "phase", "external_id", "reuse_offered", "ags",
                                          "ozg_id", "leika_key", "tag")})
    q = listing_query.statement(query)  # the text is matched through the index below
    ranking, matched, facets = None, None, None
    if text:
        condition, ranking = text_matches(user, text)
        q = q.where(condition)
        if query.narrowed or ranking is not None:
            matched = set(get_session().scalars(q.with_only_columns(Listing.id)))
        facets = text_facets(user, text, sorted(matched) if query.narrowed and matched is not None else None)
    elif args.get("facets"):
        facets = column_facets(q)
    if ranking is not None and matched is not None:  # best match first, as on the web's search page
        page = ranked_page([i for i in ranking if i in matched], Listing, args, "api_listings.list_listings",
                           options=LOAD_OPTIONS, anchored=True)
    else:
        after = ranked_cursor(args.get("after")) if text else None
        if after is not None and len(after) == 2:  # a ranked walk while the index cannot answer
            args = {**args, "after": cursors.encode(after[1])}
        page = id_page(q.options(*LOAD_OPTIONS), Listing, args, "api_listings.list_listings")
    if facets is not None:
        page["facets"] = facets
    return page


@blp.route("", methods=["POST"])
@blp.etag
@blp.arguments(ListingSchema)
@blp.response(201, ListingOutSchema)
def create_listing(data: dict[str, Any]):
    """Create a draft listing of the token's municipality."""
    p = require_scope("write")
    return listing_service.create_listing(get_session(), p.user, data)


@blp.route("/<int:listing_id>")
@blp.etag
@blp.response(200, ListingOutSchema)
def get_listing(listing_id: int):
    """Return one listing."""
    return _get(listing_id)


@blp.route("/<int:listing_id>", methods=["PUT"])
@blp.etag
@blp.arguments(ListingSchema)
@blp.response(200, ListingOutSchema)
def replace_listing(data: dict[str, Any], listing_id: int):
    """Replace a listing's fields (If-Match optional, 412 on mismatch)."""
    p = require_scope("write")
    listing = _get(listing_id)
    blp.check_etag(listing, ListingOutSchema)
    return listing_service.update_listing(get_session(), p.user, listing, data, expected_version=None)


@blp.route("/<int:listing_id>", methods=["PATCH"])
@blp.etag
@blp.doc(requestBody={"required": True, "content": {MERGE_PATCH: {"schema": {"type": "object"}}}})
@blp.response(200, ListingOutSchema)
@accepts(MERGE_PATCH, "application/json")
def patch_listing(listing_id: int):
    """Apply a JSON merge patch (RFC 7396) to a listing."""
    p = require_scope("write")
    patch = request.get_json(force=True, silent=True)
    if not isinstance(patch, dict):
        raise Invalid({"_schema": ["Erwartet wird ein JSON-Objekt (application/merge-patch+json)."]})
    listing = _get(listing_id)
    blp.check_etag(listing, ListingOutSchema)
    try:
        merged = mergepatch.apply(listing_input(listing), patch)
    except mergepatch.MergePatchError as err:
        raise Invalid({"_schema": [str(err)]}) from err
    return listing_service.update_listing(get_session(), p.user, listing, merged, expected_version=None)


@blp.route("/<int:listing_id>", methods=["DELETE"])
@blp.etag
@blp.response(204)
def delete_listing(listing_id: int):
    """Archive a listing (listings are never hard-deleted through the API)."""
    p = require_scope("write")
    listing = _get(listing_id)
    blp.check_etag(listing, ListingOutSchema)
    listing_service.archive_listing(get_session(), p.user, listing, "über die API")
    return None


@blp.route("/<int:listing_id>/archive", methods=["POST"])
@blp.etag
@blp.response(200, ListingOutSchema)
def archive_listing(listing_id: int):
    """Archive a listing and return it."""
    p = require_scope("write")
    listing = _get(listing_id)
    return listing_service.archive_listing(get_session(), p.user, listing, "über die API")


@blp.route("/<int:listing_id>/restore", methods=["POST"])
@blp.etag
@blp.response(200, ListingOutSchema)
def restore_listing(listing_id: int):
    """Return an archived listing to the state it was archived from."""
    p = require_scope("write")
    listing = _get(listing_id)
    return listing_service.restore_listing(get_session(), p.user, listing, "über die API")


@blp.route("/<int:listing_id>/submit", methods=["POST"])
@blp.etag
@blp.response(200, ListingOutSchema)
def submit_listing(listing_id: int):
    """Submit a draft listing for review by the network coordinators."""
    p = require_scope("write")
    listing = _get(listing_id)
    return listing_service.submit_for_review(get_session(), p.user, listing)


@blp.route("/<int:listing_id>/status-updates")
@blp.etag
@blp.arguments(PageArgs, location="query")
@blp.response(200, StatusUpdatePage)
def list_status_updates(args: dict[str, Any], listing_id: int):
    """List the status timeline of a listing."""
    listing = _get(listing_id)
    q = select(StatusUpdate).where(StatusUpdate.listing_id == listing.id)
    return id_page(q, StatusUpdate, args, "api_listings.list_status_updates", listing_id=listing.id)


@blp.route("/<int:listing_id>/status-updates", methods=["POST"])
@blp.etag
@blp.arguments(StatusUpdateSchema)
@blp.response(201, StatusUpdateOutSchema)
def post_status_update(data: dict[str, Any], listing_id: int):
    """Post a status update to a listing's timeline."""
    p = require_scope("write")
    listing = _get(listing_id)
    return listing_service.post_status_update(get_session(), p.user, listing, data)


@blp.route("/<int:listing_id>/reuses")
@blp.etag
@blp.arguments(PageArgs, location="query")
@blp.response(200, ReusePage)
def list_reuses_of_listing(args: dict[str, Any], listing_id: int):
    """List the declared reuses of a listing."""
    from ...models import Reuse

    listing = _get(listing_id)
    q = select(Reuse).where(Reuse.listing_id == listing.id)
    return id_page(q, Reuse, args, "api_listings.list_reuses_of_listing", listing_id=listing.id)


@blp.route("/<int:listing_id>/reuses", methods=["POST"])
@blp.etag
@blp.arguments(ReuseSchema)
@blp.response(201, ReuseOutSchema)
def declare_reuse(data: dict[str, Any], listing_id: int):
    """Declare that the token's municipality reuses this listing."""
    p = require_scope("write")
    listing = _get(listing_id)
    return reuse_service.declare_reuse(get_session(), p.user, listing, data)


@blp.route("/duplicate-check", methods=["POST"])
@blp.arguments(DuplicateCheckSchema)
@blp.response(200, DuplicateResultSchema)
@read_only
def duplicate_check(data: dict[str, Any]):
    """Find visible listings with the same OZG-Leistung, LeiKa key or a similar title, ranked."""
    return duplicate_candidates(get_session(), current_user_or_none(), data)


@blp.route("/<int:listing_id>/publiccode.yml")
@blp.doc(responses={200: {"description": "publiccode.yml (YAML)",
                          "content": {"application/yaml": {"schema": {
                              "type": "object", "required": ["publiccodeYmlVersion", "name", "url"],
                              "description": "Ein publiccode.yml-Dokument (Standard 0.4) als YAML."}}}}})
def export_publiccode(listing_id: int):
    """Export a listing as a valid publiccode.yml."""
    listing = _get(listing_id)
    text = publiccode.export_yaml(listing)
    resp = Response(text, mimetype="application/yaml")
    resp.headers["Content-Disposition"] = f'inline; filename="{listing.slug}-publiccode.yml"'
    resp.set_etag(hashlib.sha1(text.encode("utf-8")).hexdigest())
    return resp.make_conditional(request)
