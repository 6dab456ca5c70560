"""Onboarding in real Chromium, JavaScript off: invite → accept, reset the password; axe on the new pages."""

from __future__ import annotations

import email
import os
import re
import uuid

import pytest
from playwright.sync_api import expect

from .conftest import assert_accessible, login

pytestmark = pytest.mark.browser

NEW_PASSWORD = "eigenes-langes-passwort-42"



def _sign_out(page) -> None:
    """Click "Abmelden"; below 60rem it sits in the folded header menu, which opens first."""
    # Decided by the viewport, not by is_visible(): right after a navigation the stylesheet
    # may not apply yet, and the button that is hidden at 1280 px looked visible for a moment.
    if page.viewport_size["width"] < 960:
        page.locator("summary.menu-button").click()
    page.click("header button:has-text('Abmelden')")

def _mail_to(server_env: dict[str, str], address: str) -> email.message.Message:
    """Return the newest e-mail the server wrote for address (development mode writes .eml files)."""
    folder = server_env["MARKTPLATZ_MAIL_DIR"]
    found = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as fh:
            msg = email.message_from_bytes(fh.read())
        if msg["To"] == address:
            found.append(msg)
    assert found, f"no mail to {address}"
    return found[-1]


def _path_in(msg: email.message.Message, prefix: str) -> str:
    body = msg.get_payload(decode=True).decode("utf-8")
    match = re.search(rf"https?://[^/\s]+({prefix}\S+)", body)
    assert match, body
    return match.group(1)


def _invite(page, server_env, address: str, name: str) -> str:
    """Invite address as the Freiburg officer through the form; return the link path of the mail."""
    login(page, "digital@freiburg.example")
    page.goto("/konto/passwort")
    page.click("text=Kolleginnen und Kollegen einladen")
    page.fill("#email", address)
    page.fill("#name", name)
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text(f"Die Einladung an {address} ist verschickt")
    _sign_out(page)
    return _path_in(_mail_to(server_env, address), "/einladung/")


def test_invite_then_accept_without_javascript(new_page, server_env):
    """An officer invites a colleague; the colleague opens the link, sets a password, is signed in."""
    address = f"kollegin-{uuid.uuid4().hex[:6]}@freiburg.example"
    path = _invite(new_page(javascript=False), server_env, address, "Kira Kollegin")
    page = new_page(javascript=False)
    page.goto(path)
    assert "Digitalbeauftragte/r" in page.content() and "Freiburg" in page.content()
    page.fill("#new_password", "kurz")
    page.fill("#repeat_password", "kurz")
    page.click("form.form button[type=submit]")
    expect(page.locator("#new_password")).to_have_attribute("aria-invalid", "true")
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#repeat_password", NEW_PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text("Willkommen, Kira Kollegin")
    _sign_out(page)
    page.goto(path)
    expect(page.locator("body")).to_contain_text("schon angenommen")
    page.goto("/anmelden")
    page.fill("#email", address)
    page.fill("#password", NEW_PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text("Willkommen, Kira Kollegin")
def test_reset_password_without_javascript(new_page, server_env):
    """Forgot → mail → new password; the old password and the other browser's session stop working."""
    address = f"vergesslich-{uuid.uuid4().hex[:6]}@freiburg.example"
    path = _invite(new_page(javascript=False), server_env, address, "Vera Vergesslich")
    first = new_page(javascript=False)
    first.goto(path)
    first.fill("#new_password", NEW_PASSWORD)
    first.fill("#repeat_password", NEW_PASSWORD)
    first.click("form.form button[type=submit]")
    expect(first.locator("body")).to_contain_text("Willkommen")  # stays signed in in this browser

    page = new_page(javascript=False)
    page.goto("/anmelden")
    page.click("text=Passwort vergessen?")
    page.fill("#email", address)
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text(f"Wenn zu {address} ein Konto besteht")
    reset = _path_in(_mail_to(server_env, address), "/passwort-zuruecksetzen/")
    page.goto(reset)
    changed = "noch-ein-neues-passwort-7"
    page.fill("#new_password", changed)
    page.fill("#repeat_password", changed)
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text("Ihr neues Passwort gilt")
    first.goto("/")
    assert "Abmelden" not in first.inner_text("header")  # the other session has ended
    page.goto(reset)
    expect(page.locator("body")).to_contain_text("schon benutzt")
    page.goto("/anmelden")
    page.fill("#email", address)
    page.fill("#password", NEW_PASSWORD)
    page.click("form.form button[type=submit]")
    expect(page.locator("#password")).to_have_attribute("aria-invalid", "true")
    page.fill("#password", changed)
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text("Willkommen, Vera Vergesslich")
@pytest.mark.parametrize("width", [1280, 360])
def test_new_pages_pass_axe_and_fit(new_page, axe_path, server_env, width):
    """Legal pages, the feedback form (also with errors), forgot/reset, invite and accept pass axe."""
    page = new_page(width=width)
    checked = []

    def check(name: str) -> None:
        assert_accessible(page, axe_path, width, name)
        checked.append(name)

    for path in ("/impressum", "/datenschutz", "/barrierefreiheit", "/passwort-vergessen"):
        page.goto(path)
        check(path.strip("/"))
    page.goto("/barrierefreiheit")
    page.fill("#email", "keine-adresse")
    page.click("#rueckmeldung button[type=submit]")
    expect(page.locator("#message")).to_have_attribute("aria-invalid", "true")
    check("barrierefreiheit-fehler")
    page.goto("/passwort-vergessen")
    page.click("form.form button[type=submit]")
    check("passwort-vergessen-fehler")
    login(page, "digital@freiburg.example")
    page.goto("/konto/einladen")
    check("einladen")
    page.click("form.form button[type=submit]")
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    check("einladen-fehler")
    page.fill("#email", f"axe-{width}-{uuid.uuid4().hex[:6]}@freiburg.example")
    page.fill("#name", "Axe Test")
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text("ist verschickt")
    expect(page.locator("#email")).to_have_value("")
    _sign_out(page)
    folder = server_env["MARKTPLATZ_MAIL_DIR"]
    with open(os.path.join(folder, sorted(os.listdir(folder))[-1]), "rb") as fh:
        page.goto(_path_in(email.message_from_bytes(fh.read()), "/einladung/"))
    check("einladung-annehmen")
    page.click("form.form button[type=submit]")
    check("einladung-annehmen-fehler")
    page.goto("/passwort-zuruecksetzen/ungueltig")
    check("passwort-zuruecksetzen-ungueltig")
    page.goto("/passwort-vergessen")
    page.fill("#email", "digital@freiburg.example")  # the link is only opened, the password stays
    page.click("form.form button[type=submit]")
    page.goto(_path_in(_mail_to(server_env, "digital@freiburg.example"), "/passwort-zuruecksetzen/"))
    check("passwort-zuruecksetzen")
    page.click("form.form button[type=submit]")
    expect(page.locator("#new_password")).to_have_attribute("aria-invalid", "true")
    check("passwort-zuruecksetzen-fehler")
    login(page, "admin@marktplatz.example")
    page.goto("/barrierefreiheit/rueckmeldungen")
    check("rueckmeldungen")
    assert len(checked) == 14
