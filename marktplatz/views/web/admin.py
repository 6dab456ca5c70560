"""Administration in the browser (admins): users, networks, municipalities, reference data, audit log.

Destructive actions (deactivate an account, archive or delete a network) have a GET page
that names what will happen and a POST form that does it; all work without JavaScript.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ...core.db import get_session
from ...models.user import ROLES
from ...permissions import can
from ...services import access_requests, admin, networks
from ...services.errors import Conflict, Invalid
from .confirm import confirm_page
from .forms import simple_form

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _signed_in():
    """Every admin page needs a signed-in user; the services decide who may act."""
    return None


def _confirm_page(title: str, text: str, button: str, cancel: str, cancel_label: str, errors=None,
                  comment_label: str | None = None, comment: str = "", status: int = 200):
    """The shared confirmation step (views/web/confirm.py), posting back to this page."""
    return confirm_page(title, text, button, request.path, cancel, cancel_label, comment_label=comment_label,
                        errors=errors, status=status)


@bp.route("/")
def index():
    """Show the administration overview."""
    if not can(current_user, "user.manage"):
        abort(403)
    db = get_session()
    pending = access_requests.list_requests(db, current_user, "pending")
    return render_template("admin/index.html", pending=len(pending))


# --- users ---------------------------------------------------------------------------


@bp.route("/benutzer")
def users():
    """Find users by name or address, role, status and municipality."""
    args = simple_form(request.args, "q", "rolle", "status", "ags", "seite")
    query = admin.UserQuery(text=args["q"], role=args["rolle"], status=args["status"], ags=args["ags"],
                            page=args["seite"] or 1)
    result = admin.search_users(get_session(), current_user, query)
    return render_template("admin/users.html", result=result, args={k: v for k, v in args.items() if v and k != "seite"},
                           values=args, roles=ROLES)


def _user_page(user, errors=None, values=None, status: int = 200):
    db = get_session()
    values = values or {"role": user.role, "ags": user.organisation.ags if user.organisation else "",
                        "network_ids": [str(i) for i in user.coordinated_network_ids]}
    return render_template("admin/user.html", user=user, roles=ROLES, errors=errors or {}, values=values,
                           networks=networks.list_networks(db, include_archived=True)), status


@bp.route("/benutzer/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int):
    """Show an account and change its role, municipality and coordinated networks."""
    db = get_session()
    target = admin.get_user(db, current_user, user_id)
    if request.method == "POST":
        values = {"role": request.form.get("role", ""), "ags": request.form.get("ags", ""),
                  "network_ids": request.form.getlist("network_ids")}
        try:
            admin.change_role(db, current_user, target, values["role"], values["ags"], values["network_ids"])
        except Invalid as err:
            return _user_page(target, err.errors, values, 422)
        flash(f"Rolle und Zuordnung von {target.name} sind gespeichert.", "success")
        return redirect(url_for(".user", user_id=target.id))
    return _user_page(target)


@bp.route("/benutzer/<int:user_id>/deaktivieren", methods=["GET", "POST"])
def deactivate_user(user_id: int):
    """Confirm, then deactivate an account (its sessions end at once)."""
    db = get_session()
    target = admin.get_user(db, current_user, user_id)
    comment = request.form.get("comment", "") if request.method == "POST" else ""
    if request.method == "POST":
        try:
            admin.set_active(db, current_user, target, False, comment)
        except Conflict as err:
            flash(err.message, "error")
            return redirect(url_for(".user", user_id=target.id))
        flash(f"Das Konto von {target.name} ist deaktiviert.", "success")
        return redirect(url_for(".user", user_id=target.id))
    return _confirm_page(
        f"Konto von {target.name} deaktivieren?",
        f"{target.name} ({target.email}) kann sich danach nicht mehr anmelden; alle laufenden Anmeldungen "
        "enden sofort. Einträge, Zuordnung und Rolle bleiben erhalten. Sie können das Konto jederzeit "
        "wieder aktivieren.",
        "Konto deaktivieren", url_for(".user", user_id=target.id), "Abbrechen, zurück zum Konto",
        comment_label="Grund (freiwillig, steht im Protokoll)")


@bp.route("/benutzer/<int:user_id>/aktivieren", methods=["POST"])
def reactivate_user(user_id: int):
    """Reactivate a deactivated account."""
    db = get_session()
    target = admin.get_user(db, current_user, user_id)
    try:
        admin.set_active(db, current_user, target, True)
    except Conflict as err:
        flash(err.message, "error")
    else:
        flash(f"Das Konto von {target.name} ist wieder aktiv.", "success")
    return redirect(url_for(".user", user_id=target.id))


# --- networks ------------------------------------------------------------------------


@bp.route("/netzwerke")
def networks_list():
    """List every network with members and coordinators, archived ones last."""
    return render_template("admin/networks.html", rows=admin.list_all_networks(get_session(), current_user))


@bp.route("/netzwerke/<slug>", methods=["GET", "POST"])
def network(slug: str):
    """Edit a network's name, description and website (warning on a name another one has)."""
    db = get_session()
    net = networks.get_network(db, slug)
    if not can(current_user, "network.edit", net):
        abort(403)
    values = {"name": net.name, "description": net.description, "website": net.website or "",
              "direct_publish": net.direct_publish}
    errors: dict[str, list[str]] = {}
    duplicate = False
    if request.method == "POST":
        values = simple_form(request.form, "name", "description", "website")
        values["direct_publish"] = request.form.get("direct_publish") == "ja"
        try:
            admin.edit_network(db, current_user, net, values,
                               allow_duplicate_name=request.form.get("trotzdem") == "ja")
        except Invalid as err:
            errors, duplicate = err.errors, err.message == "duplicate_name"
        else:
            flash(f"Das Netzwerk „{net.name}“ ist gespeichert.", "success")
            return redirect(url_for(".network", slug=net.slug))
    members = len(net.memberships)
    return render_template("admin/network.html", net=net, values=values, errors=errors, duplicate=duplicate,
                           members=members), 422 if errors else 200


