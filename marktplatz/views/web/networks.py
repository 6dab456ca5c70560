"""Network pages: overview, detail with members/listings/figures, management, dashboard."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ...core.db import get_session
from ...permissions import can
from ...services import networks, stats
from ...services.errors import Conflict, Invalid, NotFound
from . import charts

bp = Blueprint("networks", __name__)


def _flash_error(err: Exception) -> None:
    if isinstance(err, Invalid):
        flash(" ".join(sum(err.errors.values(), [])), "error")
    else:
        flash(getattr(err, "message", str(err)), "error")


@bp.route("/netzwerke")
def index():
    """List all networks."""
    session = get_session()
    return render_template("networks/index.html", items=networks.list_networks(session),
                           counts=networks.member_counts(session), errors={}, form={})


@bp.route("/netzwerke", methods=["POST"])
@login_required
def create():
    """Create a network (admins)."""
    session = get_session()
    try:
        net = networks.create_network(session, current_user, request.form.get("name", ""),
                                      request.form.get("description", ""), request.form.get("website"))
    except Invalid as err:
        return render_template("networks/index.html", items=networks.list_networks(session),
                               counts=networks.member_counts(session), errors=err.errors, form=request.form), 422
    flash(f"Netzwerk „{net.name}“ angelegt. Ernennen Sie jetzt eine Koordination.", "success")
    return redirect(url_for(".detail", slug=net.slug))


@bp.route("/netzwerke/<slug>")
def detail(slug: str):
    """Show a network: members, visible listings, figures and (for coordinators) requests."""
    session = get_session()
    net = networks.get_network(session, slug)
    own_member = bool(getattr(current_user, "organisation", None)
                      and net.id in current_user.organisation.network_ids)
    return render_template(
        "networks/detail.html", net=net,
        members=sorted(net.memberships, key=lambda m: m.organisation.short_name),
        listings=networks.network_listings(session, current_user, net),
        summary=networks.network_summary(session, current_user, net),
        requests=networks.pending_requests(session, net) if can(current_user, "network.decide_join", net) else [],
        own_member=own_member,
    )


@bp.route("/netzwerke/<slug>/mitglieder", methods=["POST"])
@login_required
def members(slug: str):
    """Add or remove a member municipality (coordinators)."""
    session = get_session()
    net = networks.get_network(session, slug)
    try:
        if request.form.get("remove"):
            networks.remove_member(session, current_user, net, int(request.form["remove"]))
            flash("Die Kommune wurde aus dem Netzwerk entfernt.", "success")
        else:
            networks.add_member(session, current_user, net, request.form.get("organisation", ""))
            flash("Die Kommune ist jetzt Mitglied.", "success")
    except (Invalid, Conflict, NotFound, ValueError) as err:
        _flash_error(err)
    return redirect(url_for(".detail", slug=slug))


@bp.route("/netzwerke/<slug>/koordination", methods=["POST"])
@login_required
def coordinators(slug: str):
    """Appoint or remove a coordinator (admins)."""
    session = get_session()
    net = networks.get_network(session, slug)
    try:
        if request.form.get("remove"):
            networks.remove_coordinator(session, current_user, net, int(request.form["remove"]))
            flash("Die Koordination wurde entfernt.", "success")
        else:
            networks.appoint_coordinator(session, current_user, net, request.form.get("email", ""))
            flash("Die Koordination wurde ernannt.", "success")
    except (Invalid, Conflict, NotFound, ValueError) as err:
        _flash_error(err)
    return redirect(url_for(".detail", slug=slug))


@bp.route("/netzwerke/<slug>/beitreten", methods=["POST"])
@login_required
def request_join(slug: str):
    """Ask for the officer's municipality to join (officers)."""
    session = get_session()
    net = networks.get_network(session, slug)
    try:
        networks.request_join(session, current_user, net, request.form.get("message", ""))
    except (Invalid, Conflict) as err:
        _flash_error(err)
    else:
        flash("Ihre Beitrittsanfrage ist bei der Koordination.", "success")
    return redirect(url_for(".detail", slug=slug))


@bp.route("/netzwerke/<slug>/anfragen/<int:request_id>", methods=["POST"])
@login_required
def decide(slug: str, request_id: int):
    """Approve or decline a join request (coordinators)."""
    session = get_session()
    try:
        networks.decide_join(session, current_user, request_id, request.form.get("decision") == "approve",
                             request.form.get("comment", ""))
    except (Conflict, NotFound) as err:
        _flash_error(err)
    else:
        flash("Die Entscheidung wurde gespeichert.", "success")
    return redirect(url_for(".detail", slug=slug))


@bp.route("/netzwerke/<slug>/dashboard")
@login_required
def dashboard(slug: str):
    """Show the coordinators' dashboard of a network with SVG charts."""
    session = get_session()
    net = networks.get_network(session, slug)
    data = stats.dashboard(session, current_user, net)
    return render_template("moderation/dashboard.html", d=data, charts=charts)
