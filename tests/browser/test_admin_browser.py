"""Access request and administration in real Chromium, JavaScript off for the main paths; axe on every new page."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from .conftest import DEMO_PASSWORD, assert_accessible, login
from .test_onboarding_browser import _mail_to, _path_in

pytestmark = pytest.mark.browser

NEW_PASSWORD = "gruene-wiese-passwort-42"


def _request_access(page, address: str, name: str) -> None:
    """Fill the request form; an ambiguous "Freiburg" needs a choice from the list (no JavaScript)."""
    page.goto("/anmelden")
    page.click("text=Zugang beantragen")
    page.fill("#kommune", "Freiburg")
    page.fill("#name", name)
    page.fill("#email", address)
    page.click("form.form button[type=submit]")
    expect(page.locator("#kommune")).to_have_attribute("aria-invalid", "true")
    assert page.input_value("#email") == address  # what was typed stays
    page.check("#ags-08311000")
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text(f"Danke! Wir haben an {address} eine E-Mail geschickt")
def test_request_access_confirm_approve_set_password_sign_in_without_javascript(new_page, server_env):
    """The whole path of a municipality that has never been on the platform, in a browser without JavaScript:
    request access, confirm, approval, set the password, sign in, publish, review, published."""
    address = f"antrag-{uuid.uuid4().hex[:6]}@freiburg.de"
    person = new_page(javascript=False)
    _request_access(person, address, "Anna Antrag")
    person.goto(_path_in(_mail_to(server_env, address), "/zugang-beantragen/bestaetigen/"))
    expect(person.locator("body")).to_contain_text("Freiburg im Breisgau")
    person.click("form.form button[type=submit]")
    expect(person.locator("body")).to_contain_text("Ihre E-Mail-Adresse ist bestätigt")
    decider = new_page(javascript=False)
    login(decider, "admin@marktplatz.example")
    decider.goto("/admin/")
    decider.click("text=Zugangsanträge")
    decider.click("text=Anna Antrag")
    expect(decider.locator("body")).to_contain_text("Ja: freiburg.de gehört zur Website freiburg.de")
    decider.click("text=Annehmen und Konto anlegen")
    expect(decider.locator("body")).to_contain_text(f"Das Konto für {address} ist angelegt")
    person.goto(_path_in(_mail_to(server_env, address), "/konto-einrichten/"))
    person.fill("#new_password", NEW_PASSWORD)
    person.fill("#repeat_password", NEW_PASSWORD)
    person.click("form.form button[type=submit]")
    expect(person.locator("body")).to_contain_text("Ihr Passwort ist festgelegt")
    assert person.input_value("#email") == address
    person.fill("#password", NEW_PASSWORD)
    person.click("form.form button[type=submit]")
    expect(person.locator("body")).to_contain_text("Willkommen, Anna Antrag")
    expect(person.locator("header")).to_contain_text("Meine Kommune")  # text, not layout: no menu state

    # The new officer publishes; the network's coordinator reviews; everyone sees it.
    title = f"Baumpatenschaft Zq{uuid.uuid4().hex[:5]} vermitteln"
    person.goto("/eintraege/neu")
    person.fill("#title", title)
    person.fill("#summary", "Bürgerinnen und Bürger übernehmen die Pflege eines Stadtbaums.")
    person.click("button[value=einreichen]")
    if person.locator("#duplicate_override_reason").count():  # the duplicate step, if anything resembles it
        person.fill("#duplicate_override_reason", "Eigenes Verfahren der Stadt.")
        person.click("button[value=einreichen]")
    expect(person.locator("body")).to_contain_text("zur Prüfung eingereicht")
    slug = person.url.rsplit("/", 1)[-1]
    coordinator = new_page(javascript=False)
    login(coordinator, "koordination@andi.example")
    coordinator.goto("/pruefung")
    coordinator.click(f"text={title}")
    coordinator.click("button[value=freigeben]")
    expect(coordinator.locator("body")).to_contain_text("freigegeben und veröffentlicht")
    anonymous = new_page(javascript=False)
    anonymous.goto(f"/eintraege/{slug}")
    assert title in anonymous.inner_text("main") and "Freiburg" in anonymous.inner_text("main")


def test_admin_user_pages_without_javascript(new_page):
    """Filter the users, open one, deactivate after the confirmation page, reactivate."""
    page = new_page(javascript=False)
    login(page, "admin@marktplatz.example")
    page.goto("/admin/")
    page.click("text=Benutzerinnen und Benutzer")
    page.fill("#q", "lemgo")
    page.select_option("#rolle", "officer")
    page.click("form.filters button[type=submit]")
    expect(page.locator("main")).to_contain_text("digital@lemgo.example")
    expect(page.locator("main")).not_to_contain_text("digital@freiburg.example")
    page.click("text=Carsten Meier")
    page.click("text=Konto deaktivieren …")
    expect(page.locator("body")).to_contain_text("kann sich danach nicht mehr anmelden")
    page.fill("#comment", "Browsertest")
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text("ist deaktiviert")
    other = new_page(javascript=False)
    other.goto("/anmelden")
    other.fill("#email", "digital@lemgo.example")
    other.fill("#password", DEMO_PASSWORD)
    other.click("form.form button[type=submit]")
    expect(other.locator("#password")).to_have_attribute("aria-invalid", "true")
    page.click("text=Konto wieder aktivieren")
    expect(page.locator("body")).to_contain_text("ist wieder aktiv")
    page.goto("/admin/protokoll?aktion=user.deactivated")
    expect(page.locator("body")).to_contain_text("Browsertest")
def test_admin_network_pages_without_javascript(new_page):
    """Create, warn on a taken name, rename, archive and restore, delete the empty network."""
    page = new_page(javascript=False)
    login(page, "admin@marktplatz.example")
    name = f"Testnetz {uuid.uuid4().hex[:6]}"
    page.goto("/netzwerke")
    page.fill("#name", name)
    page.click("button:has-text('Netzwerk anlegen')")
    page.click("text=Netzwerk verwalten (bearbeiten, archivieren, löschen)")
    page.fill("#name", "ANDI – Agiles Netzwerk Digitale Innovation")
    page.click("text=Netzwerk speichern")
    expect(page.locator("body")).to_contain_text("gibt es schon")
    expect(page.locator("#name")).to_have_attribute("aria-invalid", "true")
    page.fill("#name", name + " neu")
    page.click("text=Netzwerk speichern")
    expect(page.locator("body")).to_contain_text("ist gespeichert")
    page.click("text=Netzwerk archivieren …")
    expect(page.locator("body")).to_contain_text("verschwindet aus der Netzwerkübersicht")
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text("ist archiviert")
    page.click("text=Archivieren aufheben")
    expect(page.locator("body")).to_contain_text("ist wieder aktiv")
    page.click("text=Netzwerk endgültig löschen …")
    expect(page.locator("body")).to_contain_text("lässt sich nicht rückgängig machen")
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text(f"Das Netzwerk „{name} neu“ ist gelöscht")
@pytest.mark.parametrize("width", [1280, 360])
def test_access_and_admin_pages_pass_axe_and_fit(new_page, axe_path, server_env, width):
    """Every new page, with and without errors, passes axe (WCAG 2.1 A/AA) and fits the width."""
    page = new_page(width=width)
    checked = []

    def check(name: str) -> None:
        assert_accessible(page, axe_path, width, name)
        checked.append(name)

    page.goto("/zugang-beantragen")
    check("zugang-beantragen")
    page.click("form.form button[type=submit]")
    check("zugang-beantragen-fehler")
    address = f"axe-{width}-{uuid.uuid4().hex[:6]}@example.org"
    page.fill("#kommune", "Frei")
    page.fill("#name", "Axe Antrag")
    page.fill("#email", address)
    page.click("form.form button[type=submit]")
    check("zugang-beantragen-auswahl")
    page.check("#ags-08311000")
    page.click("form.form button[type=submit]")
    page.goto(_path_in(_mail_to(server_env, address), "/zugang-beantragen/bestaetigen/"))
    check("zugang-bestaetigen")
    page.click("form.form button[type=submit]")
    page.goto("/zugang-beantragen/bestaetigen/ungueltig")
    check("zugang-bestaetigen-ungueltig")
    page.goto("/konto-einrichten/ungueltig")
    check("konto-einrichten-ungueltig")

    login(page, "admin@marktplatz.example")
    page.goto("/zugangsantraege")
    check("zugangsantraege")
    page.click("text=Axe Antrag")
    check("zugangsantrag")
    page.click("text=Antrag ablehnen …")
    check("zugangsantrag-ablehnen")
    page.click("form.form button[type=submit]")
    check("zugangsantrag-ablehnen-fehler")
    page.fill("#reason", "Bitte mit der dienstlichen Adresse beantragen.")
    page.click("form.form button[type=submit]")

    for path in ("/admin/", "/admin/benutzer", "/admin/benutzer?rolle=officer&status=aktiv", "/admin/netzwerke",
                 "/admin/netzwerke/andi", "/admin/netzwerke/andi/archivieren", "/admin/kommunen",
                 "/admin/kommunen?q=Frei", "/admin/kommunen/08311000", "/admin/referenzdaten", "/admin/protokoll",
                 "/admin/protokoll?von=kein-datum"):
        page.goto(path)
        check(path)
    page.goto("/admin/benutzer?q=digital@lemgo.example")
    page.click("text=Carsten Meier")
    check("admin-benutzer-konto")
    page.select_option("#role", "coordinator")
    page.click("text=Rolle und Zuordnung speichern")
    expect(page.locator("#network_ids")).to_have_attribute("aria-describedby", "network_ids-error")
    check("admin-benutzer-konto-fehler")
    page.click("text=Konto deaktivieren …")
    check("admin-benutzer-deaktivieren")
    page.goto("/admin/kommunen/08311000")
    page.fill("#website", "keine adresse")
    page.click("text=Kontakt speichern")
    check("admin-kommune-fehler")
    page.goto("/netzwerke")
    page.fill("#name", f"Axe-Netz {width} {uuid.uuid4().hex[:4]}")
    page.click("button:has-text('Netzwerk anlegen')")
    page.click("text=Netzwerk verwalten (bearbeiten, archivieren, löschen)")
    page.click("text=Netzwerk endgültig löschen …")
    check("admin-netzwerk-loeschen")
    page.click("form.form button[type=submit]")
    assert len(checked) == 27
