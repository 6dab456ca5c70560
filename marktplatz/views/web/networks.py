"""Network pages: overview, detail with members/listings/figures, management, dashboard."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ...core.db import get_session
from ...permissions import can
from ...services import networks, stats
from ...services.errors import Conflict, Forbidden, Invalid, NotFound
from . import charts
from .confirm import confirm_page, confirmed

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
                                      request.form.get("description", ""), request.form.get("website"),
                                      allow_duplicate_name=request.form.get("trotzdem") == "ja")
    except Invalid as err:
        return render_template("networks/index.html", items=networks.list_networks(session),
                               counts=networks.member_counts(session), errors=err.errors, form=request.form), 422
    flash(f"Netzwerk „{net.name}“ angelegt. Ernennen Sie jetzt eine Koordination.", "success")
    return redirect(url_for(".detail", slug=net.slug))


def _render_detail(session, net, errors: dict | None = None, form=None, status: int = 200):
    """Render the network page, with the invitation form's errors when given."""
    own_member = bool(getattr(current_user, "organisation", None)
                      and net.id in current_user.organisation.network_ids)
    manages = can(current_user, "network.manage_members", net)
    return render_template(
        "networks/detail.html", net=net,
        members=sorted(net.memberships, key=lambda m: m.organisation.short_name),
        listings=networks.network_listings(session, current_user, net),
        summary=networks.network_summary(session, current_user, net),
        requests=networks.pending_requests(session, net) if can(current_user, "network.decide_join", net) else [],
        invitations=networks.pending_invitations(session, net) if manages else [],
        own_invitations=networks.invitations_for(session, current_user, net),
        own_member=own_member, errors=errors or {}, form=form or {},
    ), status


@bp.route("/netzwerke/<slug>")
def detail(slug: str):
    """Show a network: members, visible listings, figures and (for coordinators) requests."""
    session = get_session()
    return _render_detail(session, networks.get_network(session, slug))


@bp.route("/netzwerke/<slug>/mitglieder", methods=["POST"])
@login_required
def members(slug: str):
    """Invite a municipality (coordinators) or, with aktion=direkt, add it at once (admins)."""
    session = get_session()
    net = networks.get_network(session, slug)
    ident = request.form.get("organisation", "")
    try:
        if request.form.get("aktion") == "direkt":
            row = networks.add_member(session, current_user, net, ident)
            flash(f"{row.organisation.short_name} ist jetzt Mitglied (direkt aufgenommen). "
                  "Die Kommune wurde benachrichtigt.", "success")
        else:
            inv = networks.invite(session, current_user, net, ident, request.form.get("message", ""))
            flash(f"Die Einladung an {inv.organisation.short_name} ist verschickt. Die Kommune wird "
                  "Mitglied, sobald sie annimmt.", "success")
    except Invalid as err:
        return _render_detail(session, net, err.errors, request.form, 422)
    except Conflict as err:
        return _render_detail(session, net, {"organisation": [err.message]}, request.form, 409)
    return redirect(url_for(".detail", slug=slug) + "#einladen")


def _confirm(net, title: str, text: str, button: str, action: str, comment_label: str | None = None,
             errors: dict | None = None, form=None, status: int = 200):
    """Render the confirmation step of a consequential membership change."""
    return confirm_page(title, text, button, action, url_for(".detail", slug=net.slug),
                        "Abbrechen, zurück zum Netzwerk", comment_label=comment_label,
                        errors=errors, status=status)


@bp.route("/netzwerke/<slug>/mitglieder/<int:organisation_id>/entfernen", methods=["POST"])
@login_required
def remove_member(slug: str, organisation_id: int):
    """Ask for confirmation, then remove a member municipality (coordinators, admins)."""
    session = get_session()
    net = networks.get_network(session, slug)
    membership = next((m for m in net.memberships if m.organisation_id == organisation_id), None)
    if membership is None:
        raise NotFound("Diese Kommune ist kein Mitglied.")
    if not can(current_user, "network.manage_members", net):
        raise Forbidden("Nur die Koordination des Netzwerks kann Mitglieder entfernen.")
    org = membership.organisation
    action = url_for(".remove_member", slug=slug, organisation_id=organisation_id)

    def confirm(errors=None, status=200):
        return _confirm(
            net, f"{org.short_name} aus dem Netzwerk entfernen?",
            f"{org.short_name} ist danach kein Mitglied von „{net.name}“ mehr: Die Kommune sieht die "
            "nur für Mitglieder freigegebenen Einträge nicht mehr, und ihre Einträge werden nicht "
            "mehr von dieser Koordination geprüft. Die Zuständigen der Kommune werden benachrichtigt.",
            f"Ja, {org.short_name} aus dem Netzwerk entfernen", action,
            "Begründung für die Kommune (freiwillig)", errors, request.form, status)

    if not confirmed():
        return confirm()
    try:
        networks.remove_member(session, current_user, net, organisation_id, request.form.get("comment", ""))
    except Invalid as err:
        return confirm(err.errors, 422)
    flash(f"{org.short_name} wurde aus dem Netzwerk entfernt und benachrichtigt.", "success")
    return redirect(url_for(".detail", slug=slug))


