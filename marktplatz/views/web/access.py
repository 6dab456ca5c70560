"""Zugang beantragen: the public request form, the confirmation link, the deciders' pages."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, logout_user

from ...core.db import get_session
from ...core.extensions import limiter
from ...permissions import can
from ...services import access_requests, accounts, networks
from ...services.errors import Conflict, Invalid, Unavailable
from .auth import external_url, private_page
from .forms import simple_form

bp = Blueprint("access", __name__)

FIELDS = ("ags", "kommune", "name", "email", "role", "message")
LABELS = {"kommune": "Kommune", "ags": "Kommune", "name": "Name", "email": "E-Mail-Adresse", "role": "Rolle",
          "message": "Nachricht"}


def _typed_address() -> str:
    """Key the per-address limit by the address as typed, so one inbox is not flooded."""
    return "access:" + (request.form.get("email", "") or "").strip().lower()[:254]


@bp.route("/zugang-beantragen", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
@limiter.limit("5 per hour", methods=["POST"], key_func=_typed_address)
def request_access():
    """Ask for an account for a municipality; the answer is the same for known addresses."""
    db = get_session()
    errors: dict[str, list[str]] = {}
    values = {name: "" for name in FIELDS}
    values["role"] = "officer"
    candidates = []
    if request.method == "GET":
        values["kommune"] = request.args.get("kommune", "")[:200]
        if values["kommune"]:
            candidates = access_requests.find_municipalities(db, values["kommune"])
    else:
        values = simple_form(request.form, *FIELDS)
        try:
            access_requests.submit(db, current_app.config, values,
                                   lambda token: external_url("access.confirm", token=token),
                                   external_url("auth.forgot_password"))
        except Invalid as err:
            errors = err.errors
            _org, candidates = access_requests.resolve_municipality(db, values["ags"], values["kommune"])
        except Unavailable as err:
            errors = {"email": [err.message]}
        else:
            hours = current_app.config["ACCESS_CONFIRM_SECONDS"] // 3600
            flash(f"Danke! Wir haben an {values['email'].strip()} eine E-Mail geschickt. Bitte bestätigen Sie "
                  f"darin innerhalb von {hours} Stunden Ihre Adresse; erst dann geht der Antrag zur Prüfung. "
                  "Bitte sehen Sie auch im Spam-Ordner nach.", "info")
            return redirect(url_for("auth.login"))
    return render_template("access/request.html", errors=errors, values=values, candidates=candidates,
                           roles=access_requests.REQUESTABLE_ROLES, labels=LABELS), 422 if errors else 200


@bp.route("/zugang-beantragen/bestaetigen/<token>", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def confirm(token: str):
    """Confirm the address of a request (a button, so mail scanners that open links confirm nothing)."""
    db = get_session()
    try:
        req = access_requests.request_for_confirmation(db, current_app.config, token)
    except Invalid as err:
        return private_page(current_app.make_response(
            (render_template("access/confirm.html", link_error=err.errors["token"][0]), 400)))
    if request.method == "POST":
        access_requests.confirm(db, current_app.config, token,
                                lambda rid: external_url("access.detail", request_id=rid))
        flash("Ihre E-Mail-Adresse ist bestätigt. Der Antrag liegt jetzt bei der Koordination Ihrer Netzwerke "
              "und der Plattformverwaltung. Sie bekommen die Entscheidung per E-Mail.", "success")
        return redirect(url_for("web.index"))
    return private_page(current_app.make_response(render_template("access/confirm.html", req=req)))


@bp.route("/zugangsantraege")
@login_required
def requests():
    """List the access requests the user decides (pending first; ?status=alle shows decided ones)."""
    status = request.args.get("status", "pending")
    if status not in ("pending", "approved", "refused", "alle"):
        status = "pending"
    items = access_requests.list_requests(get_session(), current_user, status)
    return render_template("access/list.html", items=items, status=status,
                           checks={r.id: access_requests.domain_check(r) for r in items})


def _render_detail(req, errors=None, status: int = 200, form=None):
    admin_networks = (networks.list_networks(get_session())
                      if req.role != "officer" and can(current_user, "user.invite_any_role") else [])
    return render_template("access/detail.html", req=req, check=access_requests.domain_check(req),
                           networks=admin_networks, errors=errors or {},
                           chosen=form.getlist("network_ids") if form else []), status


@bp.route("/zugangsantraege/<int:request_id>")
@login_required
def detail(request_id: int):
    """Show one request with the domain check and the decision forms."""
    return _render_detail(access_requests.get_request(get_session(), current_user, request_id))


@bp.route("/zugangsantraege/<int:request_id>/annehmen", methods=["POST"])
@login_required
def approve(request_id: int):
    """Approve: create the account and e-mail the link to set the password."""
    db = get_session()
    try:
        account = access_requests.approve(db, current_app.config, current_user, request_id,
                                          request.form.getlist("network_ids"),
                                          lambda token: external_url("access.set_password", token=token))
    except Invalid as err:
        return _render_detail(access_requests.get_request(db, current_user, request_id), err.errors, 422,
                              request.form)
    except (Conflict, Unavailable) as err:
        flash(err.message, "error")
        return redirect(url_for(".detail", request_id=request_id))
    flash(f"Das Konto für {account.email} ist angelegt. Die Person hat eine E-Mail mit dem Link zum "
          "Festlegen des Passworts bekommen.", "success")
    return redirect(url_for(".requests"))


@bp.route("/zugangsantraege/<int:request_id>/ablehnen", methods=["GET", "POST"])
@login_required
def refuse(request_id: int):
    """Confirm and send a refusal with its reason."""
    db = get_session()
    req = access_requests.get_request(db, current_user, request_id)
    errors: dict[str, list[str]] = {}
    reason = ""
    if request.method == "POST":
        reason = request.form.get("reason", "")
        try:
            access_requests.refuse(db, current_app.config, current_user, request_id, reason)
        except Invalid as err:
            errors = err.errors
        except (Conflict, Unavailable) as err:
            flash(err.message, "error")
            return redirect(url_for(".detail", request_id=request_id))
        else:
            flash(f"Der Antrag von {req.name} ist abgelehnt; die Begründung ist per E-Mail unterwegs.", "success")
            return redirect(url_for(".requests"))
    return render_template("access/refuse.html", req=req, errors=errors, reason=reason), 422 if errors else 200


@bp.route("/konto-einrichten/<token>", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def set_password(token: str):
    """Choose the first password of an account created from an approved access request."""
    errors: dict[str, list[str]] = {}
    db = get_session()
    try:
        user = accounts.user_for_reset(db, current_app.config, token, "set-password")
    except Invalid as err:
        return private_page(current_app.make_response(
            (render_template("auth/reset.html", link_error=err.errors["token"][0], first=True), 400)))
    if request.method == "POST":
        try:
            accounts.reset_password(db, current_app.config, token, request.form.get("new_password", ""),
                                    request.form.get("repeat_password", ""), "set-password")
        except Invalid as err:
            errors = err.errors
        else:
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash("Ihr Passwort ist festgelegt. Bitte melden Sie sich jetzt an.", "success")
            return redirect(url_for("auth.login", email=user.email))
    return private_page(current_app.make_response(
        (render_template("auth/reset.html", errors=errors, user=user, first=True), 422 if errors else 200)))
