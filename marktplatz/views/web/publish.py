"""Write pages of the web UI: publish and edit listings, status updates, reuse, follow."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ...core.db import get_session
from ...models import Listing, ListingStatus, Reuse
from ...models.listing import KINDS
from ...models.listing_fields import LISTING_FIELDS
from ...permissions import can
from ...services import catalogue, reuse_suggestions
from ...services import listings as listing_service
from ...services import reuse as reuse_service
from ...services.common import require
from ...services.duplicates import DuplicateReport, find_duplicates
from ...services.errors import Conflict, Invalid, NotFound
from ...services.lifecycle import Action, refusal
from .confirm import confirm_page, confirmed
from .forms import (
    FORM_FIELDS,
    field_errors,
    listing_form_values,
    listing_input,
    listing_to_values,
    simple_form,
)
from .pages import render_dashboard, render_listing

bp = Blueprint("publish", __name__)

# The labels of the form's error summary: each field's own wording on the form, and the
# two errors that belong to no listing field.
ERROR_LABELS = {
    **{spec.name: spec.form_label for spec in LISTING_FIELDS},
    "organisation": "Kommune",
    "duplicate_override_reason": "Begründung",
}


def _picker(values: dict[str, Any]) -> dict[str, Any]:
    """Return the catalogue picker state: selected entries and search matches."""
    session = get_session()
    ozg_ids = [int(v) for v in values.get("ozg_ids", []) if str(v).isdigit()]
    leika_keys = [v for v in values.get("leika_keys", []) if str(v).isdigit()]
    selected_ozg, selected_leika = catalogue.catalogue_by_ids(session, ozg_ids, leika_keys)
    term = (request.form.get("katalog_suche") or "").strip()[:100] if request.method == "POST" else ""
    found_ozg: list[Any] = []
    found_leika: list[Any] = []
    searched = request.form.get("aktion") == "katalog_suchen"
    if searched:
        found_ozg, found_leika = catalogue.catalogue_search(session, term)
        found_ozg = [o for o in found_ozg if o.id not in ozg_ids]
        found_leika = [lk for lk in found_leika if lk.key not in leika_keys]
    return {
        "selected_ozg": selected_ozg, "selected_leika": selected_leika, "term": term,
        "found_ozg": found_ozg, "found_leika": found_leika, "searched": searched,
    }


def _render_form(values: dict[str, Any], errors: dict[str, list[str]], listing: Listing | None, status: int = 200,
                 report: DuplicateReport | None = None, reason: str = ""):
    return render_template(
        "listings/form.html",
        values=values,
        errors=errors,
        listing=listing,
        report=report,
        reason=reason,
        picker=_picker(values),
        fields={spec.name: spec for spec in LISTING_FIELDS},
        labels=ERROR_LABELS,
    ), status


def _after_save(listing: Listing, created: bool):
    session = get_session()
    if request.form.get("aktion") == "einreichen":
        listing_service.submit_for_review(session, current_user, listing)
        flash("Gespeichert und zur Prüfung eingereicht. Die Koordination Ihres Netzwerks wird benachrichtigt.", "success")
    else:
        flash("Der Eintrag wurde angelegt." if created else "Ihre Änderungen sind gespeichert.", "success")
    return redirect(url_for("web.listing_detail", slug=listing.slug))


@bp.route("/eintraege/neu", methods=["GET", "POST"])
@login_required
def new():
    """Publish a new service, component or project for the officer's municipality."""
    session = get_session()
    org = current_user.organisation
    if org is None:
        return render_template("error.html", status=403, title="Keine Kommune",
                               message="Ihr Konto ist keiner Kommune zugeordnet."), 403
    require(current_user, "listing.create", org)
    if request.method == "GET":
        kind = request.args.get("art") if request.args.get("art") in KINDS else "dienst"
        values = listing_form_values(request.form)
        values.update(kind=kind, visibility="public", contact_name=current_user.name,
                      contact_email=current_user.email)
        return _render_form(values, {}, None)
    values = listing_form_values(request.form)
    reason = (request.form.get("duplicate_override_reason") or "").strip()[:2000]
    data = listing_input(values)
    # Duplicate step: existing listings for the same service are shown first; going on
    # anyway needs a short reason, which the coordinators see when they review.
    report = find_duplicates(session, current_user, data) if (data["title"] or data["ozg_ids"]
                                                               or data["leika_keys"]) else None
    if report is not None and not report.matches:
        report = None
    if request.form.get("aktion") == "katalog_suchen":
        return _render_form(values, {}, None, report=report, reason=reason)
    if report is not None and not reason:
        errors = {}
        if request.form.get("dubletten_geprueft") == "1":
            errors["duplicate_override_reason"] = [
                "Bitte begründen Sie kurz, warum Sie trotzdem einen eigenen Eintrag anlegen."
            ]
        return _render_form(values, errors, None, 422 if errors else 200, report=report, reason=reason)
    try:
        listing = listing_service.create_listing(
            session, current_user, data, duplicate_override_reason=reason if report is not None else None,
            duplicate_candidates=[m.listing.id for m in report.matches] if report is not None else None,
        )
    except Invalid as err:
        return _render_form(values, field_errors(err.errors), None, 422, report=report, reason=reason)
    return _after_save(listing, created=True)


