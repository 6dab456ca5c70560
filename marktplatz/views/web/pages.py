"""Public pages: start page, browse, listing detail, municipalities, OZG catalogue, dashboard."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ... import search
from ...core.db import get_session
from ...core.extensions import search_limit
from ...models import Listing, Network, Organisation, Reuse
from ...models.listing import KINDS, PHASES, REIFEGRAD_MODELS, REUSE_STAGES
from ...services import (
    catalogue,
    listing_pages,
    listing_query,
    municipalities,
    networks,
    publiccode,
    reuse_suggestions,
)
from ...services import dashboard as dashboard_service
from ...services.listing_query import ListingQuery
from ...services.listings import get_listing
from ...services.reuse import is_following
from .pagecache import cached_page

bp = Blueprint("web", __name__)



@bp.route("/")
def index():
    """Show the start page: key numbers, search box and what is new."""
    session = get_session()
    return render_template(
        "index.html",
        stats=listing_pages.home_stats(session, current_user),
        latest=listing_pages.latest_listings(session, current_user),
        themenfelder=catalogue.themenfelder(session),
    )


def _int(value: str | None, low: int | None = None, high: int | None = 2**31 - 1) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return number


def _many(args, name: str, valid) -> list[Any]:
    """Return the distinct valid values of a repeated parameter (valid maps a raw value to one or None)."""
    out: list[Any] = []
    for raw in args.getlist(name)[:MAX_CHOICES]:
        value = valid((raw or "").strip())
        if value is not None and value not in out:
            out.append(value)
    return out


def _digits(size: int):
    return lambda v: v if v.isdigit() and len(v) == size else None


def _reifegrad(value: str) -> tuple[str | None, int] | None:
    """Parse "2.0:3" (model and lowest grade) or a bare grade of any model (older links)."""
    model, sep, grade = value.rpartition(":")
    if sep and model not in REIFEGRAD_MODELS:
        return None
    top = REIFEGRAD_MODELS.get(model, max(REIFEGRAD_MODELS.values()))
    number = _int(grade, 0, top)
    return None if number is None else ((model or None), number)


def parse_filters(args) -> dict[str, Any]:
    """Read the browse filters from query args; unknown or malformed values are dropped.

    The facets are multi-choice (a parameter repeated, e.g. ``art=dienst&art=komponente``):
    each holds a list. ``reifegrad`` reads "model:grade", e.g. "2.0:3".
    """
    filters: dict[str, Any] = {key: None for key in FILTER_KEYS}
    filters["q"] = (args.get("q") or "").strip()[:200] or None
    filters["art"] = _many(args, "art", lambda v: v if v in KINDS else None)
    filters["land"] = _many(args, "land", _digits(2))
    filters["kreis"] = _many(args, "kreis", _digits(5))
    filters["netzwerk"] = _many(args, "netzwerk", lambda v: v if 0 < len(v) <= 80 else None)
    filters["themenfeld"] = _many(args, "themenfeld", lambda v: _int(v, 1))
    filters["ozg"] = _int(args.get("ozg"), 1)
    filters["phase"] = _many(args, "phase", lambda v: v if v in PHASES else None)
    filters["reifegrad"] = _reifegrad((args.get("reifegrad") or "").strip())
    filters["lizenz"] = _many(args, "lizenz", lambda v: v if 0 < len(v) <= 80 else None)
    filters["nachnutzung"] = args.get("nachnutzung") in ("1", "on", "ja")
    filters["archivierte"] = args.get("archivierte") in ("1", "on", "ja")
    return filters


def active_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """Return the chosen filters as URL parameters (lists repeat; nothing empty)."""
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if value in (None, False, "", []):
            continue
        if key == "reifegrad":
            model, grade = value
            value = f"{model}:{grade}" if model else str(grade)
        out[key] = "1" if value is True else value
    return out


MAX_CHOICES = 40  # values of one facet read from a URL
# The browse page's German URL parameters and sorts, and what they mean in a ListingQuery.
FILTER_KEYS = (
    "q", "art", "land", "kreis", "netzwerk", "themenfeld", "ozg", "phase", "reifegrad",
    "lizenz", "nachnutzung", "archivierte",
)
SORTS = {
    "neu": "Neueste zuerst",
    "aktualisiert": "Zuletzt aktualisiert",
    "titel": "Titel A–Z",
    "nachnutzungen": "Meiste Nachnutzungen",
}
# With a search term the browse page ranks through the search index; its sorts differ.
SEARCH_SORTS = {"relevanz": "Relevanz", "neu": "Neueste zuerst", "nachnutzungen": "Meiste Nachnutzungen"}
SORT_NAMES = {"relevanz": "relevance", "neu": "newest", "aktualisiert": "updated", "titel": "title",
              "nachnutzungen": "reused"}


def listing_query_from(filters: dict[str, Any], sort: str, page: int, size: int) -> ListingQuery:
    """Return the ListingQuery the browse page's (German) filters ask for."""
    model, grade = filters["reifegrad"] or (None, None)
    return ListingQuery(
        viewer=current_user, text=filters["q"], kind=tuple(filters["art"]), land=tuple(filters["land"]),
        kreis=tuple(filters["kreis"]), network=tuple(filters["netzwerk"]), themenfeld_id=tuple(filters["themenfeld"]),
        ozg_id=filters["ozg"], phase=tuple(filters["phase"]), min_reifegrad=grade, reifegrad_model=model,
        licence=tuple(filters["lizenz"]), reuse_offered=True if filters["nachnutzung"] else None,
        published_only=not filters["q"], include_archived=bool(filters["archivierte"]),
        sort=SORT_NAMES[sort], page=page, size=size)


