"""Sign-in, sign-out and password change (Flask-Login, CSRF via Flask-WTF)."""

from __future__ import annotations

from urllib.parse import urlsplit

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
from flask_login import current_user, login_required, login_user, logout_user

from ...core.db import get_session, keep_despite_error_status
from ...core.extensions import limiter, login_manager
from ...services import accounts
from ...services.errors import Invalid, TooManyAttempts

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(ident: str):
    return accounts.load_user(get_session(), ident)


def _safe_next(target: str | None, default: str | None = None) -> str:
    """Return target if it is a local path, else default or the start page (no open redirects).

    Control characters (CR/LF, NUL) are refused: they would split or end the Location header.
    """
    if (target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc
            and not any(ord(c) < 32 or ord(c) == 127 for c in target) and "\\" not in target):
        return target
    return default or url_for("web.index")


@bp.route("/anmelden", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    """Show the sign-in form and sign the user in."""
    errors: dict[str, list[str]] = {}
    email = request.args.get("email", "")[:254]
    waiting = False
    if request.method == "POST":
        email = request.form.get("email", "")
        user = None
        try:
            user = accounts.authenticate(
                get_session(),
                email,
                request.form.get("password", ""),
                request.remote_addr,
                accounts.LoginPolicy.from_config(current_app.config),
            )
        except TooManyAttempts as err:
            errors = {"password": [err.message]}
            waiting = True
        else:
            if user is None:
                keep_despite_error_status()  # the failure counter must stick
                errors = {"password": ["E-Mail-Adresse oder Passwort ist falsch."]}
        if user is not None and not errors:
            # A fresh session on sign-in prevents session fixation.
            session.clear()
            login_user(user, remember=False)
            flash(f"Willkommen, {user.name}!", "success")
            # Without a (safe) next, an officer's day starts at "Meine Kommune".
            return redirect(_safe_next(request.args.get("next") or request.form.get("next"),
                                       url_for("web.dashboard")))
    # flask-limiter sets Retry-After on its own (its window); the wait is named in the message.
    status = 429 if waiting else 422 if errors else 200
    return render_template("auth/login.html", errors=errors, email=email), status


@bp.route("/abmelden", methods=["POST"])
def logout():
    """Sign the user out and end the session on the server (a copied cookie stops working)."""
    if current_user.is_authenticated:
        accounts.end_sessions(get_session(), current_user._get_current_object())
    logout_user()
    session.clear()
    flash("Sie sind abgemeldet.", "info")
    return redirect(url_for("web.index"))


@bp.route("/konto/passwort", methods=["GET", "POST"])
@login_required
def change_password():
    """Change the signed-in user's password."""
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            accounts.change_password(
                get_session(),
                current_user,
                request.form.get("current_password", ""),
                request.form.get("new_password", ""),
                request.form.get("repeat_password", ""),
            )
        except Invalid as err:
            errors = err.errors
        else:
            session.clear()
            login_user(current_user._get_current_object())
            flash("Ihr Passwort wurde geändert.", "success")
            return redirect(url_for("web.index"))
    return render_template("auth/password.html", errors=errors), 422 if errors else 200


def _typed_address() -> str:
    """Key the reset rate limit by the address as typed, so one inbox is not flooded."""
    return "reset:" + (request.form.get("email", "") or "").strip().lower()[:254]


def private_page(resp):
    """Keep a page whose URL holds a token out of caches and Referer headers."""
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def external_url(endpoint: str, **values) -> str:
    """Return the absolute URL of endpoint under BASE_URL (the address the e-mail links to)."""
    return current_app.config["BASE_URL"].rstrip("/") + url_for(endpoint, **values)


@bp.route("/passwort-vergessen", methods=["GET", "POST"])
@limiter.limit("10 per minute", methods=["POST"])
@limiter.limit("5 per hour", methods=["POST"], key_func=_typed_address)
def forgot_password():
    """Ask for a reset link; the answer is the same whether or not the address is known."""
    errors: dict[str, list[str]] = {}
    email = request.form.get("email", "") if request.method == "POST" else request.args.get("email", "")[:254]
    if request.method == "POST":
        if "@" not in email.strip() or len(email.strip()) > 254:
            errors = {"email": ["Bitte Ihre E-Mail-Adresse angeben, z. B. name@kommune.de."]}
        else:
            accounts.request_password_reset(
                get_session(), current_app.config, email,
                lambda token: external_url("auth.reset_password", token=token))
            minutes = int(current_app.config["PASSWORD_RESET_SECONDS"]) // 60
            flash(f"Wenn zu {email.strip()} ein Konto besteht, haben wir dorthin einen Link geschickt. "
                  f"Er ist {minutes} Minuten gültig. Bitte sehen Sie auch im Spam-Ordner nach.", "info")
            return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", errors=errors, email=email), 422 if errors else 200


@bp.route("/passwort-zuruecksetzen/<token>", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def reset_password(token: str):
    """Set a new password through the link from the e-mail."""
    errors: dict[str, list[str]] = {}
    db = get_session()
    try:
        user = accounts.user_for_reset(db, current_app.config, token)
    except Invalid as err:
        return private_page(current_app.make_response(
            (render_template("auth/reset.html", link_error=err.errors["token"][0]), 400)))
    if request.method == "POST":
        try:
            accounts.reset_password(db, current_app.config, token, request.form.get("new_password", ""),
                                    request.form.get("repeat_password", ""))
        except Invalid as err:
            errors = err.errors
        else:
            if current_user.is_authenticated:
                logout_user()
            session.clear()
            flash("Ihr neues Passwort gilt. Alle bisherigen Anmeldungen sind beendet. Bitte melden Sie sich an.",
                  "success")
            return redirect(url_for("auth.login", email=user.email))
    return private_page(current_app.make_response(
        (render_template("auth/reset.html", errors=errors, user=user), 422 if errors else 200)))