@bp.route("/eintraege/<slug>/bearbeiten", methods=["GET", "POST"])
@login_required
def edit(slug: str):
    """Edit a listing with optimistic locking; show both versions on a conflict."""
    session = get_session()
    listing = listing_service.get_listing(session, current_user, slug)
    require(current_user, "listing.edit", listing)
    if request.method == "GET":
        return _render_form(listing_to_values(listing), {}, listing)
    values = listing_form_values(request.form)
    if request.form.get("aktion") == "katalog_suchen":
        return _render_form(values, {}, listing)
    version = int(values["version"]) if str(values.get("version", "")).isdigit() else None
    try:
        listing = listing_service.update_listing(session, current_user, listing, listing_input(values), version)
    except Invalid as err:
        return _render_form(values, field_errors(err.errors), listing, 422)
    except Conflict:
        if listing.status == ListingStatus.ARCHIVED.value:
            raise
        session.expire_all()
        current = listing_service.get_listing(session, current_user, slug)
        current_values = listing_to_values(current)
        rows = [
            (spec.name, spec.label, values.get(spec.name), current_values.get(spec.name))
            for spec in FORM_FIELDS
        ]
        return render_template(
            "listings/conflict.html", listing=current, mine=values, rows=rows,
            current_version=current.version,
        ), 409
    return _after_save(listing, created=False)


@bp.route("/eintraege/<slug>/einreichen", methods=["POST"])
@login_required
def submit(slug: str):
    """Submit a draft for review."""
    session = get_session()
    listing = listing_service.get_listing(session, current_user, slug)
    listing_service.submit_for_review(session, current_user, listing)
    flash("Der Eintrag ist zur Prüfung eingereicht.", "success")
    return redirect(url_for("web.listing_detail", slug=listing.slug))


@bp.route("/eintraege/<slug>/wiederherstellen", methods=["POST"])
@login_required
def restore(slug: str):
    """Return an archived listing to the state it was archived from."""
    session = get_session()
    listing = listing_service.get_listing(session, current_user, slug)
    listing_service.restore_listing(session, current_user, listing)
    flash(f"Der Eintrag ist wiederhergestellt ({listing.status_label}).", "success")
    return redirect(url_for("web.listing_detail", slug=listing.slug))


def _owner_step(listing: Listing, action: Action, title: str, text: list[str], button: str, endpoint: str):
    """Refuse at once if the lifecycle forbids action, else show its confirmation step (None once confirmed)."""
    error = refusal(current_user, listing, action)
    if error is not None:
        raise error.fail()
    if confirmed():
        return None
    return confirm_page(title, text, button, url_for(endpoint, slug=listing.slug),
                        url_for("web.listing_detail", slug=listing.slug), "Abbrechen, zurück zum Eintrag")


