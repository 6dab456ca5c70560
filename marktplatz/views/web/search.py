"""Search routes: /suche (redirects to the browse page /eintraege) and /suche/vorschlaege (autocomplete JSON)."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ...core.db import get_session
from ...core.extensions import search_limit
from ...models import Listing, Network, Organisation
from ...search import suggest

bp = Blueprint("search", __name__)


_SORT_NAMES = {"relevance": "relevanz", "newest": "neu", "reused": "nachnutzungen"}
_PARAM_NAMES = {"kind": "art", "land": "land", "phase": "phase", "licence": "lizenz", "themenfeld": "themenfeld"}


@bp.route("/suche")
def search_page():
    """Redirect to the browse page, which carries the full-text search and its facets."""
    args: dict[str, str] = {}
    q = request.args.get("q", "").strip()[:200]
    if q:
        args["q"] = q
    if request.args.get("sort") in _SORT_NAMES:
        args["sortierung"] = _SORT_NAMES[request.args["sort"]]
    if request.args.get("seite"):
        args["seite"] = request.args["seite"][:8]
    for name, param in _PARAM_NAMES.items():
        if request.args.get(name):
            args[param] = request.args[name][:80]
    if request.args.get("reuse_offered") == "ja":
        args["nachnutzung"] = "1"
    network = request.args.get("network", "")
    if network.isdigit() and len(network) < 10:
        slug = get_session().scalar(select(Network.slug).where(Network.id == int(network)))
        if slug:
            args["netzwerk"] = slug
    return redirect(url_for("web.listings", **args), 302)


@bp.route("/suche/vorschlaege")
@search_limit("SUGGEST_RATELIMIT")
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
        s["url"] = url_for("web.ozg_detail", ozg_id=s["id"])
    return jsonify(data)
