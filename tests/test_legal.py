"""Legal pages: Impressum, Datenschutz, Barrierefreiheit (BITV 2.0) and its feedback form."""

from __future__ import annotations

import email
import os

import pytest
from sqlalchemy import select

from marktplatz import create_app
from marktplatz.models import AccessibilityFeedback, AuditEvent

from . import factories as f

PAGES = {"/impressum": "Impressum", "/datenschutz": "Datenschutzerklärung",
         "/barrierefreiheit": "Erklärung zur Barrierefreiheit"}


def _mails(app) -> list[email.message.Message]:
    folder = app.config["MAIL_DIR"]
    if not os.path.isdir(folder):
        return []
    out = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as fh:
            out.append(email.message_from_bytes(fh.read()))
    return out


@pytest.mark.parametrize("path", ["/", "/eintraege", "/anmelden", "/gibt-es-nicht"])
def test_footer_links_every_legal_page(client, path):
    """The footer of every page, error pages included, links the three legal pages."""
    html = client.get(path).get_data(as_text=True)
    footer = html[html.index('<footer'):]
    for link in ('href="/impressum"', 'href="/datenschutz"', 'href="/barrierefreiheit"'):
        assert link in footer, (path, link)


@pytest.mark.parametrize("path,title", PAGES.items())
def test_example_texts_are_marked_as_examples(client, path, title):
    """Without LEGAL_DIR the shipped texts are shown, marked as examples."""
    resp = client.get(path)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f"<h1>{title}</h1>" in html
    assert "Beispieltext" in html


def test_accessibility_statement_follows_the_bitv_model(client):
    """Status, known gaps, date, feedback and the Schlichtungsstelle link are on the page."""
    html = client.get("/barrierefreiheit").get_data(as_text=True)
    for part in ("Stand der Vereinbarkeit", "Nicht barrierefreie Inhalte", "Erstellung dieser Erklärung",
                 "Barriere melden", 'href="https://www.schlichtungsstelle-bgg.de/"'):
        assert part in html, part
    assert '<form method="post" action="/barrierefreiheit#rueckmeldung"' in html


def test_operator_texts_come_from_legal_dir(tmp_path, backend, database_urls):
    """With LEGAL_DIR set the operator's Markdown is rendered, unmarked; a missing file is a 404."""
    (tmp_path / "legal").mkdir()
    (tmp_path / "legal" / "impressum.md").write_text("# Anbieter\n\nGemeinde Musterhausen\n\n<script>x()</script>",
                                                     encoding="utf-8")
    app = create_app({"DATABASE_URL": database_urls[backend], "SECRET_KEY": "x", "TESTING": True,
                      "INDEX_DIR": str(tmp_path / "i"), "LEGAL_DIR": str(tmp_path / "legal")})
    with app.app_context():
        client = app.test_client()
        resp = client.get("/impressum")
        html = resp.get_data(as_text=True)
        assert resp.status_code == 200
        assert "<h2>Anbieter</h2>" in html and "Gemeinde Musterhausen" in html
        assert "Beispieltext" not in html and "<script>x()" not in html
        missing = client.get("/datenschutz")
        assert missing.status_code == 404 and "noch nicht hinterlegt" in missing.get_data(as_text=True)
    app.extensions["sqlalchemy_engine"].dispose()


def test_feedback_is_stored_audited_and_mailed_to_admins(client, session, app):
    """A valid message is stored, audited and e-mailed to every active admin."""
    admin = f.user(session, "admin", ags=None)
    f.user(session, "officer")
    resp = client.post("/barrierefreiheit", data={
        "name": "Erika Muster", "email": "erika@example.org", "page": "/eintraege",
        "message": "Der Filter lässt sich mit der Tastatur nicht bedienen."})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/barrierefreiheit#rueckmeldung")
    session.expire_all()
    item = session.scalars(select(AccessibilityFeedback)).one()
    assert item.email == "erika@example.org" and item.page == "/eintraege" and item.emailed_at is not None
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "accessibilityfeedback")) \
        == "accessibility_feedback.submit"
    [mail] = _mails(app)
    assert mail["To"] == admin.email and mail["Reply-To"] == "erika@example.org"
    assert "mit der Tastatur nicht bedienen" in mail.get_payload(decode=True).decode("utf-8")


def test_feedback_goes_to_the_configured_address(client, session, app):
    """FEEDBACK_MAIL_TO takes the place of the admins."""
    f.user(session, "admin", ags=None)
    app.config["FEEDBACK_MAIL_TO"] = "barrierefreiheit@betreiber.example"
    client.post("/barrierefreiheit", data={"message": "Kontrast der Hinweise ist zu schwach."})
    [mail] = _mails(app)
    assert mail["To"] == "barrierefreiheit@betreiber.example" and mail["Reply-To"] is None


@pytest.mark.parametrize("data,field", [
    ({"message": "kurz"}, "message"),
    ({"message": ""}, "message"),
    ({"message": "Lange genug beschrieben.", "email": "keine-adresse"}, "email"),
    ({"message": "Lange genug beschrieben.", "email": "a@b.de\r\nBcc: x@y.de"}, "email"),
    ({"message": "Lange genug beschrieben.", "name": "n" * 201}, "name"),
    ({"message": "x" * 5001}, "message"),
])
def test_invalid_feedback_shows_the_error_next_to_the_field(client, session, app, data, field):
    """Invalid input answers 422 with the message at the field; nothing is stored or sent."""
    resp = client.post("/barrierefreiheit", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert f'id="{field}-error"' in html and f'aria-describedby="{field}-error"' in html.replace(
        "message-hint message-error", "message-error")
    session.expire_all()
    assert session.scalars(select(AccessibilityFeedback)).all() == []
    assert _mails(app) == []


def test_feedback_form_needs_the_csrf_token(backend, database_urls, tmp_path):
    """With CSRF on (the default) a post without token is refused."""
    app = create_app({"DATABASE_URL": database_urls[backend], "SECRET_KEY": "x", "INDEX_DIR": str(tmp_path / "i")})
    with app.app_context():
        resp = app.test_client().post("/barrierefreiheit", data={"message": "Lange genug beschrieben."})
        assert resp.status_code == 400
    app.extensions["sqlalchemy_engine"].dispose()


def test_feedback_is_kept_when_the_mail_server_is_down(client, session, app):
    """A failing SMTP server does not lose the message; it waits for the admins on the platform."""
    f.user(session, "admin", ags=None)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=9)  # discard port: connection refused
    resp = client.post("/barrierefreiheit", data={"message": "Vorlesefunktion liest Tabellen falsch."})
    assert resp.status_code == 302
    session.expire_all()
    assert session.scalars(select(AccessibilityFeedback)).one().emailed_at is None


def test_only_admins_see_the_feedback(client, auth, session):
    """Admins read the stored feedback; officers are refused, anonymous users sent to sign in."""
    admin = f.user(session, "admin", ags=None)
    officer = f.user(session, "officer")
    client.post("/barrierefreiheit", data={"message": "Die Schrift lässt sich nicht vergrößern.", "email": ""})
    assert client.get("/barrierefreiheit/rueckmeldungen").status_code == 302
    auth.login(officer.email)
    assert client.get("/barrierefreiheit/rueckmeldungen").status_code == 403
    auth.logout()
    auth.login(admin.email)
    html = client.get("/barrierefreiheit/rueckmeldungen").get_data(as_text=True)
    assert "Die Schrift lässt sich nicht vergrößern." in html and "keine Antwort möglich" in html
