"""Browser test of the whole review cycle on a real gunicorn with the demo data.

An officer submits, the coordinator requests changes, the officer resubmits, the
coordinator approves, and a user following the OZG-Leistung sees the notification.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import _demo_template, copy_demo
from tests.conftest import _shared_dir
from tests.live_server import CHROMIUM, app_env, gunicorn

IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "marktplatz-demo"
OFFICER = "digital@bad-salzuflen.example"
COORDINATOR = "koordination@lippe.example"
FOLLOWER = "digital@tangerhuette.example"
TITLE = "Biotonne online bestellen"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM) and not IN_CI, reason="Chromium is not installed"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, templates):
    """Serve a copy of the run's demo database (tests/browser/conftest.py) with gunicorn on a free port."""
    tmp = tmp_path_factory.mktemp("browser")
    database_url = copy_demo(_demo_template(templates, _shared_dir(tmp_path_factory)), tmp, "demo.db")
    env = app_env(database_url, tmp, ratelimit=True)
    # A new draft to submit, and a user who follows its OZG-Leistung (done through the services).
    code = (
        "from marktplatz import create_app\n"
        "from marktplatz.core.db import get_session\n"
        "from marktplatz.models import User\n"
        "from sqlalchemy import select\n"
        "from marktplatz.services import listings, notify\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    s = get_session()\n"
        f"    officer = s.scalar(select(User).where(User.email == {OFFICER!r}))\n"
        f"    follower = s.scalar(select(User).where(User.email == {FOLLOWER!r}))\n"
        "    notify.follow_ozg(s, follower, 10110)\n"
        "    listings.create_listing(s, officer, {'kind': 'dienst', 'title': %r,\n"
        "        'summary': 'Biotonne online bestellen, Größe wählen, Termin erhalten.',\n"
        "        'description': 'Bestellung der Biotonne ohne Papierformular.', 'ozg_ids': [10110],\n"
        "        'phase': 'live', 'tags': ['Abfall']})\n" % TITLE
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=120)
    try:
        with gunicorn(database_url, tmp, workers=1, production_config=True, ready_path="/",
                      ratelimit=True) as live:
            yield {"base": live.url, "env": env}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _login(browser, base: str, email: str):
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(base + "/anmelden")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    page.wait_for_load_state()
    expect(page.locator("body")).to_contain_text("Willkommen")
    return ctx, page


def _edit_via_service(env: dict) -> None:
    """Edit the listing as the officer would in the edit form (owned by another feature)."""
    code = (
        "from marktplatz import create_app\n"
        "from marktplatz.core.db import get_session\n"
        "from marktplatz.models import Listing, User\n"
        "from sqlalchemy import select\n"
        "from marktplatz.services import listings\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    s = get_session()\n"
        f"    officer = s.scalar(select(User).where(User.email == {OFFICER!r}))\n"
        f"    item = s.scalar(select(Listing).where(Listing.title == {TITLE!r}))\n"
        "    listings.update_listing(s, officer, item, {'contact_email': 'abfall@bad-salzuflen.example'},\n"
        "                            None, partial=True)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=120)


def test_submit_request_changes_resubmit_approve_notify(server, browser):
    base = server["base"]
    # 1. The officer submits the draft from "Meine Einreichungen".
    ctx, page = _login(browser, base, OFFICER)
    page.goto(base + "/meine-einreichungen")
    row = page.get_by_role("row").filter(has_text=TITLE)
    row.get_by_role("button", name="Einreichen").click()
    expect(page.locator("body")).to_contain_text("zur Prüfung eingereicht")
    ctx.close()

    # 2. The coordinator asks for changes.
    ctx, page = _login(browser, base, COORDINATOR)
    page.get_by_role("link", name="Prüfung", exact=True).click()
    page.get_by_role("link", name=TITLE).click()
    page.get_by_label("Was soll geändert werden?").fill("Bitte eine Kontaktadresse ergänzen.")
    page.get_by_role("button", name="Änderungen erbitten").click()
    expect(page.locator("body")).to_contain_text("Änderungswünsche wurden gesendet")
    ctx.close()

    # 3. The officer sees the request, edits and resubmits.
    ctx, page = _login(browser, base, OFFICER)
    page.goto(base + "/benachrichtigungen")
    expect(page.locator("body")).to_contain_text("Bitte eine Kontaktadresse ergänzen.")
    _edit_via_service(server["env"])
    page.goto(base + "/meine-einreichungen")
    row = page.get_by_role("row").filter(has_text=TITLE)
    assert "Änderungen erbeten" in row.inner_text()
    row.get_by_role("button", name="Erneut einreichen").click()
    expect(page.locator("body")).to_contain_text("zur Prüfung eingereicht")
    ctx.close()

    # 4. The coordinator approves; the audit trail shows every step.
    ctx, page = _login(browser, base, COORDINATOR)
    page.goto(base + "/pruefung")
    page.get_by_role("link", name=TITLE).click()
    expect(page.locator("main")).to_contain_text("Zur Prüfung eingereicht")
    trail = page.get_by_role("table").last.inner_text()
    for step in ("Zur Prüfung eingereicht", "Änderungen erbeten", "Bearbeitet"):
        assert step in trail
    page.get_by_role("button", name="Freigeben").click()
    expect(page.locator("body")).to_contain_text("freigegeben und veröffentlicht")
    ctx.close()

    # 5. The follower of the OZG-Leistung sees the notification with the unread count.
    ctx, page = _login(browser, base, FOLLOWER)
    badge = page.locator(".badge-count")
    assert badge.count() == 1 and int(badge.inner_text().split()[0]) >= 1
    page.get_by_role("link", name="Benachrichtigungen").click()
    expect(page.locator("body")).to_contain_text(TITLE)
    page.get_by_role("button", name="Öffnen").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    ctx.close()
