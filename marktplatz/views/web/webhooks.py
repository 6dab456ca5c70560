"""Webhook management for officers of a municipality (/kommune/webhooks)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ...core.db import get_session
from ...core.outbound import Policy
from ...permissions import can
from ...services import webhooks
from ...services.errors import Invalid

bp = Blueprint("webhooks", __name__)


def _org():
    org = current_user.organisation
    if org is None or not can(current_user, "organisation.manage_webhooks", org):
        abort(403)
    return org


@bp.route("/kommune/webhooks", methods=["GET", "POST"])
@login_required
def index():
    """List the municipality's webhooks and register a new one."""
    session = get_session()
    org = _org()
    errors: dict = {}
    created = None
    if request.method == "POST":
        try:
            created = webhooks.create_webhook(session, current_user, org, request.form.get("url", ""),
                                              request.form.get("secret", ""),
                                              Policy.from_config(current_app.config))
        except Invalid as err:
            errors = err.errors
        else:
            flash("Webhook angelegt. Bewahren Sie das Geheimnis sicher auf.", "success")
    items = webhooks.list_webhooks(session, current_user, org)
    return render_template("webhooks/index.html", org=org, items=items, errors=errors, form=request.form,
                           created=created, events=webhooks.EVENTS), 422 if errors else 200


@bp.route("/kommune/webhooks/<int:hook_id>")
@login_required
def log(hook_id: int):
    """Show the delivery log of a webhook."""
    session = get_session()
    hook = webhooks.get_webhook(session, current_user, hook_id)
    return render_template("webhooks/log.html", hook=hook, items=webhooks.deliveries(session, hook))


@bp.route("/kommune/webhooks/<int:hook_id>/aktion", methods=["POST"])
@login_required
def action(hook_id: int):
    """Switch on/off, send a test event or delete a webhook."""
    session = get_session()
    hook = webhooks.get_webhook(session, current_user, hook_id)
    what = request.form.get("action")
    if what == "enable":
        webhooks.set_active(session, current_user, hook, True)
        flash("Webhook ist wieder eingeschaltet.", "success")
    elif what == "disable":
        webhooks.set_active(session, current_user, hook, False)
        flash("Webhook ist ausgeschaltet.", "success")
    elif what == "ping":
        webhooks.send_ping(session, current_user, hook)
        flash("Testnachricht ist eingereiht und wird in wenigen Sekunden gesendet.", "success")
    elif what == "delete":
        webhooks.delete_webhook(session, current_user, hook)
        flash("Webhook gelöscht.", "success")
        return redirect(url_for(".index"))
    else:
        abort(400)
    return redirect(url_for(".log", hook_id=hook_id))
