"""Legal pages: Impressum, Datenschutzerklärung, Erklärung zur Barrierefreiheit with feedback."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ...core.db import get_session
from ...core.extensions import limiter
from ...services import legal
from ...services.errors import Invalid
from .forms import simple_form

bp = Blueprint("legal", __name__)

FEEDBACK_FIELDS = ("name", "email", "page", "message")


@bp.route("/impressum")
def impressum():
    """Show the operator's Impressum."""
    return render_template("legal/page.html", page=legal.legal_page(current_app.config, "impressum"))


@bp.route("/datenschutz")
def datenschutz():
    """Show the operator's privacy statement."""
    return render_template("legal/page.html", page=legal.legal_page(current_app.config, "datenschutz"))


@bp.route("/barrierefreiheit", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
def barrierefreiheit():
    """Show the accessibility statement and take feedback through its form."""
    page = legal.legal_page(current_app.config, "barrierefreiheit")
    errors: dict[str, list[str]] = {}
    values = {name: "" for name in FEEDBACK_FIELDS}
    if request.method == "GET":
        values["page"] = request.args.get("seite", "")[:500]
    else:
        values = simple_form(request.form, *FEEDBACK_FIELDS)
        try:
            legal.submit_feedback(get_session(), current_app.config, current_user, values)
        except Invalid as err:
            errors = err.errors
        else:
            flash("Vielen Dank! Ihre Rückmeldung ist angekommen. Wenn Sie eine E-Mail-Adresse "
                  "angegeben haben, antworten wir Ihnen.", "success")
            return redirect(url_for("legal.barrierefreiheit") + "#rueckmeldung")
    return render_template("legal/page.html", page=page, feedback=True, errors=errors,
                           values=values), 422 if errors else 200


@bp.route("/barrierefreiheit/rueckmeldungen")
@login_required
def feedback_list():
    """Show the accessibility feedback received (admins)."""
    items, total = legal.list_feedback(get_session(), current_user)
    return render_template("legal/feedback.html", items=items, total=total)