@bp.route("/netzwerke/<slug>/verlassen", methods=["POST"])
@login_required
def leave(slug: str):
    """Ask for confirmation, then take the officer's municipality out of the network."""
    session = get_session()
    net = networks.get_network(session, slug)
    if not can(current_user, "network.leave", net):
        raise Forbidden("Ihre Kommune ist kein Mitglied dieses Netzwerks.")
    org = current_user.organisation
    if not confirmed():
        return _confirm(
            net, f"„{net.name}“ verlassen?",
            f"{org.short_name} ist danach kein Mitglied mehr: Sie sehen die nur für Mitglieder "
            "freigegebenen Einträge des Netzwerks nicht mehr, und Ihre nur für Netzwerke "
            "freigegebenen Einträge sind für dessen Mitglieder nicht mehr sichtbar. Ein erneuter "
            "Beitritt braucht eine Anfrage oder Einladung.",
            f"Ja, {org.short_name} aus „{net.name}“ abmelden", url_for(".leave", slug=slug))
    try:
        networks.leave_network(session, current_user, net)
    except Conflict as err:
        _flash_error(err)
    else:
        flash(f"{org.short_name} ist nicht mehr Mitglied von „{net.name}“.", "success")
    return redirect(url_for(".detail", slug=slug))


def _back(slug: str) -> str:
    """Return where an answered invitation leads: the dashboard or the network page."""
    if request.form.get("zurueck") == "kommune":
        return url_for("web.dashboard")
    return url_for(".detail", slug=slug)


@bp.route("/netzwerke/<slug>/einladungen/<int:invitation_id>", methods=["POST"])
@login_required
def respond(slug: str, invitation_id: int):
    """Accept or decline an invitation for the officer's municipality."""
    session = get_session()
    net = networks.get_network(session, slug)
    answer = request.form.get("antwort")
    if answer not in ("annehmen", "ablehnen"):
        raise Invalid({"antwort": ["Bitte „Annehmen“ oder „Ablehnen“ wählen."]},
                      "Bitte „Annehmen“ oder „Ablehnen“ wählen.")
    try:
        networks.respond_to_invitation(session, current_user, invitation_id, answer == "annehmen", net)
    except Conflict as err:
        _flash_error(err)
    else:
        flash(f"Ihre Kommune ist jetzt Mitglied von „{net.name}“." if answer == "annehmen"
              else f"Sie haben die Einladung in „{net.name}“ abgelehnt.", "success")
    return redirect(_back(slug))


@bp.route("/netzwerke/<slug>/einladungen/<int:invitation_id>/zurueckziehen", methods=["POST"])
@login_required
def withdraw(slug: str, invitation_id: int):
    """Withdraw an open invitation (coordinators, admins)."""
    session = get_session()
    net = networks.get_network(session, slug)
    try:
        networks.withdraw_invitation(session, current_user, invitation_id, net)
    except Conflict as err:
        _flash_error(err)
    else:
        flash("Die Einladung wurde zurückgezogen.", "success")
    return redirect(url_for(".detail", slug=slug) + "#einladungen")


@bp.route("/netzwerke/<slug>/koordination", methods=["POST"])
@login_required
def coordinators(slug: str):
    """Appoint or remove a coordinator (admins)."""
    session = get_session()
    net = networks.get_network(session, slug)
    try:
        if request.form.get("remove"):
            user_id = int(request.form["remove"])
            if not confirmed():
                row = next((c for c in net.coordinators if c.user_id == user_id), None)
                if row is None or not can(current_user, "network.appoint_coordinator", net):
                    raise NotFound("Diese Person koordiniert das Netzwerk nicht.")
                return confirm_page(
                    f"{row.user.name} als Koordination von „{net.name}“ entfernen?",
                    [f"{row.user.name} ({row.user.email}) prüft danach keine Einträge der Mitglieder von "
                     f"„{net.name}“ mehr und verwaltet keine Mitglieder. Das Konto selbst bleibt bestehen.",
                     "Hat das Netzwerk danach keine Koordination mehr, gehen neue Einreichungen seiner Mitglieder "
                     "an die Koordination ihrer anderen Netzwerke oder an die Plattform-Administration."],
                    f"Ja, {row.user.name} als Koordination entfernen", url_for(".coordinators", slug=slug),
                    url_for(".detail", slug=slug), "Abbrechen, zurück zum Netzwerk", hidden={"remove": user_id})
            networks.remove_coordinator(session, current_user, net, user_id)
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
    """Approve a join request, or confirm and then decline it (coordinators)."""
    session = get_session()
    approve = request.form.get("decision") == "approve"
    if not approve and not confirmed():
        try:
            net = networks.get_network(session, slug)
            req = networks.join_request_for(session, current_user, net, request_id)
        except (Conflict, NotFound) as err:
            _flash_error(err)
            return redirect(url_for(".detail", slug=slug))
        org = req.organisation.short_name
        return confirm_page(
            f"Beitrittsanfrage von {org} ablehnen?",
            [f"{org} wird nicht Mitglied von „{net.name}“. Die Zuständigen der Kommune erhalten die "
             "Ablehnung mit Ihrer Begründung.",
             "Die Kommune kann später erneut anfragen, oder Sie laden sie ein."],
            f"Ja, Anfrage von {org} ablehnen", url_for(".decide", slug=slug, request_id=request_id),
            url_for(".detail", slug=slug), "Abbrechen, zurück zum Netzwerk",
            hidden={"decision": "decline"}, comment_label="Begründung für die Kommune (freiwillig)")
    try:
        networks.decide_join(session, current_user, request_id, approve, request.form.get("comment", ""))
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
