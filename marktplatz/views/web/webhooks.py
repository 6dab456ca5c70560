"""Webhook management for officers of a municipality (/kommune/webhooks)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ...core.db import get_session
from ...core.outbound import Policy
from ...models import WebhookDelivery
from ...permissions import can
from ...services import webhooks
from ...services.errors import Conflict, Invalid

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
    elif what == "test":
        row = webhooks.test_delivery(session, current_user, hook, current_app.config)
        _flash_outcome("Testzustellung", row)
    elif what == "delete":
        webhooks.delete_webhook(session, current_user, hook)
        flash("Webhook gelöscht.", "success")
        return redirect(url_for(".index"))
    else:
        abort(400)
    return redirect(url_for(".log", hook_id=hook_id))


@bp.route("/kommune/webhooks/<int:hook_id>/zustellungen/<int:delivery_id>/erneut", methods=["POST"])
@login_required
def redeliver(hook_id: int, delivery_id: int):
    """Send a failed delivery again, by hand, and show the outcome."""
    session = get_session()
    hook = webhooks.get_webhook(session, current_user, hook_id)
    try:
        row = webhooks.redeliver(session, current_user, hook, delivery_id, current_app.config)
    except Conflict as err:
        flash(err.message, "error")
    else:
        _flash_outcome(f"Zustellung Nr. {row.id}", row)
    return redirect(url_for(".log", hook_id=hook_id))


def _flash_outcome(what: str, row: WebhookDelivery) -> None:
    if row.status == "delivered":
        flash(f"{what} erfolgreich: HTTP {row.last_status_code} in {row.last_duration_ms} ms.", "success")
    else:
        flash(f"{what} fehlgeschlagen: {row.last_error}", "error")
