"""In-app inbox, digest settings and following OZG-Leistungen."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ...core.db import get_session
from ...services import notify
from ...services.errors import Invalid
from .auth import _safe_next

bp = Blueprint("notifications", __name__)


@bp.route("/benachrichtigungen")
@login_required
def inbox():
    """Show the user's notifications, newest first."""
    return render_template("notifications/inbox.html", items=notify.inbox(get_session(), current_user))


@bp.route("/benachrichtigungen/<int:note_id>/gelesen", methods=["POST"])
@login_required
def mark_read(note_id: int):
    """Mark one notification as read; open its link when asked to."""
    note = notify.mark_read(get_session(), current_user, note_id)
    if request.form.get("open") and note.link:
        return redirect(_safe_next(note.link))
    return redirect(url_for(".inbox"))


@bp.route("/benachrichtigungen/alle-gelesen", methods=["POST"])
@login_required
def mark_all_read():
    """Mark all notifications as read."""
    n = notify.mark_all_read(get_session(), current_user)
    flash(f"{n} Benachrichtigungen als gelesen markiert." if n else "Alles war schon gelesen.", "success")
    return redirect(url_for(".inbox"))


@bp.route("/konto/benachrichtigungen", methods=["GET", "POST"])
@login_required
def settings():
    """Let the user choose the e-mail digest and see followed OZG-Leistungen."""
    session = get_session()
    errors: dict = {}
    if request.method == "POST":
        try:
            notify.set_digest(session, current_user, request.form.get("digest", ""))
        except Invalid as err:
            errors = err.errors
        else:
            flash("Ihre Einstellung ist gespeichert.", "success")
            return redirect(url_for(".settings"))
    return render_template("notifications/settings.html", choices=notify.DIGEST_CHOICES, errors=errors,
                           followed=notify.followed_ozg(session, current_user)), 422 if errors else 200


@bp.route("/ozg/<int:ozg_id>/folgen", methods=["POST"])
@login_required
def follow_ozg(ozg_id: int):
    """Follow or unfollow an OZG-Leistung (action=unfollow stops following)."""
    session = get_session()
    if request.form.get("action") == "unfollow":
        notify.unfollow_ozg(session, current_user, ozg_id)
        flash("Sie folgen dieser OZG-Leistung nicht mehr.", "success")
    else:
        notify.follow_ozg(session, current_user, ozg_id)
        flash("Sie werden über neue Einträge zu dieser OZG-Leistung benachrichtigt.", "success")
    return redirect(_safe_next(request.form.get("next") or url_for(".settings")))