@bp.route("/netzwerke/<slug>/archivieren", methods=["GET", "POST"])
def archive_network(slug: str):
    """Confirm, then archive a network."""
    db = get_session()
    net = networks.get_network(db, slug)
    if request.method == "POST":
        try:
            admin.archive_network(db, current_user, net, True)
        except Conflict as err:
            flash(err.message, "error")
        else:
            flash(f"Das Netzwerk „{net.name}“ ist archiviert.", "success")
        return redirect(url_for(".network", slug=net.slug))
    if not can(current_user, "network.edit", net):
        abort(403)
    return _confirm_page(
        f"Netzwerk „{net.name}“ archivieren?",
        f"„{net.name}“ verschwindet aus der Netzwerkübersicht und nimmt keine neuen Mitglieder, Einladungen "
        f"oder Beitrittsanfragen mehr an. Die {len(net.memberships)} Mitglieder, die Koordination und alle "
        "Einträge bleiben erhalten. Sie können das Archivieren jederzeit rückgängig machen.",
        "Netzwerk archivieren", url_for(".network", slug=net.slug), "Abbrechen, zurück zum Netzwerk")


@bp.route("/netzwerke/<slug>/reaktivieren", methods=["POST"])
def unarchive_network(slug: str):
    """Bring an archived network back."""
    db = get_session()
    net = networks.get_network(db, slug)
    try:
        admin.archive_network(db, current_user, net, False)
    except Conflict as err:
        flash(err.message, "error")
    else:
        flash(f"Das Netzwerk „{net.name}“ ist wieder aktiv.", "success")
    return redirect(url_for(".network", slug=net.slug))


