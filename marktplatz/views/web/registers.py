"""Process register pages: a municipality's register, its edit forms, import and export,
the network view of priorities and the gap view (issue 19)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ...core.db import get_session
from ...models import Organisation, ProcessEntry
from ...models.listing import REUSE_STAGES
from ...models.process_register import CHANNELS, NOT_ONLINE, PRIORITIES, REGISTER_VISIBILITIES
from ...permissions import can
from ...schemas.process import COLUMNS, LABELS, ProcessEntrySchema
from ...services import networks
from ...services import process_files as files
from ...services import process_priorities as prio
from ...services import process_register as reg
from ...services.errors import Invalid
from . import charts
from .confirm import confirm_page, confirmed
from .forms import field_errors

bp = Blueprint("registers", __name__)

FORM_NAMES = tuple(c.name for c in COLUMNS)
CHANNEL_COLOURS = {  # dark enough for 3:1 against white; the legend and table carry the text
    "analog": "#9b1c1c", "pdf": "#b45309", "online_form": "#0b4f9c", "end_to_end": "#166534",
    "appointment": "#6b21a8",
}


def _org(key: str) -> Organisation:
    org = get_session().scalar(select(Organisation).where(Organisation.key == key))
    if org is None:
        abort(404)
    return org


def _format(fmt: str) -> str:
    """Return the spreadsheet format of a download URL, or answer 404."""
    if fmt not in ("csv", "xlsx"):
        abort(404)
    return fmt


def _download(body: bytes, filename: str, mimetype: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp


@bp.app_template_global("readable_register")
def readable_register(org: Organisation):
    """Return org's register if the current user may read it (for links on other pages), else None."""
    register = reg.find_register(get_session(), org)
    return register if register is not None and can(current_user, "register.view", register) else None


@bp.route("/prozessregister")
def index():
    """Explain process registers; link the own register, the networks' views and the template."""
    session = get_session()
    own = current_user.organisation if getattr(current_user, "organisation_id", None) else None
    nets = [n for n in networks.list_networks(session) if can(current_user, "network.view_registers", n)]
    registers = sorted(reg.visible_registers(session, current_user), key=lambda r: r.organisation.short_name)
    return render_template("registers/index.html", own=own, nets=nets, registers=registers[:200],
                           columns=COLUMNS, channels=CHANNELS)


@bp.route("/prozessregister/vorlage.<fmt>")
def template_file(fmt: str):
    """Download the import template with example rows."""
    fmt = _format(fmt)
    rows = files.table(files.EXAMPLE_ROWS)
    if fmt == "xlsx":
        return _download(files.to_xlsx(rows, "Prozessregister", files.template_notes()),
                         "prozessregister-vorlage.xlsx", files.XLSX_TYPE)
    return _download(files.to_csv(rows), "prozessregister-vorlage.csv", "text/csv; charset=utf-8")


@bp.route("/kommunen/<key>/prozesse")
def register(key: str):
    """Show a municipality's process register (as far as the viewer may read it)."""
    session = get_session()
    org = _org(key)
    register = reg.get_register(session, current_user, org)
    entries = register.entries if register is not None else []
    return render_template("registers/register.html", org=org, register=register,
                           entries=sorted(entries, key=lambda e: (-(e.cases or 0), e.name)),
                           editable=can(current_user, "register.edit", org),
                           visibilities=REGISTER_VISIBILITIES, not_online=NOT_ONLINE,
                           listing_visible=lambda li: li is not None and can(current_user, "listing.view", li))


@bp.route("/kommunen/<key>/prozesse.<fmt>")
def export(key: str, fmt: str):
    """Download a municipality's register as CSV or XLSX (as far as the viewer may read it)."""
    fmt = _format(fmt)
    session = get_session()
    org = _org(key)
    register = reg.get_register(session, current_user, org)
    rows = files.table([reg.entry_to_dict(current_user, e) for e in (register.entries if register else [])])
    name = f"prozessregister-{org.key}"
    if fmt == "xlsx":
        return _download(files.to_xlsx(rows, "Prozessregister"), f"{name}.xlsx", files.XLSX_TYPE)
    return _download(files.to_csv(rows), f"{name}.csv", "text/csv; charset=utf-8")


