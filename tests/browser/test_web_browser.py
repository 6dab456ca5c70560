"""End-to-end in headless Chromium against gunicorn: publish, approve, reuse; axe; screenshots."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from .conftest import assert_accessible, axe_violations, login, screenshot

pytestmark = pytest.mark.browser

MAIN_PAGES = [
    ("start", "/"),
    ("eintraege", "/eintraege"),
    ("eintraege-gefiltert", "/eintraege?art=dienst&land=08&nachnutzung=1"),
    ("suche-hundesteur", "/eintraege?q=hundesteur"),
    ("suche-gefiltert", "/eintraege?q=hundesteuer&land=08&sortierung=neu"),
    ("kommune-freiburg", "/kommunen/08311000"),
    ("kommune-freiburg-luecken", "/kommunen/08311000/luecken"),
    ("ozg-katalog", "/ozg"),
    ("ozg-10160", "/ozg/10160"),
    ("offene-daten", "/offene-daten"),
    ("anmelden", "/anmelden"),
]


def _approve(server_env: dict[str, str], title: str) -> None:
    """Approve the listing as the ANDI coordinator through the service layer (moderation UI is elsewhere)."""
    from marktplatz import create_app
    from marktplatz.core.db import get_engine, get_session
    from marktplatz.models import Listing, User
    from marktplatz.services import moderation

    app = create_app({"DATABASE_URL": server_env["MARKTPLATZ_DATABASE_URL"], "SECRET_KEY": "x",
                      "INDEX_DIR": server_env["MARKTPLATZ_INDEX_DIR"], "MAIL_DIR": server_env["MARKTPLATZ_MAIL_DIR"]})
    with app.app_context():
        session = get_session()
        listing = session.scalar(select(Listing).where(Listing.title == title))
        coord = session.scalar(select(User).where(User.email == "koordination@andi.example"))
        assert listing is not None and listing.status == "in_review"
        moderation.approve(session, coord, listing, "Passt.")
        session.commit()  # this helper is the edge of its unit of work
        session.close()
        from marktplatz.cli.worker import index_step

        index_step()  # the worker's round, so the next search finds the approved listing
        get_engine().dispose()


def test_publish_approve_reuse_story_without_javascript(new_page, server_env):
    """An officer publishes a service, it is approved, another officer reuses it, the first sees it."""
    title = f"Bewohnerparken online {uuid.uuid4().hex[:6]}"
    page = new_page(javascript=False)
    login(page, "digital@freiburg.example")
    page.goto("/eintraege/neu?art=dienst")
    page.fill("#title", title)
    page.fill("#summary", "Bewohnerparkausweise online beantragen und bezahlen.")
    page.fill("#description", "Mit **Online-Ausweis** und Bezahlung.")
    page.fill("#katalog_suche", "Parkausweise")
    page.click("button[value=katalog_suchen]")
    expect(page.locator("#title")).to_have_value(title)  # input preserved across the picker search
    page.check("#ozg-10173")
    page.select_option("#phase", "live")
    page.select_option("#reifegrad_model", "2.0")
    page.select_option("#reifegrad", "4")
    page.check("#reuse_offered")
    page.fill("#reuse_terms", "Kostenfrei, wir teilen Prozess und Formular.")
    page.click("button[value=einreichen]")
    # The demo already has a Bewohnerparkausweis service: the duplicate step asks for a reason.
    expect(page.locator("body")).to_contain_text("Gibt es das schon?")
    assert page.input_value("#title") == title
    screenshot(page, "eintrag-dublettenhinweis")
    page.fill("#duplicate_override_reason", "Wir binden unser eigenes Parkraumsystem an.")
    page.click("button[value=einreichen]")
    expect(page.locator("body")).to_contain_text("zur Prüfung eingereicht")
    slug = page.url.rstrip("/").split("/")[-1]
    screenshot(page, "eintrag-eingereicht")

    _approve(server_env, title)

    other = new_page(javascript=False)
    login(other, "digital@ettlingen.example")
    other.goto("/eintraege?q=" + title.split()[-1])
    other.click(f"text={title}")
    assert other.url.endswith(f"/eintraege/{slug}")
    other.select_option("#stage", "pilot")
    other.fill("#note", "Wir starten im Bürgerbüro.")
    other.click("button:has-text('Nachnutzung erklären')")
    expect(other.locator("body")).to_contain_text("Ihre Nachnutzung ist eingetragen")
    page.goto("/meine-kommune")
    incoming = page.inner_text("section[aria-labelledby=eingehend]")
    assert "Ettlingen" in incoming and title in incoming and "Pilot" in incoming
    page.goto(f"/eintraege/{slug}")
    assert "Ettlingen" in page.inner_text("#nachnutzung-bereich")
    screenshot(page, "eintrag-mit-nachnutzung")


@pytest.mark.parametrize("name,path", MAIN_PAGES)
def test_public_pages_pass_axe(new_page, axe_path, name, path):
    """Every main public page has zero WCAG 2.1 A/AA violations and a working skip link."""
    page = new_page()
    page.goto(path)
    assert axe_violations(page, axe_path) == []
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    screenshot(page, name)


def test_listing_and_signed_in_pages_pass_axe(new_page, axe_path):
    """Listing page, publish form (also with errors), dashboard pass axe for a signed-in officer."""
    page = new_page()
    login(page, "digital@ettlingen.example")
    page.goto("/eintraege?ozg=10160&nachnutzung=1")
    page.click(".card-title a")
    page.wait_for_url("**/eintraege/*")
    assert axe_violations(page, axe_path) == []
    screenshot(page, "eintrag")
    page.goto("/eintraege/neu?art=komponente")
    assert axe_violations(page, axe_path) == []
    screenshot(page, "veroeffentlichen")
    page.click("button[value=speichern]")
    expect(page.locator("[role=alert]")).to_have_count(1)
    expect(page.locator("#title")).to_have_attribute("aria-invalid", "true")
    assert axe_violations(page, axe_path) == []
    screenshot(page, "veroeffentlichen-fehler")
    page.goto("/meine-kommune")
    assert axe_violations(page, axe_path) == []
    screenshot(page, "meine-kommune")


def test_duplicate_step_passes_axe(new_page, axe_path):
    """The duplicate warning and its missing-reason error are accessible; JS search box works."""
    page = new_page()
    login(page, "digital@bruchsal.example")
    page.goto("/eintraege/neu?art=dienst")
    page.fill("#title", "Hundesteuer online")
    page.fill("#summary", "Hunde online anmelden.")
    page.click("button[value=speichern]")
    expect(page.locator("body")).to_contain_text("Kommunen arbeiten bereits daran")
    assert axe_violations(page, axe_path) == []
    screenshot(page, "veroeffentlichen-dublettenhinweis")
    page.click("button[value=speichern]")
    expect(page.locator("#duplicate_override_reason")).to_have_attribute("aria-invalid", "true")
    assert axe_violations(page, axe_path) == []
    screenshot(page, "veroeffentlichen-dublette-ohne-grund")


def test_autocomplete_on_browse_page(new_page):
    """Typing into the browse page's search box lists suggestions from /suche/vorschlaege."""
    page = new_page()
    page.goto("/eintraege")
    page.type("#q", "Hundest")
    page.wait_for_selector("#q-vorschlaege li a")
    assert "Hundesteuer" in page.inner_text("#q-vorschlaege")


