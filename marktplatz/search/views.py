"""Search pages: /suche (results with facets) and /suche/vorschlaege (autocomplete JSON)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..db import get_session
from ..models import Listing, Organisation
from . import FACET_TITLES, FACETS, SORTS, search_listings, suggest

bp = Blueprint("search", __name__)


def _filters_from_args() -> dict[str, list[str]]:
    return {name: [v for v in request.args.getlist(name) if v] for name in FACETS if request.args.getlist(name)}


@bp.route("/suche")
def search_page():
    """Show search results with facets, highlights, sorting and pagination."""
    q = request.args.get("q", "").strip()[:200]
    sort = request.args.get("sort", "relevance")
    page = request.args.get("seite", 1, type=int) or 1
    filters = _filters_from_args()
    result = search_listings(current_user, q, filters, sort, page, 20)
    session = get_session()
    rows = {
        lst.id: lst
        for lst in session.scalars(select(Listing).where(Listing.id.in_(result.listing_ids)))
    }
    items = [(hit, rows[hit.listing_id]) for hit in result.hits if hit.listing_id in rows]
    suggestions = suggest(current_user, q, 5) if q else {"organisations": [], "ozg": [], "listings": []}
    org_keys = {}
    if suggestions["organisations"]:
        ids = [s["id"] for s in suggestions["organisations"]]
        org_keys = dict(session.execute(select(Organisation.id, Organisation.key).where(Organisation.id.in_(ids))).all())

    def page_url(n: int) -> str:
        args = request.args.to_dict(flat=False)
        args["seite"] = [str(n)]
        return url_for("search.search_page", **args)

    return render_template(
        "search/results.html", q=q, sort=sort, sorts=SORTS, result=result, items=items,
        filters=filters, facet_titles=FACET_TITLES, suggestions=suggestions, org_keys=org_keys,
        page_url=page_url, has_listing_page="web.listing_detail",
    )


@bp.route("/suche/vorschlaege")
def suggestions():
    """Return autocomplete entries as JSON: listings, municipalities and OZG-Leistungen."""
    q = request.args.get("q", "").strip()[:100]
    data = suggest(current_user, q, 5)
    session = get_session()
    slugs = dict(session.execute(
        select(Listing.id, Listing.slug).where(Listing.id.in_([s["id"] for s in data["listings"]]))
    ).all()) if data["listings"] else {}
    keys = dict(session.execute(
        select(Organisation.id, Organisation.key).where(Organisation.id.in_([s["id"] for s in data["organisations"]]))
    ).all()) if data["organisations"] else {}
    for s in data["listings"]:
        s["url"] = url_for("web.listing_detail", slug=slugs.get(s["id"], ""))
    for s in data["organisations"]:
        s["url"] = url_for("web.municipality", key=keys.get(s["id"], ""))
    for s in data["ozg"]:
        s["url"] = url_for("search.search_page", q=str(s["id"]))
    return jsonify(data)