def facet_counts(session, facets: dict[str, list[tuple[str, str, int]]]) -> dict[str, dict[Any, int]]:
    """Return the search facet counts keyed by browse filter name and browse option value."""
    plain = {name: {value: count for value, _label, count in entries} for name, entries in facets.items()}
    nets = plain.get("network", {})
    slugs = dict(session.execute(
        select(Network.id, Network.slug).where(Network.id.in_([int(v) for v in nets if v.isdigit()]))
    ).all()) if nets else {}
    grades: dict[str, int] = {}  # "model:grade": count
    for value, count in plain.get("reifegrad", {}).items():
        model, _, grade = value.partition(":")
        if model in REIFEGRAD_MODELS and grade.isdigit():
            grades[value] = grades.get(value, 0) + count
    return {
        "art": plain.get("kind", {}),
        "land": plain.get("land", {}),
        "kreis": plain.get("kreis", {}),
        "netzwerk": {slugs[int(v)]: n for v, n in nets.items() if v.isdigit() and int(v) in slugs},
        "themenfeld": {int(v): n for v, n in plain.get("themenfeld", {}).items() if v.isdigit()},
        "phase": plain.get("phase", {}),
        # "Reifegrad mindestens n" (of one model) counts that model's listings at grade n or above.
        "reifegrad": {f"{m}:{n}": sum(c for g, c in grades.items()
                                      if g.startswith(f"{m}:") and int(g.partition(":")[2]) >= n)
                      for m, top in REIFEGRAD_MODELS.items() for n in range(0, top + 1)},
        "lizenz": plain.get("licence", {}),
        "nachnutzung": {"1": plain.get("reuse_offered", {}).get("ja", 0)},
    }


@bp.route("/eintraege")
@search_limit("SEARCH_RATELIMIT")
def listings():
    """Browse the listings the viewer may see; a search term ranks through the index with facets."""
    page_size = current_app.config["PAGE_SIZE"]
    session = get_session()
    if any(value.strip() == "" for _key, value in request.args.items(multi=True)):
        # A form sent without JavaScript carries its empty fields: show the page at its clean URL.
        clean = [(k, v) for k, v in request.args.items(multi=True) if v.strip()]
        return redirect(url_for("web.listings") + ("?" + urlencode(clean) if clean else ""), 303)
    filters = parse_filters(request.args)
    q = filters["q"]
    sorts = SEARCH_SORTS if q else SORTS
    sort = request.args.get("sortierung") or ("relevanz" if q else "neu")
    if sort not in sorts:
        sort = "relevanz" if q else "neu"
    page = _int(request.args.get("seite"), 1, 100_000) or 1
    found = listing_query.browse(session, listing_query_from(filters, sort, page, page_size))
    result = found.page
    counts = suggestions = None
    if found.from_index:
        counts = facet_counts(session, found.facets)
        if q:
            suggestions = _suggestions(session, q)
            suggestions["spelling"] = found.spelling
            suggestions["partial"] = found.partial_words
    if not found.from_index and sort not in SORTS:
        sort = "neu"
    index_unavailable = found.index_unavailable
    active = active_filters(filters)
    chosen_count = sum(len(v) if isinstance(v, list) else 1 for k, v in active.items() if k != "q")
    return render_template(
        "listings/list.html",
        result=result,
        filters=filters,
        active=active,
        sort=sort,
        sorts=sorts,
        default_sort="relevanz" if q else "neu",
        counts=counts,
        suggestions=suggestions,
        index_unavailable=index_unavailable,
        options=listing_pages.filter_options(session, current_user),
        kinds=KINDS,
        phases=PHASES,
        reifegrad_models=REIFEGRAD_MODELS,
        chosen_count=chosen_count,
        ozg=catalogue.get_ozg(session, filters["ozg"]) if filters["ozg"] else None,
    )


def _suggestions(session, q: str) -> dict[str, Any]:
    """Return municipalities and OZG-Leistungen whose names match q, with their page keys."""
    found = search.suggest(current_user, q, 5, kinds=("organisations",))  # the page shows no others
    ids = [s["id"] for s in found["organisations"]]
    keys = dict(session.execute(select(Organisation.id, Organisation.key).where(Organisation.id.in_(ids))).all()) if ids else {}
    return {
        "organisations": [dict(s, key=keys[s["id"]]) for s in found["organisations"] if s["id"] in keys],
        # The whole query, ranked in the catalogue (names of OZG- and LeiKa-Leistungen).
        "ozg": catalogue.matching_ozg(session, q, 5),
    }


