"""Review queue, review decisions, flags, duplicates, audit trail and own submissions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ...core.db import get_session
from ...models import Listing, Reuse
from ...models.listing import FLAG_REASONS
from ...permissions import can, is_moderator
from ...services import flags, listings, moderation, stats
from ...services.errors import Conflict, Invalid, NotFound
from . import charts

bp = Blueprint("moderation", __name__)

DECISIONS = {
    "freigeben": (moderation.approve, "comment", "Der Eintrag ist freigegeben und veröffentlicht."),
    "aenderungen": (moderation.request_changes, "comment", "Die Änderungswünsche wurden gesendet."),
    "ablehnen": (moderation.reject, "reason", "Der Eintrag wurde abgelehnt."),
    "zurueckziehen": (moderation.unpublish, "reason", "Der Eintrag wurde zurückgezogen."),
}


def _require_moderator() -> None:
    if not is_moderator(current_user):
        abort(403)


@bp.route("/pruefung")
@login_required
def queue():
    """Show the coordinator's queue: listings in review, open flags, recent edits."""
    _require_moderator()
    session = get_session()
    return render_template(
        "moderation/queue.html",
        pending=moderation.review_queue(session, current_user),
        flags=flags.open_flags(session, current_user),
        changed=moderation.recently_changed(session, current_user),
        reasons=FLAG_REASONS,
    )


@bp.route("/pruefung/eintrag/<slug>", methods=["GET", "POST"])
@login_required
def review(slug: str):
    """Show a listing to its coordinator with the review actions; POST decides."""
    session = get_session()
    listing = moderation.listing_for_review(session, current_user, slug)
    errors: dict = {}
    if request.method == "POST":
        action = request.form.get("action", "")
        if action not in DECISIONS:
            abort(400)
        fn, field, message = DECISIONS[action]
        try:
            fn(session, current_user, listing, request.form.get(field, ""))
        except Invalid as err:
            errors = {f"{action}-{k}": v for k, v in err.errors.items()}
        except Conflict as err:
            flash(err.message, "error")
            return redirect(url_for(".review", slug=slug))
        else:
            flash(message, "success")
            return redirect(url_for(".queue"))
    trail = moderation.audit_trail(session, current_user, listing)
    return render_template("moderation/review.html", listing=listing, trail=trail, errors=errors,
                           form=request.form), 422 if errors else 200


@bp.route("/pruefung/eintrag/<slug>/duplikat", methods=["POST"])
@login_required
def mark_duplicate(slug: str):
    """Archive a listing as duplicate of another (target given by slug)."""
    session = get_session()
    listing = moderation.listing_for_review(session, current_user, slug)
    target_slug = request.form.get("target", "").strip().rstrip("/").rsplit("/", 1)[-1]
    target = session.scalar(select(Listing).where(Listing.slug == target_slug))
    try:
        if target is None:
            raise Invalid({"target": ["Kein Eintrag mit dieser Adresse gefunden."]})
        flag_id = request.form.get("flag_id", type=int)
        if flag_id:
            flags.resolve_as_duplicate(session, current_user, flag_id, target, request.form.get("comment", ""))
        else:
            moderation.mark_duplicate(session, current_user, listing, target, request.form.get("comment", ""))
    except (Invalid, Conflict) as err:
        msg = " ".join(sum(err.errors.values(), [])) if isinstance(err, Invalid) else err.message
        flash(msg, "error")
        return redirect(url_for(".review", slug=slug))
    flash(f"„{listing.title}“ ist als Duplikat von „{target.title}“ archiviert; Nachnutzende wurden informiert.",
          "success")
    return redirect(url_for(".queue"))


@bp.route("/pruefung/meldungen/<int:flag_id>", methods=["POST"])
@login_required
def close_flag(flag_id: int):
    """Resolve or dismiss a flag."""
    try:
        flags.resolve_flag(get_session(), current_user, flag_id, dismiss=request.form.get("action") == "dismiss",
                           comment=request.form.get("comment", ""))
    except Conflict as err:
        flash(err.message, "error")
    else:
        flash("Die Meldung ist erledigt.", "success")
    return redirect(url_for(".queue"))