def test_every_main_page_fits_360_pixels_and_passes_axe(new_page, axe_path):
    """No main page scrolls sideways at 360 px, public or signed in (officer, coordinator)."""
    page = new_page(width=360)
    for name, path in MAIN_PAGES + [("netzwerke", "/netzwerke"), ("api-doku", "/api/v1/docs")]:
        page.goto(path)
        assert_accessible(page, axe_path, 360, name)
    login(page, "digital@freiburg.example")
    for name, path in [("meine-kommune", "/meine-kommune"), ("veroeffentlichen", "/eintraege/neu"),
                       ("api-tokens", "/konto/api-tokens"), ("webhooks", "/kommune/webhooks")]:
        page.goto(path)
        assert_accessible(page, axe_path, 360, name)
    page.goto("/eintraege?ozg=10160&nachnutzung=1")
    page.click(".card-title a")
    page.wait_for_url("**/eintraege/*")
    assert_accessible(page, axe_path, 360, "eintrag")
    coordinator = new_page(width=360)
    login(coordinator, "koordination@andi.example")
    for name, path in [("pruefung", "/pruefung"), ("statistik", "/pruefung/dashboard")]:
        coordinator.goto(path)
        assert_accessible(coordinator, axe_path, 360, name)


def test_header_menu_folds_behind_a_button_without_javascript(new_page):
    """At 360 px the menu is one button that opens the list; at 1280 px the list shows at once."""
    small = new_page(width=360, javascript=False)
    small.goto("/")
    link = small.locator("nav[aria-label=Hauptnavigation] a", has_text="OZG-Katalog")
    assert not link.is_visible()
    header = small.evaluate("document.querySelector('.site-header').getBoundingClientRect().height")
    assert header < 120, header
    small.click("summary.menu-button")
    assert link.is_visible()
    assert small.evaluate("document.documentElement.scrollWidth") <= 360  # axe needs JavaScript
    screenshot(small, "menue-offen-360px")
    link.click()
    assert small.url.endswith("/ozg")
    wide = new_page(width=1280, javascript=False)
    wide.goto("/")
    assert not wide.locator("summary.menu-button").is_visible()
    assert wide.locator("nav[aria-label=Hauptnavigation] a", has_text="OZG-Katalog").is_visible()


