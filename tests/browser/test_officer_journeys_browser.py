"""The officer's journeys in real Chromium at 1280 and 360 px: reuse first (find, duplicate box,
one-click reuse, the owner is notified) and the archive and restore of one's own listing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, text

from .conftest import assert_accessible, login

pytestmark = pytest.mark.browser

# Each width signs in as another municipality: the live server is shared by the tests of a worker,
# and a municipality declares its reuse of a listing once.
REUSERS = {1280: ("digital@mannheim.example", "Mannheim"), 360: ("digital@heidelberg.example", "Heidelberg")}


@pytest.mark.parametrize("width", [1280, 360])
def test_reuse_first_from_the_duplicate_box_in_one_click(new_page, axe_path, width):
    """'I want to build a dog-tax service': the duplicate box puts Freiburg's offer first, shows
    the officer's own listing apart, and one click declares the reuse; Freiburg is told."""
    email, town = REUSERS[width]
    page = new_page(width=width)
    login(page, email)
    page.goto("/eintraege/neu?art=dienst")
    page.fill("#title", "Hundesteuer online anmelden")
    page.fill("#summary", "Hunde an- und abmelden, ohne Papier.")
    page.click("button[value=einreichen]")
    box = page.locator("section.duplicate-warning")
    expect(box).to_contain_text("Gibt es das schon?")
    expect(box).to_contain_text("Ihre Kommune hat bereits")  # the own listing, apart
    first = box.locator("li.duplicate-item").first
    expect(first).to_contain_text("Freiburg im Breisgau")
    expect(first).to_contain_text("Zur Nachnutzung angeboten")
    assert_accessible(page, axe_path, width, f"dublettenbox-{width}")
    first.get_by_role("button", name="Nachnutzen").click()  # the one click
    expect(page.locator("body")).to_contain_text("Ihre Nachnutzung ist eingetragen")
    expect(page.locator(".reuse-cta")).to_contain_text("Ihre Kommune nutzt diese Lösung nach")
    assert "/eintraege/" in page.url and "Freiburg" in page.inner_text("main")

    owner = new_page(width=width)
    login(owner, "digital@freiburg.example")
    owner.goto("/benachrichtigungen")
    expect(owner.locator("main")).to_contain_text(f"{town} nutzt „Hundesteuer-Anmeldung online“ nach")


def _own_published_listing(server_env: dict[str, str], n: int) -> tuple[str, str, str]:
    """Return (owner's e-mail, slug, title) of the n-th published demo catalogue listing without
    reuses, each of another municipality (read from the server's database)."""
    engine = create_engine(server_env["MARKTPLATZ_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT u.email, l.slug, l.title FROM listing l JOIN user_account u ON u.id = l.created_by_id "
            "WHERE l.status = 'published' AND l.external_id LIKE 'demo-katalog/%' "
            "AND NOT EXISTS (SELECT 1 FROM reuse r WHERE r.listing_id = l.id) ORDER BY l.id")).all()
    engine.dispose()
    seen: dict[str, tuple[str, str, str]] = {}
    for email, slug, title in rows:
        seen.setdefault(email, (email, slug, title))
    return list(seen.values())[n]


@pytest.mark.parametrize("width", [1280, 360])
def test_archive_and_restore_own_listing(new_page, axe_path, server_env, width):
    """The owner archives a published listing after a confirmation step, and restores it."""
    email, slug, title = _own_published_listing(server_env, 0 if width == 1280 else 1)
    page = new_page(width=width)
    login(page, email)
    page.goto(f"/eintraege/{slug}")
    page.get_by_role("button", name="Archivieren").click()
    expect(page.locator("main")).to_contain_text(f"„{title}“ archivieren?")  # the confirmation step
    assert_accessible(page, axe_path, width, f"archivieren-bestaetigen-{width}")
    page.get_by_role("button", name="Ja, archivieren").click()
    expect(page.locator("body")).to_contain_text("Der Eintrag ist archiviert")
    restore = page.get_by_role("button", name="Wiederherstellen (Veröffentlicht)")
    expect(restore).to_be_visible()
    assert_accessible(page, axe_path, width, f"eintrag-archiviert-{width}")
    # Gone from search and lists; its address still answers (links in mails keep working), marked.
    anonymous = new_page(width=width)
    anonymous.goto(f"/eintraege/{slug}")
    expect(anonymous.locator(".badge-status")).to_have_text("Archiviert")
    anonymous.goto(f"/eintraege?q={title.split()[0]}&kreis=")
    expect(anonymous.locator("#treffer")).to_contain_text("gefunden")
    assert anonymous.locator(f".card-title a[href='/eintraege/{slug}']").count() == 0
    restore.click()
    expect(page.locator("body")).to_contain_text("Der Eintrag ist wiederhergestellt (Veröffentlicht)")
    anonymous.goto(f"/eintraege/{slug}")
    expect(anonymous.locator("h1")).to_contain_text(title)
    assert anonymous.locator(".badge-status").count() == 0
