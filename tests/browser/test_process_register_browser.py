"""Process register in Chromium as Bad Salzuflen's officer, without JavaScript: import a
spreadsheet (a bad one first), see the Lippe network's priorities, go from the top gap to a
declared reuse. axe and 360 px on each new page (issue 19 done-when)."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from marktplatz.schemas.process import COLUMNS

from .conftest import assert_accessible, login

pytestmark = pytest.mark.browser

OFFICER = "digital@bad-salzuflen.example"


def _xlsx(*rows: dict) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append([c.header for c in COLUMNS])
    for r in rows:
        ws.append([r.get(c.name) for c in COLUMNS])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


DOG = {"process_key": "20-05", "name": "Hund an- und abmelden (Hundesteuer)", "ozg_id": 10160,
       "unit": "Steueramt", "cases": 5200, "cases_year": 2025, "channel": "Nur analog",
       "own_statute": "ja", "statute_ref": "Hundesteuersatzung", "priority": 1}


def _check(page, axe_path: str, name: str) -> None:
    """axe and 360 px on the page's URL, in a page with JavaScript (axe needs it)."""
    assert_accessible(page, axe_path, 1280, name)
    page.set_viewport_size({"width": 360, "height": 900})
    assert_accessible(page, axe_path, 360, name)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_import_network_priorities_gap_and_reuse_without_javascript(new_page, axe_path):
    page = new_page(javascript=False)
    login(page, OFFICER)
    page.click("header >> text=Prozessregister")
    page.click("text=Register von Bad Salzuflen öffnen")
    expect(page.locator("h1")).to_contain_text("Prozessregister Bad Salzuflen")
    page.click("text=Aus Tabelle importieren")

    # A bad file: nothing is taken, each error names its line and field.
    page.set_input_files("#datei", files=[{"name": "register.xlsx", "mimeType": "application/octet-stream",
                                           "buffer": _xlsx(DOG, {**DOG, "process_key": "x", "channel": "Fax"})}])
    page.click("form.form button[type=submit]")
    expect(page.locator("#fehler")).to_contain_text("Zeile 3, Heutiger Kanal")
    page.set_input_files("#datei", files=[{"name": "register.xlsx", "mimeType": "application/octet-stream",
                                           "buffer": _xlsx(DOG)}])
    page.click("form.form button[type=submit]")
    expect(page.locator("body")).to_contain_text("Import abgeschlossen: 0 neu, 1 geändert")
    expect(page.locator("#inhalt, main").first).to_contain_text("5.200")
    register_url = page.url

    # The network's priorities: the dog tax with Freiburg's reusable solution.
    page.goto("/netzwerke/lippe-digital")
    page.click("text=Prozessregister der Mitglieder")
    expect(page.locator("h1")).to_contain_text("Wo sich Digitalisieren lohnt")
    expect(page.locator("table").first).to_contain_text("Hundehaltung")
    expect(page.locator("table").first).to_contain_text("Hundesteuer-Anmeldung online")
    network_url = page.url

    # From the top gap to a declared reuse, one click.
    page.goto(register_url)
    page.click("text=Lücken mit nachnutzbaren Lösungen")
    first = page.locator("section.box").first
    expect(first).to_contain_text("Hund an- und abmelden")
    gaps_url = page.url
    first.locator("button", has_text="Nachnutzung erklären").first.click()
    expect(page.locator("body")).to_contain_text("Ihre Nachnutzung ist eingetragen")
    expect(page.locator("#nachnutzung-bereich")).to_contain_text("Bad Salzuflen")

    checker = new_page()
    login(checker, OFFICER)
    for url, name in ((register_url, "prozessregister"), (network_url, "prozess-prioritaeten"),
                      (gaps_url, "prozess-luecken"), (register_url.replace("/prozesse", "/prozesse/import"),
                                                      "prozessregister-import")):
        checker.goto(url)
        _check(checker, axe_path, name)
    checker.goto(gaps_url)
    expect(checker.locator("section.box").first).to_contain_text("Ihre Nachnutzung: Interessiert")
