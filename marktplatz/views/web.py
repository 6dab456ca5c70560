"""Public pages: start page, listings, listing detail."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from sqlalchemy import func, select

from ..db import get_session
from ..models import Listing, Organisation, Reuse
from ..permissions import listing_visibility_filter
from ..services.listings import get_listing

bp = Blueprint("web", __name__)


@bp.route("/")
def index():
    """Show the start page: key numbers and what is new."""
    session = get_session()
    visible = listing_visibility_filter(current_user)
    published = Listing.status == "published"
    stats = {
        "listings": session.scalar(select(func.count(Listing.id)).where(visible, published)) or 0,
        "municipalities": session.scalar(
            select(func.count(func.distinct(Listing.organisation_id))).where(visible, published)
        ) or 0,
        "reuses": session.scalar(
            select(func.count(Reuse.id)).join(Listing).where(visible, published, Reuse.stage != "discontinued")
        ) or 0,
    }
    latest = session.scalars(
        select(Listing).where(visible, published).order_by(Listing.published_at.desc()).limit(8)
    ).all()
    return render_template("index.html", stats=stats, latest=latest)


@bp.route("/eintraege")
def listings():
    """List the listings the viewer may see, newest first."""
    session = get_session()
    page = min(max(request.args.get("seite", 1, type=int) or 1, 1), 100_000)  # huge ints overflow SQL
    size = 20
    q = select(Listing).where(listing_visibility_filter(current_user), Listing.status == "published")
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    items = session.scalars(q.order_by(Listing.published_at.desc(), Listing.id.desc()).offset((page - 1) * size).limit(size)).all()
    return render_template("listings/list.html", items=items, total=total, page=page, size=size)


@bp.route("/eintraege/<slug>")
def listing_detail(slug: str):
    """Show one listing."""
    listing = get_listing(get_session(), current_user, slug)
    return render_template("listings/detail.html", listing=listing)


@bp.route("/kommunen/<key>")
def municipality(key: str):
    """Show a municipality's profile and its listings."""
    session = get_session()
    org = session.scalar(select(Organisation).where(Organisation.key == key))
    if org is None:
        abort(404)
    items = session.scalars(
        select(Listing).where(listing_visibility_filter(current_user), Listing.organisation_id == org.id)
        .order_by(Listing.updated_at.desc())
    ).all()
    return render_template("municipality.html", org=org, items=items)