@bp.route("/eintraege/<slug>/archivieren", methods=["POST"])
@login_required
def archive(slug: str):
    """Confirm, then archive a listing of the own municipality (it can be restored)."""
    session = get_session()
    listing = listing_service.get_listing(session, current_user, slug)
    step = _owner_step(
        listing, Action.ARCHIVE, f"„{listing.title}“ archivieren?",
        ["Der Eintrag verschwindet aus Suche, Listen und Exporten; Nachnutzende und Folgende werden "
         "benachrichtigt." if listing.is_published else "Der Eintrag wird archiviert.",
         f"Sie können ihn jederzeit wiederherstellen; er kehrt dann in den Zustand „{listing.status_label}“ zurück."],
        "Ja, archivieren", "publish.archive")
    if step is not None:
        return step
    listing_service.archive_listing(session, current_user, listing)
    flash("Der Eintrag ist archiviert. Sie können ihn auf dieser Seite wiederherstellen.", "success")
    return redirect(url_for("web.listing_detail", slug=listing.slug))


@bp.route("/eintraege/<slug>/zurueckziehen", methods=["POST"])
@login_required
def withdraw(slug: str):
    """Confirm, then take a listing in review back to a draft."""
    session = get_session()
    listing = listing_service.get_listing(session, current_user, slug)
    step = _owner_step(
        listing, Action.WITHDRAW, f"„{listing.title}“ aus der Prüfung zurückziehen?",
        ["Die Koordination prüft den Eintrag dann nicht mehr; er wird wieder ein Entwurf Ihrer Kommune.",
         "Nach Ihren Änderungen reichen Sie ihn erneut ein."],
        "Ja, zurückziehen", "publish.withdraw")
    if step is not None:
        return step
    listing_service.withdraw_listing(session, current_user, listing)
    flash("Der Eintrag ist zurückgezogen und wieder ein Entwurf.", "success")
    return redirect(url_for("web.listing_detail", slug=listing.slug))


@bp.route("/eintraege/<slug>/loeschen", methods=["POST"])
@login_required
def delete(slug: str):
    """Confirm, then delete a draft that was never submitted."""
    session = get_session()
    listing = listing_service.get_listing(session, current_user, slug)
    step = _owner_step(
        listing, Action.DELETE, f"Entwurf „{listing.title}“ löschen?",
        ["Der Entwurf wird endgültig gelöscht; das lässt sich nicht rückgängig machen.",
         "Er war noch nie eingereicht, niemand außerhalb Ihrer Kommune hat ihn gesehen."],
        "Ja, Entwurf endgültig löschen", "publish.delete")
    if step is not None:
        return step
    title = listing_service.delete_draft(session, current_user, listing)
    flash(f"Der Entwurf „{title}“ ist gelöscht.", "success")
    return redirect(url_for("web.dashboard"))


@bp.route("/eintraege/<slug>/status", methods=["POST"])
@login_required
def post_status(slug: str):
    """Post a status update to a listing's timeline."""
    session = get_session()
    listing = listing_service.get_listing(session, current_user, slug)
    data = simple_form(request.form, "title", "body", "phase")
    try:
        listing_service.post_status_update(session, current_user, listing, data)
    except Invalid as err:
        return render_listing(listing, 422, errors=field_errors(err.errors), status_input=data)
    flash("Die Statusmeldung ist veröffentlicht.", "success")
    return redirect(url_for("web.listing_detail", slug=listing.slug) + "#verlauf")


@bp.route("/eintraege/<slug>/nachnutzung", methods=["POST"])
@login_required
def declare_reuse(slug: str):
    """Declare that the officer's municipality reuses this listing."""
    session = get_session()
    listing = listing_service.get_listing(session, current_user, slug)
    data = simple_form(request.form, "stage", "note", "reason", "contact_name", "contact_email")
    try:
        reuse_service.declare_reuse(session, current_user, listing, data)
    except Invalid as err:
        return render_listing(listing, 422, reuse_errors=field_errors(err.errors), reuse_input=data)
    flash("Ihre Nachnutzung ist eingetragen. Die anbietende Kommune wird benachrichtigt.", "success")
    return redirect(url_for("web.listing_detail", slug=listing.slug) + "#nachnutzung")


