"""Invitations: invite a colleague (or, for admins, anyone with a role) and accept by link."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user

from ...core.db import get_session
from ...core.extensions import limiter
from ...models.user import ROLES
from ...services import invitations
from ...services.errors import Invalid, Unavailable
from .auth import external_url, private_page

bp = Blueprint("invitations", __name__)


@bp.route("/konto/einladen", methods=["GET", "POST"])
@login_required
@limiter.limit("30 per hour", methods=["POST"])
def invite():
    """Show and send the invitation form."""
    db = get_session()
    roles = invitations.invitable_roles(db, current_user)
    if not roles:
        abort(403)
    orgs = invitations.invitable_organisations(db, current_user)
    admin = len(roles) > 1
    nets = invitations.invitable_networks(db, current_user)
    errors: dict[str, list[str]] = {}
    values = {"email": "", "name": "", "role": "officer",
              "ags": current_user.organisation.ags if current_user.organisation else "", "network_ids": []}
    if request.method == "POST":
        values = {"email": request.form.get("email", ""), "name": request.form.get("name", ""),
                  "role": request.form.get("role", "officer"), "ags": request.form.get("ags", ""),
                  "network_ids": request.form.getlist("network_ids")}
        try:
            invitations.invite(db, current_app.config, current_user, values,
                               lambda token: external_url("invitations.accept", token=token))
        except Invalid as err:
            errors = err.errors
        except Unavailable as err:
            errors = {"email": [err.message]}
        else:
            flash(f"Die Einladung an {values['email'].strip()} ist verschickt. Der Link gilt "
                  f"{current_app.config['INVITATION_SECONDS'] // 86400} Tage.", "success")
            return redirect(url_for("invitations.invite"))
    return render_template("auth/invite.html", errors=errors, values=values, roles={r: ROLES[r] for r in roles},
                           orgs=orgs, admin=admin, networks=nets), 422 if errors else 200


@bp.route("/einladung/<token>", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def accept(token: str):
    """Accept an invitation: choose the password, the account is created and signed in."""
    db = get_session()
    errors: dict[str, list[str]] = {}
    try:
        inv = invitations.invitation_for(db, current_app.config, token)
    except Invalid as err:
        return private_page(current_app.make_response(
            (render_template("auth/accept.html", link_error=err.errors["token"][0]), 400)))
    name = inv.name
    if request.method == "POST":
        name = request.form.get("name", "")
        try:
            user = invitations.accept(db, current_app.config, token, name, request.form.get("new_password", ""),
                                      request.form.get("repeat_password", ""))
        except Invalid as err:
            errors = err.errors
        else:
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            login_user(user, remember=False)
            flash(f"Willkommen, {user.name}! Ihr Konto ist eingerichtet.", "success")
            return redirect(url_for("web.index"))
    return private_page(current_app.make_response(
        (render_template("auth/accept.html", inv=inv, name=name, errors=errors), 422 if errors else 200)))
