"""Atom feeds and open-data exports (CSV, JSON) of published listings."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ...core.db import get_session
from ...models import Network
from ...schemas.listing import EXPORT_COLUMNS, csv_cell, export_json_schema
from ...services import catalogue, listing_pages
from ...services import open_data as open_data_service
from ...services.listings import get_listing
from ...services.open_data import ATTRIBUTION, DATA_LICENCE, DATA_LICENCE_URL

bp = Blueprint("feeds", __name__)


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


def _urls() -> dict[str, str]:
    """Return the stable addresses of the open-data export and its descriptions."""
    return {
        "home": url_for("web.index", _external=True),
        "page": url_for("feeds.open_data", _external=True),
        "dataset": url_for("feeds.open_data", _external=True) + "#eintraege",
        "csv": url_for("feeds.export_csv", _external=True),
        "json": url_for("feeds.export_json", _external=True),
        "zip": url_for("feeds.export_zip", _external=True),
        "schema": url_for("feeds.export_schema", _external=True),
        "readme": url_for("feeds.export_readme", _external=True),
        "dcat": url_for("feeds.dcat", _external=True),
    }


def _link_header(urls: dict[str, str]) -> str:
    """Return the Link header of every export: its licence and where it is described."""
    return ", ".join([
        f'<{DATA_LICENCE_URL}>; rel="license"',
        f'<{urls["readme"]}>; rel="describedby"; type="text/plain"',
        f'<{urls["dcat"]}>; rel="describedby"; type="application/ld+json"',
    ])


def _rows() -> list[dict[str, Any]]:
    return [listing_pages.export_row(item, _base_url()) for item in listing_pages.export_listings(get_session())]


def _json_body(rows: list[dict[str, Any]], now: datetime) -> str:
    body = {
        "lizenz": DATA_LICENCE,
        "lizenz_url": DATA_LICENCE_URL,
        "namensnennung": ATTRIBUTION,
        "erzeugt": now.isoformat(),
        "anzahl": len(rows),
        "eintraege": rows,
    }
    return json.dumps(body, ensure_ascii=False, indent=1)


def _csv_body(rows: list[dict[str, Any]]) -> str:
    # The first row is the header: csv.DictReader and spreadsheets read the columns from it;
    # the licence travels in the Link header, the README and the open-data page.
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(EXPORT_COLUMNS), delimiter=";", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(csv_cell(v, k)) for k, v in row.items()})
    return "\ufeff" + out.getvalue()


def _export(body: str, mimetype: str, disposition: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Type"] = f"{mimetype}; charset=utf-8"
    resp.headers["Content-Disposition"] = disposition
    resp.headers["Link"] = _link_header(_urls())
    return resp


@bp.route("/export/eintraege.json")
def export_json():
    """Export all public published listings as JSON with the data licence."""
    return _export(_json_body(_rows(), datetime.now(UTC)), "application/json",
                   'inline; filename="marktplatz-eintraege.json"')


@bp.route("/export/eintraege.csv")
def export_csv():
    """Export all public published listings as CSV (UTF-8, semicolon, header first)."""
    return _export(_csv_body(_rows()), "text/csv", 'attachment; filename="marktplatz-eintraege.csv"')


@bp.route("/export/eintraege.schema.json")
def export_schema():
    """Return the JSON Schema of the JSON export."""
    return _export(json.dumps(export_json_schema(_base_url()), ensure_ascii=False, indent=1),
                   "application/schema+json", 'inline; filename="eintraege.schema.json"')


@bp.route("/export/LIESMICH.txt")
def export_readme():
    """Return the README of the export: licence, files and columns."""
    text = open_data_service.readme_text(export_json_schema(_base_url()), _urls(), datetime.now(UTC))
    return _export(text, "text/plain", 'inline; filename="LIESMICH.txt"')


@bp.route("/export/eintraege.zip")
def export_zip():
    """Return CSV, JSON, JSON Schema and README in one archive."""
    now = datetime.now(UTC)
    rows = _rows()
    schema = export_json_schema(_base_url())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        stamp = now.timetuple()[:6]
        for name, text in (("LIESMICH.txt", open_data_service.readme_text(schema, _urls(), now)),
                           ("eintraege.csv", _csv_body(rows)), ("eintraege.json", _json_body(rows, now)),
                           ("eintraege.schema.json", json.dumps(schema, ensure_ascii=False, indent=1))):
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), text.encode("utf-8"), zipfile.ZIP_DEFLATED)
    resp = Response(buf.getvalue(), mimetype="application/zip")
    resp.headers["Content-Disposition"] = 'attachment; filename="marktplatz-eintraege.zip"'
    resp.headers["Link"] = _link_header(_urls())
    return resp


@bp.route("/export/dcat.jsonld")
def dcat():
    """Describe the export as a DCAT-AP.de catalogue (JSON-LD) at a stable address."""
    items = listing_pages.export_listings(get_session())
    modified = max((i.updated_at for i in items if i.updated_at), default=None)
    body = open_data_service.dcat_catalog(_urls(), modified, current_app.config.get("MAIL_FROM") or "", len(items))
    resp = Response(json.dumps(body, ensure_ascii=False, indent=1), mimetype="application/ld+json")
    resp.headers["Content-Type"] = "application/ld+json; charset=utf-8"
    resp.headers["Link"] = f'<{DATA_LICENCE_URL}>; rel="license"'
    return resp


# A spreadsheet reads a cell starting with one of these as a formula (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """Return value safe to open in a spreadsheet: text that could start a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


@bp.route("/offene-daten")
def open_data():
    """Explain the feeds and exports."""
    session = get_session()
    networks = session.scalars(select(Network).order_by(Network.name)).all()
    return render_template("open_data.html", networks=networks, licence=DATA_LICENCE, licence_url=DATA_LICENCE_URL,
                           attribution=ATTRIBUTION)