@bp.route("/nachnutzungen/<int:reuse_id>/stufe", methods=["POST"])
@login_required
def change_stage(reuse_id: int):
    """Move a reuse to another stage."""
    session = get_session()
    reuse = session.get(Reuse, reuse_id)
    # A reuse of a listing the viewer may not see is as unknown as a missing one (404, not 403).
    if reuse is None or not can(current_user, "listing.view", reuse.listing):
        raise NotFound("Diese Nachnutzung gibt es nicht.")
    require(current_user, "reuse.update", reuse)
    listing = reuse.listing
    data = simple_form(request.form, "stage", "note", "reason")
    try:
        reuse_service.change_reuse_stage(session, current_user, reuse, data)
    except Invalid as err:
        return render_listing(listing, 422, reuse_errors=field_errors(err.errors), reuse_input=data)
    flash(f"Die Nachnutzung steht jetzt auf „{reuse.stage_label}“.", "success")
    return redirect(url_for("web.listing_detail", slug=listing.slug) + "#nachnutzung")


@bp.route("/nachnutzungen/vorschlaege/<int:suggestion_id>/bestaetigen", methods=["POST"])
@login_required
def confirm_suggestion(suggestion_id: int):
    """Confirm a reuse suggested by a publiccode.yml: declare it at the chosen stage."""
    session = get_session()
    suggestion = reuse_suggestions.get_suggestion(session, current_user, suggestion_id)
    data = simple_form(request.form, "stage")
    title = suggestion.listing.title
    try:
        reuse = reuse_suggestions.confirm(session, current_user, suggestion, data)
    except Invalid as err:
        field = f"stufe-{suggestion_id}"
        return render_dashboard(422, suggestion_errors={field: err.errors.get("stage") or [
            " ".join(m for msgs in err.errors.values() for m in msgs)]}, suggestion_input={field: data.get("stage")})
    flash(f"Ihre Nachnutzung von „{title}“ ist eingetragen ({reuse.stage_label}). "
          "Die anbietende Kommune wird benachrichtigt.", "success")
    return redirect(url_for("web.dashboard") + "#vorschlaege")


@bp.route("/nachnutzungen/vorschlaege/<int:suggestion_id>/ablehnen", methods=["POST"])
@login_required
def dismiss_suggestion(suggestion_id: int):
    """Dismiss a reuse suggested by a publiccode.yml: the municipality does not use it."""
    session = get_session()
    suggestion = reuse_suggestions.get_suggestion(session, current_user, suggestion_id)
    reuse_suggestions.dismiss(session, current_user, suggestion)
    flash(f"Der Vorschlag zu „{suggestion.listing.title}“ ist abgelehnt und wird nicht erneut gezeigt.", "info")
    return redirect(url_for("web.dashboard") + "#vorschlaege")


@bp.route("/eintraege/<slug>/folgen", methods=["POST"])
@login_required
def follow(slug: str):
    """Follow a listing."""
    session = get_session()
    listing = listing_service.get_listing(session, current_user, slug)
    reuse_service.follow(session, current_user, listing)
    flash("Sie folgen diesem Eintrag und werden über Änderungen informiert.", "success")
    return redirect(url_for("web.listing_detail", slug=listing.slug))


@bp.route("/eintraege/<slug>/entfolgen", methods=["POST"])
@login_required
def unfollow(slug: str):
    """Stop following a listing."""
    session = get_session()
    listing = listing_service.get_listing(session, current_user, slug)
    reuse_service.unfollow(session, current_user, listing)
    flash("Sie folgen diesem Eintrag nicht mehr.", "info")
    return redirect(url_for("web.listing_detail", slug=listing.slug))