def render_listing(listing: Listing, status: int = 200, **extra: Any):
    """Render a listing page with the viewer's actions; extra carries form errors and input."""
    session = get_session()
    listing_pages.load_listing_page(session, listing)
    own_reuse = None
    if getattr(current_user, "organisation_id", None):
        own_reuse = session.scalar(
            select(Reuse).where(Reuse.listing_id == listing.id, Reuse.organisation_id == current_user.organisation_id)
        )
    context = {
        "listing": listing,
        # A component shows the metadata its publiccode.yml export carries.
        "publiccode": publiccode.export(listing) if listing.kind == "komponente" else None,
        "similar": listing_pages.similar_listings(session, current_user, listing),
        "following": is_following(session, current_user, listing),
        "own_reuse": own_reuse,
        # What its publiccode.yml says about users and is not declared reuse (the page
        # shows it apart from the declared reuses; get_listing checked the viewer may see it).
        "used_by": reuse_suggestions.listing_used_by(session, listing),
        "stages": REUSE_STAGES,
        "phases": PHASES,
        "errors": {},
        "status_input": {},
        "reuse_input": {},
        "reuse_errors": {},
    }
    context.update(extra)
    return render_template("listings/detail.html", **context), status


@bp.route("/eintraege/<slug>")
def listing_detail(slug: str):
    """Show one listing with everything about it and the viewer's actions."""
    session = get_session()
    # Anonymous readers get the page as rendered for the current state of the data.
    return cached_page(session, f"listing:{slug}",
                       lambda: render_listing(get_listing(session, current_user, slug)))


def _organisation_or_404(session, key: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.key == key))
    if org is None:
        abort(404)
    return org


@bp.route("/kommunen/<key>")
def municipality(key: str):
    """Show a municipality: profile, listings, reuses, networks and OZG coverage."""
    session = get_session()
    org = _organisation_or_404(session, key)
    return render_template(
        "municipality.html",
        org=org,
        items=municipalities.municipality_listings(session, current_user, org),
        reuses=municipalities.municipality_reuses(session, current_user, org),
        reused_by=municipalities.municipality_reused_by(session, current_user, org),
        networks=municipalities.municipality_networks(session, org),
        coverage=municipalities.coverage(session, current_user, org),
    )


@bp.route("/kommunen/<key>/luecken")
def municipality_gaps(key: str):
    """Show the OZG-Leistungen a municipality lacks that others offer for reuse, with the best offer."""
    session = get_session()
    org = _organisation_or_404(session, key)
    return render_template("municipality_gaps.html", org=org,
                           coverage=municipalities.coverage(session, current_user, org))


@bp.route("/ozg")
def ozg_index():
    """Browse the OZG catalogue by Themenfeld and Lebenslage, searchable by name or key."""
    session = get_session()
    term = (request.args.get("q") or "").strip()[:100]
    tf = _int(request.args.get("themenfeld"), 1)
    return render_template(
        "ozg/index.html",
        tree=catalogue.ozg_catalogue(session, current_user, term, tf),
        term=term,
        themenfeld=tf,
        themenfelder=catalogue.themenfelder(session),
    )


@bp.route("/ozg/<int:ozg_id>")
def ozg_detail(ozg_id: int):
    """Show an OZG-Leistung with the who-does-what matrix."""
    session = get_session()
    ozg = catalogue.get_ozg(session, ozg_id)
    if ozg is None:
        abort(404)
    matrix = catalogue.ozg_matrix(session, current_user, ozg_id, _int(request.args.get("seite"), 1, 100_000) or 1)
    return render_template(
        "ozg/detail.html",
        ozg=ozg,
        matrix=matrix,
        rows=matrix.rows,
        efforts=matrix.efforts,
        reusers=matrix.reusers,
        following_ozg=_follows_ozg(session, ozg_id),
    )


def _follows_ozg(session, ozg_id: int) -> bool:
    from ...models import OzgFollow

    if not current_user.is_authenticated:
        return False
    return session.get(OzgFollow, (current_user.id, ozg_id)) is not None


def render_dashboard(status: int = 200, **extra: Any):
    """Render "Meine Kommune"; extra carries the errors and input of a suggestion's form."""
    session = get_session()
    context = {
        "data": dashboard_service.dashboard(session, current_user),
        "stages": REUSE_STAGES,
        "confirm_stages": reuse_suggestions.CONFIRM_STAGES,
        "default_stage": reuse_suggestions.DEFAULT_STAGE,
        "invitations": networks.invitations_for(session, current_user),
        "suggestion_errors": {},
        "suggestion_input": {},
    }
    context.update(extra)
    return render_template("dashboard.html", **context), status


@bp.route("/meine-kommune")
@login_required
def dashboard():
    """Show the officer's dashboard: own listings, reuses, suggested reuses and followed changes."""
    return render_dashboard()