@bp.route("/eintraege/<slug>/melden", methods=["GET", "POST"])
@login_required
def flag(slug: str):
    """Let a signed-in officer report a listing to the coordinators."""
    session = get_session()
    listing = listings.get_listing(session, current_user, slug)
    if not can(current_user, "listing.flag", listing):
        abort(403)
    errors: dict = {}
    if request.method == "POST":
        dup_slug = request.form.get("duplicate_of", "").strip().rstrip("/").rsplit("/", 1)[-1]
        dup = session.scalar(select(Listing).where(Listing.slug == dup_slug)) if dup_slug else None
        if dup is not None and not can(current_user, "listing.view", dup):
            dup = None
        try:
            if dup_slug and dup is None:
                raise Invalid({"duplicate_of": ["Kein Eintrag mit dieser Adresse gefunden."]})
            flags.flag_listing(session, current_user, listing, request.form.get("reason", ""),
                               request.form.get("comment", ""), dup)
        except Invalid as err:
            errors = err.errors
        except Conflict as err:
            flash(err.message, "info")
            return redirect(url_for("web.listing_detail", slug=slug))
        else:
            flash("Danke! Die Koordination prüft Ihre Meldung.", "success")
            return redirect(url_for("web.listing_detail", slug=slug))
    return render_template("moderation/flag.html", listing=listing, reasons=FLAG_REASONS, errors=errors,
                           form=request.form), 422 if errors else 200


@bp.route("/eintraege/<slug>/verlauf")
@login_required
def audit_trail(slug: str):
    """Show every recorded transition of a listing (owner and coordinators)."""
    session = get_session()
    listing = session.scalar(select(Listing).where(Listing.slug == slug))
    if listing is None or not can(current_user, "listing.view_audit", listing):
        raise NotFound("Diesen Eintrag gibt es nicht oder Sie dürfen den Verlauf nicht sehen.")
    return render_template("moderation/audit.html", listing=listing,
                           trail=moderation.audit_trail(session, current_user, listing))


@bp.route("/meine-einreichungen", methods=["GET", "POST"])
@login_required
def my_submissions():
    """List the municipality's listings in review or with requested changes; resubmit."""
    session = get_session()
    if request.method == "POST":
        listing = session.scalar(select(Listing).where(Listing.slug == request.form.get("slug", "")))
        if listing is None or not can(current_user, "listing.submit", listing):
            abort(404)
        try:
            listings.submit_for_review(session, current_user, listing)
        except Conflict as err:
            flash(err.message, "error")
        else:
            flash(f"„{listing.title}“ ist zur Prüfung eingereicht.", "success")
        return redirect(url_for(".my_submissions"))
    return render_template("moderation/mine.html", items=moderation.my_submissions(session, current_user))


@bp.route("/eintraege/<slug>/nachnutzung-umziehen", methods=["GET", "POST"])
@login_required
def move_reuse(slug: str):
    """Offer (GET) and perform (POST) moving the own reuse of a duplicate to the survivor."""
    session = get_session()
    listing = listings.get_listing(session, current_user, slug)
    if listing.duplicate_of_id is None:
        abort(404)
    target = listings.get_listing(session, current_user, listing.duplicate_of_id)
    reuse = session.scalar(select(Reuse).where(Reuse.listing_id == listing.id,
                                               Reuse.organisation_id == current_user.organisation_id))
    if request.method == "POST":
        if reuse is None:
            abort(404)
        try:
            moderation.move_reuse(session, current_user, reuse, target)
        except Conflict as err:
            flash(err.message, "error")
            return redirect(url_for(".move_reuse", slug=slug))
        flash(f"Ihre Nachnutzung gilt jetzt für „{target.title}“.", "success")
        return redirect(url_for("web.listing_detail", slug=target.slug))
    return render_template("moderation/move_reuse.html", listing=listing, target=target, reuse=reuse)


@bp.route("/pruefung/dashboard")
@login_required
def dashboard():
    """Show the coordinator dashboard (first coordinated network; all listings for admins)."""
    _require_moderator()
    session = get_session()
    if not current_user.is_admin:
        from ...models import Network

        nets = session.scalars(select(Network).where(Network.id.in_(current_user.coordinated_network_ids))
                               .order_by(Network.name)).all()
        return redirect(url_for("networks.dashboard", slug=nets[0].slug))
    data = stats.dashboard(session, current_user, None)
    return render_template("moderation/dashboard.html", d=data, charts=charts)