@bp.route("/kommunen/<key>/prozesse/sichtbarkeit", methods=["POST"])
@login_required
def visibility(key: str):
    """Set who may read the register."""
    session = get_session()
    org = _org(key)
    try:
        register = reg.set_visibility(session, current_user, org, {"visibility": request.form.get("visibility", "")})
    except Invalid as err:
        flash(" ".join(field_errors(err.errors).get("visibility", [])), "error")
        return redirect(url_for(".register", key=key))
    flash(f"Sichtbarkeit gespeichert: {register.visibility_label}.", "success")
    return redirect(url_for(".register", key=key))


def _form_values(form) -> dict[str, Any]:
    values: dict[str, Any] = {name: form.get(name, "") for name in FORM_NAMES}
    values["own_statute"] = form.get("own_statute") in ("1", "on", "ja")
    return values


def _save(org, values: dict[str, Any], entry: ProcessEntry | None = None) -> ProcessEntry:
    """Save form values read as the import reads cells (38.000, ja/nein); all errors at once."""
    data, errors = files.coerce(values)
    if errors:  # a value that did not convert: report it with the schema's other findings, save nothing
        others = field_errors(ProcessEntrySchema().validate({k: v for k, v in data.items() if k not in errors}))
        raise Invalid({**others, **errors})
    return reg.save_entry(get_session(), current_user, org, data, entry)


def _entry_values(entry: ProcessEntry) -> dict[str, Any]:
    data = reg.entry_to_dict(current_user, entry)
    return {k: ("" if v is None else v) for k, v in data.items()}


def _render_form(org, entry, values, errors, status=200):
    return render_template("registers/form.html", org=org, entry=entry, values=values, errors=errors,
                           labels=LABELS, columns={c.name: c for c in COLUMNS}, channels=CHANNELS,
                           priorities=PRIORITIES), status


@bp.route("/kommunen/<key>/prozesse/neu", methods=["GET", "POST"])
@login_required
def new(key: str):
    """Add a process to the own register."""
    org = _org(key)
    reg.require_edit(current_user, org)
    if request.method == "GET":
        return _render_form(org, None, {"channel": "analog", "cases_year": ""}, {})
    values = _form_values(request.form)
    try:
        entry = _save(org, values)
    except Invalid as err:
        return _render_form(org, None, values, field_errors(err.errors), 422)
    flash(f"Prozess „{entry.name}“ gespeichert.", "success")
    return redirect(url_for(".register", key=key) + f"#p{entry.id}")


@bp.route("/kommunen/<key>/prozesse/<int:entry_id>/bearbeiten", methods=["GET", "POST"])
@login_required
def edit(key: str, entry_id: int):
    """Edit a process of the own register."""
    session = get_session()
    org = _org(key)
    entry = reg.get_entry(session, current_user, org, entry_id)
    if request.method == "GET":
        return _render_form(org, entry, _entry_values(entry), {})
    values = _form_values(request.form)
    try:
        _save(org, values, entry)
    except Invalid as err:
        return _render_form(org, entry, values, field_errors(err.errors), 422)
    flash(f"Prozess „{entry.name}“ gespeichert.", "success")
    return redirect(url_for(".register", key=key) + f"#p{entry.id}")


@bp.route("/kommunen/<key>/prozesse/<int:entry_id>/loeschen", methods=["POST"])
@login_required
def delete(key: str, entry_id: int):
    """Ask for confirmation, then delete a process of the own register."""
    session = get_session()
    org = _org(key)
    entry = reg.get_entry(session, current_user, org, entry_id)
    if not confirmed():
        return confirm_page(f"Prozess „{entry.name}“ löschen?",
                            f"Der Prozess „{entry.name}“ ({entry.process_key}) wird aus dem Register von "
                            f"{org.short_name} gelöscht, mit Fallzahlen und Notizen.",
                            "Ja, Prozess löschen", url_for(".delete", key=key, entry_id=entry_id),
                            url_for(".register", key=key), "Abbrechen, zurück zum Register")
    name = entry.name
    reg.delete_entry(session, current_user, entry)
    flash(f"Prozess „{name}“ gelöscht.", "success")
    return redirect(url_for(".register", key=key))