def test_ozg_10160_matrix_shows_the_dog_tax_story(new_page):
    """With demo data /ozg/10160 lists the dog-tax efforts and the two reusers."""
    page = new_page()
    page.goto("/ozg/10160")
    rows = page.locator("table.matrix tbody tr")
    text = page.inner_text("table.matrix")
    assert rows.count() >= 15
    assert "Ettlingen" in text and "Konstanz" in text
    assert re.search(r"Nachnutzung von Freiburg", text)


@pytest.mark.parametrize("width", [1280, 360])
def test_filters_apply_at_once_keep_counts_and_fold_on_small_screens(new_page, axe_path, width):
    """With JavaScript a choice applies at once (clean URL, focus kept); the facet keeps its
    other options; on a small screen the filters fold under the result count."""
    page = new_page(width=width)
    page.goto("/eintraege")
    first_card = page.locator(".card").first
    if width == 360:
        assert not page.locator("#filter fieldset").first.is_visible()  # folded: results come first
        assert first_card.bounding_box()["y"] < 900, "the first result is below the first screen"
        page.click("details#filter > summary")
    else:
        assert not page.locator("details#filter > summary").is_visible()  # always open on wide screens
    expect(page.locator("#filter .apply-filters")).to_be_hidden()  # JavaScript applies at once
    page.check("#filter input[name=art][value=dienst]")
    page.wait_for_url(re.compile(r"/eintraege\?art=dienst$"))
    expect(page.locator("input[name=art][value=dienst]")).to_be_checked()
    expect(page.locator("input[name=art][value=dienst]")).to_be_focused()
    expect(page.locator("details#filter > summary")).to_contain_text("Filter (1)")
    assert page.locator("input[name=art][value=komponente]").count() == 1  # the other kinds stay
    page.check("input[name=art][value=komponente]")
    page.wait_for_url(re.compile(r"/eintraege\?art=dienst&art=komponente$"))
    expect(page.locator("#treffer")).to_contain_text("gefunden")
    assert axe_violations(page, axe_path) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"eintraege-filter-{width}px")


