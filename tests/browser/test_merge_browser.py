"""A merge in real Chromium, JavaScript off: review page → side-by-side confirmation → archived
as a duplicate → restored by the coordinator; axe and 360 px on the confirmation and review pages."""

from __future__ import annotations

import sqlite3

import pytest
from playwright.sync_api import expect

from .conftest import assert_accessible, axe_violations, login, screenshot

pytestmark = pytest.mark.browser

COORDINATOR = "koordination@andi.example"


def _pair(server_tmp) -> tuple[tuple[str, str], tuple[str, str]]:
    """Return (slug, title) of two published public listings of ANDI members other than the
    coordinator's own Karlsruhe: the one with fewest reuses is the duplicate, the other the original."""
    con = sqlite3.connect(f"file:{server_tmp / 'live.db'}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT l.slug, l.title, (SELECT COUNT(*) FROM reuse r WHERE r.listing_id = l.id) AS n "
            "FROM listing l JOIN organisation o ON o.id = l.organisation_id "
            "JOIN network_membership m ON m.organisation_id = o.id JOIN network n ON n.id = m.network_id "
            "WHERE n.slug = 'andi' AND o.ags != '08212000' AND l.status = 'published' "
            "AND l.visibility = 'public' AND l.duplicate_of_id IS NULL ORDER BY n, l.id").fetchall()
    finally:
        con.close()
    assert len(rows) >= 2, rows
    return (rows[0][0], rows[0][1]), (rows[-1][0], rows[-1][1])


def test_merge_with_confirmation_then_restore_without_javascript(new_page, server_tmp, axe_path):
    (dup_slug, dup_title), (orig_slug, orig_title) = _pair(server_tmp)
    page = new_page(javascript=False)
    login(page, COORDINATOR)
    page.goto(f"/pruefung/eintrag/{dup_slug}")
    expect(page.locator("body")).to_contain_text("Alle Angaben")
    page.fill("#target", f"/eintraege/{orig_slug}")
    page.click("button:has-text('Weiter zur Zusammenführung')")
    expect(page.locator("main")).to_contain_text("Als Duplikat zusammenführen?")
    body = page.inner_text("main")
    assert "Als Duplikat zusammenführen?" in body and dup_title in body and orig_title in body
    assert "Wird archiviert (Duplikat)" in body and "Bleibt bestehen (Original)" in body
    page.click("text=Abbrechen, zurück zur Prüfung")  # cancelling changes nothing
    page.goto(f"/eintraege/{dup_slug}")
    assert "archiviert" not in page.inner_text("main").lower()

    page.goto(f"/pruefung/eintrag/{dup_slug}")
    page.fill("#target", orig_slug)
    page.click("button:has-text('Weiter zur Zusammenführung')")
    page.click(f"button:has-text('Ja, „{dup_title}“ als Duplikat archivieren')")
    expect(page.locator("body")).to_contain_text("ist als Duplikat von")
    page.goto(f"/eintraege/{dup_slug}")
    assert "Duplikat" in page.inner_text("main")
    page.click("form[action$='/wiederherstellen'] button")
    page.goto(f"/eintraege/{dup_slug}")
    main = page.inner_text("main")
    assert "wiederherstellen" not in main.lower() and dup_title in main


@pytest.mark.parametrize("width", [1280, 360])
def test_moderation_pages_pass_axe_and_fit(new_page, server_tmp, axe_path, width):
    (dup_slug, _t), (orig_slug, _o) = _pair(server_tmp)
    page = new_page(width=width)
    login(page, COORDINATOR)

    def check(name: str) -> None:
        assert_accessible(page, axe_path, width, name)

    page.goto("/pruefung")
    check("pruefung")
    # Two CSS bugs of every page: .container zeroed main's padding (content glued to the header),
    # and button.button outranked .button-secondary (every secondary button looked primary).
    assert page.evaluate("getComputedStyle(document.querySelector('main')).paddingTop") != "0px"
    assert page.evaluate("getComputedStyle(document.querySelector('button.button-secondary')).backgroundColor") \
        == "rgb(255, 255, 255)"
    page.goto("/pruefung?alter=999")
    check("pruefung-fehler")
    page.goto(f"/pruefung/eintrag/{dup_slug}")
    check("pruefung-eintrag")
    page.fill("#target", orig_slug)
    page.click("button:has-text('Weiter zur Zusammenführung')")
    expect(page.locator("body")).to_contain_text("Als Duplikat zusammenführen?")
    check("zusammenfuehren-bestaetigen")


@pytest.mark.parametrize("width", [1280, 360])
def test_webhook_and_token_pages_pass_axe_and_fit(new_page, axe_path, width):
    """The webhook page (with Testzustellung and the delivery log) and the token page."""
    page = new_page(width=width)
    login(page, "digital@freiburg.example")
    for path in ("/kommune/webhooks", "/konto/api-tokens"):
        page.goto(path)
        assert page.url.endswith(path), page.url
        assert axe_violations(page, axe_path) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
        screenshot(page, f"{path.strip('/').replace('/', '-')}-{width}px")
