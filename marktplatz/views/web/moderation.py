"""Review queue, review decisions, flags, duplicates, audit trail and own submissions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from ...core.db import get_session
from ...models import Listing, Reuse
from ...models.listing import FLAG_REASONS, KINDS
from ...models.listing_fields import LISTING_FIELDS
from ...permissions import can, is_moderator
from ...services import access_requests, flags, listings, moderation, stats
from ...services.errors import Conflict, Forbidden, Invalid, NotFound
from . import charts
from .confirm import confirm_page, confirmed

bp = Blueprint("moderation", __name__)

DECISIONS = {
    "freigeben": (moderation.approve, "comment", "Der Eintrag ist freigegeben und veröffentlicht."),
    "aenderungen": (moderation.request_changes, "comment", "Die Änderungswünsche wurden gesendet."),
    "ablehnen": (moderation.reject, "reason", "Der Eintrag wurde abgelehnt."),
    "zurueckziehen": (moderation.unpublish, "reason", "Der Eintrag wurde zurückgezogen."),
}


# Every field of the listing on the review page, but those shown as its heading and text.
REVIEW_FIELDS = tuple(spec for spec in LISTING_FIELDS if spec.name not in ("title", "summary", "description"))

# Decisions that take a listing away from its municipality's plan: confirmed first.
DESTRUCTIVE = {
    "ablehnen": ("„{title}“ ablehnen?", "Ja, „{title}“ ablehnen",
                 ["„{title}“ von {org} wird abgelehnt und nicht veröffentlicht.",
                  "Die Kommune erhält Ihre Begründung und kann den Eintrag überarbeiten und erneut einreichen."]),
    "zurueckziehen": ("Veröffentlichung von „{title}“ zurückziehen?", "Ja, „{title}“ zurückziehen",
                      ["„{title}“ von {org} ist danach nicht mehr öffentlich: nicht in der Suche, den OZG-Seiten "
                       "und der API. Folgende und Nachnutzende sehen ihn nicht mehr.",
                       "Die Kommune erhält Ihre Begründung, überarbeitet den Eintrag und reicht ihn erneut ein."]),
}


def _decision_confirmation(listing: Listing, action: str, reason: str):
    title, button, what = DESTRUCTIVE[action]
    names = {"title": listing.title, "org": listing.organisation.short_name}
    _fn, field, _message = DECISIONS[action]
    return confirm_page(
        title.format(**names), [p.format(**names) for p in what] + [f"Ihre Begründung: „{reason.strip()}“"],
        button.format(**names), url_for(".review", slug=listing.slug), url_for(".review", slug=listing.slug),
        "Abbrechen, zurück zur Prüfung", hidden={"action": action, field: reason},
    )


def _require_moderator() -> None:
    if not is_moderator(current_user):
        abort(403)


@bp.route("/pruefung")
@login_required
def queue():
    """Show the coordinator's queue: listings in review, open flags, recent edits."""
    _require_moderator()
    session = get_session()
    filters, errors = moderation.queue_filters(session, current_user, request.args)
    return render_template(
        "moderation/queue.html",
        pending=moderation.review_queue(session, current_user, **filters),
        networks=moderation.queue_networks(session, current_user), kinds=KINDS, ages=moderation.QUEUE_AGES,
        args=request.args, errors=errors, filtered=bool(filters),
        flags=flags.open_flags(session, current_user),
        changed=moderation.recently_changed(session, current_user),
        reasons=FLAG_REASONS,
        access_requests=len(access_requests.list_requests(session, current_user)),
    ), 422 if errors else 200


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
            if action in DESTRUCTIVE and not confirmed():
                moderation.check_reason(request.form.get(field, ""), field)
                return _decision_confirmation(listing, action, request.form.get(field, ""))
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
    candidates, overridden = moderation.overridden_candidates(session, current_user, listing)
    return render_template("moderation/review.html", listing=listing, trail=trail, errors=errors,
                           form=request.form, fields=REVIEW_FIELDS, candidates=candidates,
                           candidates_overridden=overridden), 422 if errors else 200


def _slug_of(value: str) -> str:
    """Return the slug of a listing address or slug as typed or pasted."""
    return (value or "").strip().split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]


@bp.route("/pruefung/eintrag/<slug>/duplikat", methods=["POST"])
@login_required
def mark_duplicate(slug: str):
    """Confirm, then archive a listing as duplicate of another (target given by address or slug).

    The first POST shows both listings side by side with their reusers and what will happen;
    only the confirmed second POST merges.
    """
    session = get_session()
    listing = moderation.listing_for_review(session, current_user, slug)
    target_slug = _slug_of(request.form.get("target", ""))
    target = session.scalar(select(Listing).where(Listing.slug == target_slug)) if target_slug else None
    flag_id = request.form.get("flag_id", type=int)
    comment = request.form.get("comment", "")
    try:
        moderation.check_duplicate(current_user, listing, target)
        if not confirmed():
            return _merge_confirmation(listing, target, flag_id, comment)
        if flag_id:
            flags.resolve_as_duplicate(session, current_user, flag_id, target, comment)
        else:
            moderation.mark_duplicate(session, current_user, listing, target, comment)
    except (Invalid, Conflict, Forbidden) as err:
        msg = " ".join(sum(err.errors.values(), [])) if isinstance(err, Invalid) else err.message
        flash(msg, "error")
        return redirect(url_for(".review", slug=slug))
    flash(f"„{listing.title}“ ist als Duplikat von „{target.title}“ archiviert; Nachnutzende wurden informiert. "
          "Die Koordination kann den Eintrag im Verlauf wiederherstellen.", "success")
    return redirect(url_for(".queue"))


def _merge_confirmation(listing: Listing, target: Listing, flag_id: int | None, comment: str):
    reusers = len(listing.reuses)
    what = [
        f"„{listing.title}“ ({listing.organisation.short_name}) wird archiviert und verweist danach auf "
        f"„{target.title}“ ({target.organisation.short_name}). Der Eintrag verschwindet aus der Suche, "
        "den OZG-Seiten und den Listen.",
        (f"Die {reusers} nachnutzenden Kommunen von „{listing.title}“ werden benachrichtigt und eingeladen, "
         f"ihre Nachnutzung mit einem Klick auf „{target.title}“ zu übertragen." if reusers != 1 else
         f"Die nachnutzende Kommune von „{listing.title}“ wird benachrichtigt und eingeladen, ihre "
         f"Nachnutzung mit einem Klick auf „{target.title}“ zu übertragen.") if reusers else
        f"„{listing.title}“ hat keine Nachnutzenden.",
        f"„{target.title}“ bleibt unverändert. Die Koordination kann „{listing.title}“ später "
        "wiederherstellen; er kehrt dann in seinen vorigen Zustand zurück.",
    ]
    hidden = {"target": target.slug, "comment": comment}
    if flag_id:
        hidden["flag_id"] = flag_id
    return confirm_page(
        "Als Duplikat zusammenführen?", what, f"Ja, „{listing.title}“ als Duplikat archivieren",
        url_for(".mark_duplicate", slug=listing.slug), url_for(".review", slug=listing.slug),
        "Abbrechen, zurück zur Prüfung", hidden=hidden, details="moderation/_compare.html",
        duplicate=listing, original=target,
    )


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