@bp.route("/kommunen/<key>/prozesse/import", methods=["GET", "POST"])
@login_required
def import_file(key: str):
    """Import a register from a CSV or XLSX file: every row or none."""
    session = get_session()
    org = _org(key)
    reg.require_edit(current_user, org)
    if request.method == "GET":
        return render_template("registers/import.html", org=org, errors=[], max_rows=reg.MAX_ROWS,
                               max_mb=files.MAX_BYTES // (1024 * 1024))
    upload = request.files.get("datei")
    data, filename = b"", ""
    if upload is not None:
        try:  # a large upload is a temporary file: close it, not leave it to the collector
            data, filename = upload.read(files.MAX_BYTES + 1), upload.filename or ""
        finally:
            upload.close()
    try:
        rows, known = files.read_upload(filename, data)
        result = reg.upsert_entries(session, current_user, org, rows, known)
    except Invalid as err:
        return render_template("registers/import.html", org=org, errors=reg.row_errors_text(err),
                               message=err.message, max_rows=reg.MAX_ROWS,
                               max_mb=files.MAX_BYTES // (1024 * 1024)), 422
    flash(f"Import abgeschlossen: {result.created} neu, {result.updated} geändert, "
          f"{result.unchanged} unverändert.", "success")
    return redirect(url_for(".register", key=key))


@bp.route("/kommunen/<key>/prozesse/luecken")
@login_required
def gaps(key: str):
    """Show the municipality's processes with many cases still analog that others solved."""
    session = get_session()
    org = _org(key)
    reg.require_gaps(current_user, org)
    return render_template("registers/gaps.html", org=org, gaps=prio.gaps(session, current_user, org),
                           stages=REUSE_STAGES)


def _view_args() -> tuple[int | None, str]:
    tf = request.args.get("themenfeld", "")
    sort = request.args.get("sortierung", "prioritaet")
    return (int(tf) if tf.isdigit() and len(tf) < 6 else None), (sort if sort in prio.SORTS else "prioritaet")


def _chart(view: prio.NetworkView):
    top = view.priorities[:10]
    series = [(label, CHANNEL_COLOURS[k]) for k, label in CHANNELS.items()]
    data = [(p.ozg.name, [p.cases_by_channel[k] for k in CHANNELS]) for p in top]
    return charts.stacked_bar_chart("Fälle pro Jahr nach heutigem Kanal (die ersten 10 der Liste)",
                                    data, series)


@bp.route("/netzwerke/<slug>/prozesse")
@login_required
def network_view(slug: str):
    """Show a network's processes added up per OZG-Leistung, ranked by the priority score."""
    session = get_session()
    net = networks.get_network(session, slug)
    themenfeld, sort = _view_args()
    view = prio.network_view(session, current_user, net, themenfeld, sort)
    return render_template("registers/network.html", net=net, view=view, themenfeld=themenfeld, sort=sort,
                           sorts=prio.SORTS, chart=_chart(view), channels=CHANNELS,
                           colours=CHANNEL_COLOURS, boost=prio.REUSE_BOOST)


@bp.route("/netzwerke/<slug>/prozesse.svg")
@login_required
def network_chart(slug: str):
    """Download the network view's chart as an SVG file (for a slide)."""
    session = get_session()
    net = networks.get_network(session, slug)
    themenfeld, sort = _view_args()
    svg = str(_chart(prio.network_view(session, current_user, net, themenfeld, sort)))
    svg = svg.replace('class="chart" ', 'font-family="Arial, Helvetica, sans-serif" ', 1)
    return _download(svg.encode("utf-8"), f"prozessprioritaeten-{net.slug}.svg", "image/svg+xml")


@bp.route("/netzwerke/<slug>/prozesse.<fmt>")
@login_required
def network_export(slug: str, fmt: str):
    """Download the network view's list as CSV or XLSX (same filter and order as the page)."""
    fmt = _format(fmt)
    session = get_session()
    net = networks.get_network(session, slug)
    themenfeld, sort = _view_args()
    view = prio.network_view(session, current_user, net, themenfeld, sort)
    rows: list[list[Any]] = [["ozg_id", "leistung", "themenfeld", "faelle_pro_jahr", "faelle_nicht_online",
                              "kommunen", "noch_analog", "eigene_satzung", "ohne_loesung", "punktzahl",
                              "nachnutzbare_loesungen"]]
    for p in view.priorities:
        rows.append([p.ozg.id, p.ozg.name, p.ozg.themenfeld.name, p.cases, p.open_cases, p.municipalities,
                     p.analog, p.own_statute, p.without_solution, p.score,
                     "; ".join(f"{s.listing.title} ({s.listing.organisation.short_name})" for s in p.solutions)])
    name = f"prozessprioritaeten-{net.slug}"
    if fmt == "xlsx":
        return _download(files.to_xlsx(rows, "Prioritäten"), f"{name}.xlsx", files.XLSX_TYPE)
    return _download(files.to_csv(rows), f"{name}.csv", "text/csv; charset=utf-8")