def test_filters_without_javascript_one_button_and_a_clean_url(new_page):
    """Without JavaScript: open the folded filters, choose, "Anzeigen"; the URL has no empty fields."""
    page = new_page(width=360, javascript=False)
    page.goto("/eintraege")
    page.click("details#filter > summary")
    page.check("input[name=land][value='08']")
    page.check("input[name=nachnutzung]")
    page.click("#filter .apply-filters")
    page.wait_for_url(re.compile(r"/eintraege\?land=08&nachnutzung=1"))
    assert "q=" not in page.url and "ozg=" not in page.url
    expect(page.locator("input[name=land][value='08']")).to_be_checked()


def _import_with_used_by(server_env: dict[str, str], used_by: list[str]) -> str:
    """Import and publish a Freiburg component whose publiccode.yml names used_by; return its slug."""
    from pathlib import Path

    import yaml

    from marktplatz import create_app
    from marktplatz.core.db import get_engine, get_session
    from marktplatz.models import User
    from marktplatz.services import listings, moderation, publiccode

    minimal = Path(__file__).parents[1] / "fixtures" / "publiccode" / "_official_example_v0.7__publiccode.minimal.yml"
    data = yaml.safe_load(minimal.read_text(encoding="utf-8"))
    data["url"] = f"https://example.org/git/usedby-{uuid.uuid4().hex[:6]}"
    data["usedBy"] = used_by
    app = create_app({"DATABASE_URL": server_env["MARKTPLATZ_DATABASE_URL"], "SECRET_KEY": "x",
                      "INDEX_DIR": server_env["MARKTPLATZ_INDEX_DIR"], "MAIL_DIR": server_env["MARKTPLATZ_MAIL_DIR"]})
    with app.app_context():
        session = get_session()
        owner = session.scalar(select(User).where(User.email == "digital@freiburg.example"))
        coord = session.scalar(select(User).where(User.email == "koordination@andi.example"))
        listing, _result, _warnings = publiccode.import_publiccode(
            session, owner, owner.organisation, yaml.safe_dump(data, allow_unicode=True))
        listings.submit_for_review(session, owner, listing)
        moderation.approve(session, coord, listing, "Passt.")
        slug = listing.slug
        session.commit()  # this helper is the edge of its unit of work
        session.close()
        get_engine().dispose()
    return slug


def test_usedby_suggestion_confirmed_without_javascript_and_accessible(new_page, axe_path, server_env):
    """Bruchsal sees the suggestion from a publiccode.yml, the pages pass axe, it confirms without JavaScript."""
    slug = _import_with_used_by(server_env, ["Stadt Bruchsal", "Comune di Roma"])
    page = new_page()
    page.goto(f"/eintraege/{slug}")
    used_by = page.inner_text("#nachnutzung-bereich")
    assert "Laut publiccode.yml genutzt von" in used_by and "Comune di Roma" in used_by
    assert "noch nicht bestätigt" in used_by
    assert axe_violations(page, axe_path) == []
    officer = new_page()
    login(officer, "digital@bruchsal.example")
    officer.goto("/meine-kommune")
    section = officer.locator("section[aria-labelledby=vorschlaege]")
    expect(section).to_contain_text("Stadt Bruchsal")
    assert axe_violations(officer, axe_path) == []
    screenshot(officer, "meine-kommune-vorschlaege")
    plain = new_page(javascript=False)
    login(plain, "digital@bruchsal.example")
    plain.goto("/meine-kommune")
    item = plain.locator("section[aria-labelledby=vorschlaege] li").filter(has=plain.locator(f"a[href='/eintraege/{slug}']"))
    item.locator("select").select_option("pilot")
    item.locator("button", has_text="Nachnutzung bestätigen").click()
    expect(plain.locator("body")).to_contain_text("Ihre Nachnutzung von")
    plain.goto(f"/eintraege/{slug}")
    assert "Bruchsal" in plain.inner_text("#nachnutzung-bereich ul.timeline-list")