@bp.route("/netzwerke/<slug>/loeschen", methods=["GET", "POST"])
def delete_network(slug: str):
    """Confirm, then delete a network without members."""
    db = get_session()
    net = networks.get_network(db, slug)
    if request.method == "POST":
        try:
            name = admin.delete_network(db, current_user, net)
        except Conflict as err:
            flash(err.message, "error")
            return redirect(url_for(".network", slug=net.slug))
        flash(f"Das Netzwerk „{name}“ ist gelöscht.", "success")
        return redirect(url_for(".networks_list"))
    if not can(current_user, "network.edit", net):
        abort(403)
    if net.memberships:
        flash(f"„{net.name}“ hat Mitglieder und wird nicht gelöscht. Archivieren Sie es stattdessen.", "error")
        return redirect(url_for(".network", slug=net.slug))
    return _confirm_page(
        f"Netzwerk „{net.name}“ endgültig löschen?",
        f"„{net.name}“ hat keine Mitglieder. Gelöscht werden das Netzwerk, seine {len(net.coordinators)} "
        "Koordinationszuordnungen sowie offene Einladungen und Beitrittsanfragen. Das lässt sich nicht "
        "rückgängig machen; im Protokoll bleibt der Vorgang erhalten.",
        "Netzwerk endgültig löschen", url_for(".network", slug=net.slug), "Abbrechen, zurück zum Netzwerk")


# --- municipalities ------------------------------------------------------------------


@bp.route("/kommunen")
def municipalities():
    """Find municipalities by name or AGS (without a search: those with accounts)."""
    args = simple_form(request.args, "q", "seite")
    result = admin.search_organisations(get_session(), current_user, args["q"], args["seite"] or 1)
    return render_template("admin/municipalities.html", result=result, q=args["q"],
                           args={"q": args["q"]} if args["q"] else {})


@bp.route("/kommunen/<key>", methods=["GET", "POST"])
def municipality(key: str):
    """Edit a municipality's contact and website; list the accounts that act for it."""
    db = get_session()
    org = admin.get_organisation(db, key)
    if not can(current_user, "user.manage"):
        abort(403)
    values = {"website": org.website or "", "contact_email": org.contact_email or ""}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = simple_form(request.form, "website", "contact_email")
        try:
            admin.edit_organisation(db, current_user, org, values["website"], values["contact_email"])
        except Invalid as err:
            errors = err.errors
        else:
            flash(f"Kontakt und Website von {org.name} sind gespeichert.", "success")
            return redirect(url_for(".municipality", key=org.key))
    return render_template("admin/municipality.html", org=org, values=values, errors=errors,
                           officers=admin.officers_of(db, org)), 422 if errors else 200


# --- reference data and audit log ----------------------------------------------------


@bp.route("/referenzdaten")
def reference_data():
    """Show which reference data versions are loaded, with counts."""
    return render_template("admin/reference.html", sets=admin.reference_sets(get_session(), current_user))


@bp.route("/protokoll")
def audit_log():
    """Show the global audit log, filtered by actor, municipality, action and time, paged."""
    db = get_session()
    args = simple_form(request.args, "akteur", "kommune", "aktion", "von", "bis", "seite", "pro_seite")
    query = admin.AuditQuery(actor=args["akteur"], ags=args["kommune"], action=args["aktion"], since=args["von"],
                             until=args["bis"], page=args["seite"] or 1, size=args["pro_seite"] or 50)
    errors: dict[str, list[str]] = {}
    try:
        found = admin.audit_log(db, current_user, query)
    except Invalid as err:
        errors = err.errors
        found = admin.audit_log(db, current_user, admin.AuditQuery(
            actor=query.actor, ags=query.ags, action=query.action, page=query.page, size=query.size))
    return render_template("admin/audit.html", found=found, values=args, errors=errors,
                           actions=admin.audit_actions(db, current_user),
                           args={k: v for k, v in args.items() if v and k != "seite" and k not in errors}), \
        422 if errors else 200
