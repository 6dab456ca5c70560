"""Web pages: API tokens of the own municipality and publiccode.yml upload."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_login import current_user, login_required

from ...core.db import get_session
from ...core.outbound import Policy
from ...services import publiccode, tokens
from ...services.common import require
from ...services.errors import Invalid
from .confirm import confirm_page, confirmed

bp = Blueprint("tokens", __name__)


def _organisation():
    org = current_user.organisation
    if org is None:
        from ...services.errors import Forbidden

        raise Forbidden("Ihr Konto ist keiner Kommune zugeordnet.")
    require(current_user, "organisation.manage_tokens", org)
    return org


def _parse_expiry(value: str) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as err:
        raise Invalid({"expires_at": ["Bitte ein Datum im Format JJJJ-MM-TT angeben."]}) from err
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


# The new secret crosses one redirect in the signed, HttpOnly session cookie and is removed
# by the page that shows it: reloading that page neither shows it again nor makes a token.
_NEW_SECRET = "new_token_secret"


@bp.route("/konto/api-tokens", methods=["GET", "POST"])
@login_required
def index():
    """List the municipality's API tokens and create a new one (its secret is shown once)."""
    session = get_session()
    org = _organisation()
    errors: dict = {}
    secret = flask_session.pop(_NEW_SECRET, None) if request.method == "GET" else None
    form = {"name": "", "scope": "read", "expires_at": ""}
    if request.method == "POST":
        form = {k: request.form.get(k, form[k]) for k in form}
        scopes = ["read", "write"] if form["scope"] == "write" else ["read"]
        try:
            try:
                expires_at = _parse_expiry(form["expires_at"])
            except Invalid as err:  # every error in one round, the date's with the others
                raise Invalid({**tokens.token_input_errors(form["name"], scopes, None), **err.errors}) from err
            token, secret = tokens.create_token(session, current_user, org, form["name"], scopes, expires_at)
        except Invalid as err:
            errors = err.errors
        else:
            flask_session[_NEW_SECRET] = secret
            flash(f"Der Token „{token.name}“ ist angelegt.", "success")
            return redirect(url_for("tokens.index") + "#secret-title", 303)
    items = tokens.list_tokens(session, current_user, org)
    status = 422 if errors else 200
    return render_template(
        "tokens/index.html", organisation=org, tokens=items, errors=errors, secret=secret,
        form=form, token_status=tokens.token_status, scopes=tokens.SCOPES,
    ), status


@bp.route("/konto/api-tokens/<int:token_id>/widerrufen", methods=["POST"])
@login_required
def revoke(token_id: int):
    """Confirm, then revoke a token of the own municipality."""
    session = get_session()
    if not confirmed():
        token = tokens.token_for(session, current_user, token_id)
        if token.revoked_at is not None:
            flash(f"Der Token {token.prefix} ist bereits widerrufen.", "info")
            return redirect(url_for("tokens.index"))
        used = token.last_used_at.strftime("%d.%m.%Y") if token.last_used_at else "noch nie"
        return confirm_page(
            f"Token „{token.name}“ widerrufen?",
            [f"Der Token {token.prefix}… („{token.name}“, zuletzt benutzt: {used}) gilt sofort nicht mehr. "
             "Jedes System, das ihn verwendet, erhält ab dann 401 und kann nicht mehr synchronisieren.",
             "Ein Widerruf lässt sich nicht rückgängig machen; legen Sie bei Bedarf einen neuen Token an."],
            f"Ja, Token „{token.name}“ widerrufen", url_for("tokens.revoke", token_id=token_id),
            url_for("tokens.index"), "Abbrechen, zurück zu den API-Tokens")
    token = tokens.revoke_token(session, current_user, token_id)
    flash(f"Der Token {token.prefix} wurde widerrufen.", "success")
    return redirect(url_for("tokens.index"))


@bp.route("/konto/publiccode", methods=["GET", "POST"])
@login_required
def publiccode_upload():
    """Import a publiccode.yml (file upload or repository address) as a component."""
    session = get_session()
    org = _organisation()
    errors: dict = {}
    url = ""
    if request.method == "POST":
        upload = request.files.get("file")
        url = (request.form.get("url") or "").strip()
        try:
            if upload and upload.filename:
                listing, result, warnings = publiccode.import_publiccode(
                    session, current_user, org, upload.read(publiccode.MAX_BYTES + 1)
                )
            elif url:
                listing, result, warnings = publiccode.fetch_and_import(
                    session, current_user, org, url, Policy.from_config(current_app.config)
                )
            else:
                raise Invalid({"file": ["Bitte eine Datei wählen oder eine Adresse angeben."]})
        except Invalid as err:
            errors = err.errors
        else:
            labels = {"created": "angelegt", "updated": "aktualisiert", "unchanged": "unverändert"}
            return render_template("tokens/publiccode.html", errors={}, url="", listing=listing,
                                   result=labels.get(result, result), warnings=warnings)
    return render_template("tokens/publiccode.html", errors=errors, url=url), (422 if errors else 200)
