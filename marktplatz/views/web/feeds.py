"""Atom feeds and open-data exports (CSV, JSON) of published listings."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ...core.db import get_session
from ...models import Network
from ...schemas.listing import EXPORT_COLUMNS
from ...services import catalogue, listing_pages
from ...services.listings import get_listing

bp = Blueprint("feeds", __name__)

DATA_LICENCE = "dl-de/by-2-0"
DATA_LICENCE_URL = "https://www.govdata.de/dl-de/by-2-0"
ATTRIBUTION = (
    "Daten: Marktplatz kommunaler Digitalisierung und die veröffentlichenden Kommunen, "
    "Datenlizenz Deutschland – Namensnennung – Version 2.0 (dl-de/by-2-0), "
    + DATA_LICENCE_URL
)


def _atom(title: str, feed_id: str, entries: list[dict[str, Any]]) -> Response:
    updated = max((e["updated"] for e in entries), default=datetime.now(UTC))
    xml = render_template(
        "feeds/atom.xml", title=title, feed_id=feed_id, entries=entries, updated=updated,
        self_url=request.url, rights=ATTRIBUTION,
    )
    resp = Response(xml, mimetype="application/atom+xml")
    resp.headers["Content-Type"] = "application/atom+xml; charset=utf-8"
    if getattr(current_user, "is_authenticated", False):
        resp.headers["Cache-Control"] = "private, no-store"
    return resp


def _listing_entries(items) -> list[dict[str, Any]]:
    return [
        {
            "id": url_for("web.listing_detail", slug=item.slug, _external=True),
            "title": f"{item.title} ({item.organisation.short_name})",
            "link": url_for("web.listing_detail", slug=item.slug, _external=True),
            "updated": item.updated_at,
            "published": item.published_at,
            "author": item.organisation.name,
            "summary": item.summary,
            "category": item.kind_label,
        }
        for item in items
    ]


@bp.route("/feeds/eintraege.atom")
def all_listings():
    """Atom feed of the newest published listings."""
    items = listing_pages.feed_listings(get_session(), current_user)
    return _atom("Marktplatz: neue Einträge", url_for("feeds.all_listings", _external=True), _listing_entries(items))


@bp.route("/feeds/netzwerk/<slug>.atom")
def network_listings(slug: str):
    """Atom feed of the newest published listings of a network's members."""
    session = get_session()
    net = session.scalar(select(Network).where(Network.slug == slug))
    if net is None:
        abort(404)
    items = listing_pages.feed_listings(session, current_user, network_slug=slug)
    return _atom(f"Marktplatz: neue Einträge im Netzwerk {net.name}", request.base_url, _listing_entries(items))


@bp.route("/feeds/ozg/<int:ozg_id>.atom")
def ozg_listings(ozg_id: int):
    """Atom feed of the newest published listings for an OZG-Leistung."""
    session = get_session()
    ozg = catalogue.get_ozg(session, ozg_id)
    if ozg is None:
        abort(404)
    items = listing_pages.feed_listings(session, current_user, ozg_id=ozg_id)
    return _atom(f"Marktplatz: neue Einträge zu „{ozg.name}“", request.base_url, _listing_entries(items))


@bp.route("/eintraege/<slug>/status.atom")
def status_updates(slug: str):
    """Atom feed of a listing's status updates."""
    listing = get_listing(get_session(), current_user, slug)
    link = url_for("web.listing_detail", slug=listing.slug, _external=True)
    entries = [
        {
            "id": f"{link}#status-{u.id}",
            "title": u.title,
            "link": f"{link}#status-{u.id}",
            "updated": u.created_at,
            "published": u.created_at,
            "author": listing.organisation.name,
            "summary": u.body,
            "category": listing.phase_label,
        }
        for u in listing.status_updates
    ]
    return _atom(f"Status: {listing.title}", request.base_url, entries)


def _base_url() -> str:
    return request.url_root.rstrip("/")


@bp.route("/export/eintraege.json")
def export_json():
    """Export all public published listings as JSON with the data licence."""
    rows = [listing_pages.export_row(item, _base_url()) for item in listing_pages.export_listings(get_session())]
    body = {
        "lizenz": DATA_LICENCE,
        "lizenz_url": DATA_LICENCE_URL,
        "namensnennung": ATTRIBUTION,
        "erzeugt": datetime.now(UTC).isoformat(),
        "anzahl": len(rows),
        "eintraege": rows,
    }
    resp = Response(json.dumps(body, ensure_ascii=False, indent=1), mimetype="application/json")
    resp.headers["Content-Disposition"] = 'inline; filename="marktplatz-eintraege.json"'
    resp.headers["Link"] = f'<{DATA_LICENCE_URL}>; rel="license"'
    return resp


@bp.route("/export/eintraege.csv")
def export_csv():
    """Export all public published listings as CSV (UTF-8, semicolon) with the data licence."""
    rows = [listing_pages.export_row(item, _base_url()) for item in listing_pages.export_listings(get_session())]
    out = io.StringIO()
    out.write(f"# Lizenz: {ATTRIBUTION}\n")
    writer = csv.DictWriter(out, fieldnames=_empty_fields(), delimiter=";", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell("ja" if v is True else "nein" if v is False else v) for k, v in row.items()})
    resp = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = 'attachment; filename="marktplatz-eintraege.csv"'
    resp.headers["Link"] = f'<{DATA_LICENCE_URL}>; rel="license"'
    return resp


# A spreadsheet reads a cell starting with one of these as a formula (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """Return value safe to open in a spreadsheet: text that could start a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _empty_fields() -> list[str]:
    return list(EXPORT_COLUMNS)


@bp.route("/offene-daten")
def open_data():
    """Explain the feeds and exports."""
    session = get_session()
    networks = session.scalars(select(Network).order_by(Network.name)).all()
    return render_template("open_data.html", networks=networks, licence=DATA_LICENCE, licence_url=DATA_LICENCE_URL)
