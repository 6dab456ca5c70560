"""Issue 15 item 1: reuse first on the listing page, in the duplicate box and on the municipality page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from marktplatz.models import Notification, Reuse
from marktplatz.services import reuse as reuse_service
from marktplatz.services.duplicates import find_duplicates, significant_words
from tests import factories as f
from tests.search_support import follow


@pytest.fixture
def world(session):
    """Freiburg offers a dog-tax service for reuse; Mannheim builds its own; Karlsruhe has a draft."""
    admin = f.user(session, "admin", ags=None)
    freiburg = f.user(session, ags=f.FREIBURG)
    mannheim = f.user(session, ags=f.MANNHEIM)
    karlsruhe = f.user(session, ags=f.KARLSRUHE)
    # Mannheim's scores higher (same LeiKa key and a similar title), Freiburg's is offered.
    b = f.listing(session, mannheim, admin, title="Hundesteuer digital", reifegrad=2)
    a = f.listing(session, freiburg, admin, title="Hundeanmeldung", reuse_offered=True, leika_keys=[], reuse_terms="Kostenfrei.",
                  cost_model="free", platform="Service-BW", reifegrad=5, reifegrad_model="2.0")
    own = f.listing(session, karlsruhe, None, title="Hundesteuer Karlsruhe")
    berlin = f.listing(session, mannheim, admin, kind="komponente", title="Berlin Open Data", ozg_ids=[],
                       leika_keys=[], summary="Offene Daten.", tags=[])
    follow()
    return {"admin": admin, "freiburg": freiburg, "mannheim": mannheim, "karlsruhe": karlsruhe,
            "a": a, "b": b, "own": own, "berlin": berlin}


def test_generic_words_never_make_titles_similar(world, session):
    """'Terminbuchung Open Source' is no duplicate of 'Berlin Open Data'."""
    assert significant_words("Terminbuchung Open Source online-Portal") == ["Terminbuchung"]
    # The verbs of applying are in every title: "Hortplatz online anmelden" is no dog tax.
    assert significant_words("Hundesteuer online anmelden") == ["Hundesteuer"]
    assert significant_words("Bauantrag beantragen, Anmeldung und Abmeldung") == ["Bauantrag"]
    report = find_duplicates(session, world["karlsruhe"], {"title": "Terminbuchung Open Source"})
    assert report.matches == []
    report = find_duplicates(session, world["karlsruhe"], {"title": "Digitaler Service online"})
    assert report.matches == []
    # A real word still matches.
    found = find_duplicates(session, world["karlsruhe"], {"title": "Berlin Daten-Portal"})
    assert [m.listing.id for m in found.matches] == [world["berlin"].id]


def test_offers_for_reuse_come_first_and_own_listings_apart(world, session):
    """Offers lead the others; the officer's own municipality is not counted among them."""
    report = find_duplicates(session, world["karlsruhe"], {"title": "Hundesteuer", "ozg_ids": [10160],
                                                           "leika_keys": ["99102013000000"]})
    assert [m.listing.id for m in report.others] == [world["a"].id, world["b"].id]
    assert report.others[0].score < report.others[1].score  # first by offer, not by score
    assert [m.listing.id for m in report.own] == [world["own"].id]
    assert report.municipalities == 2 and report.offering_reuse == 1
    assert report.summary == "2 Kommunen arbeiten bereits daran, 1 bietet ihre Lösung zur Nachnutzung an."


def test_duplicate_box_shows_offer_details_own_listing_reuse_and_a_button(world, session, client, auth):
    """The publish form's box: offer with Reifegrad, platform, reusers, cost model; own listing to edit."""
    reuse_service.declare_reuse(session, world["karlsruhe"], world["b"], {"stage": "evaluating"})
    session.commit()
    auth.login(world["karlsruhe"].email)
    resp = client.post("/eintraege/neu", data={
        "kind": "dienst", "title": "Hundesteuer", "summary": "Hund anmelden.", "ozg_ids": ["10160"],
        "visibility": "public", "aktion": "speichern"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Gibt es das schon?" in html
    box = html[html.index('class="duplicate-warning"'):html.index('id="eintrag-formular"')]
    offers = box[box.index("Zur Nachnutzung angeboten</h3>"):]
    assert offers.index(world["a"].title) < offers.index(world["b"].title)
    assert "Reifegrad: 5 von 7" in box and "Plattform: Service-BW" in box
    assert "Kostenmodell: Kostenfrei" in box and "Nachnutzende: 0 Kommunen" in box
    assert "Nachnutzende: 1 Kommune" in box  # Mannheim's, reused by Karlsruhe
    assert f'Ihre Kommune hat bereits <a href="/eintraege/{world["own"].slug}">' in box
    assert f'href="/eintraege/{world["own"].slug}/bearbeiten">bearbeiten?</a>' in box
    assert "Ihre Kommune nutzt bereits nach:" in box and "In Prüfung" in box
    # One "Nachnutzen" button, for Freiburg's offer; Mannheim's is reused already.
    buttons = re.findall(r'action="/eintraege/([^/"]+)/nachnutzung"', box)
    assert buttons == [world["a"].slug]
    # The reason field still belongs to the listing form.
    assert 'name="duplicate_override_reason" form="eintrag-formular"' in box


def test_nachnutzen_from_the_duplicate_box_is_one_step(world, session, client, auth):
    """The box's button declares the reuse at once and notifies the offering municipality."""
    auth.login(world["karlsruhe"].email)
    resp = client.post(f"/eintraege/{world['a'].slug}/nachnutzung", data={"stage": "interested"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#nachnutzung")
    session.expire_all()
    reuse = session.scalar(select(Reuse).where(Reuse.listing_id == world["a"].id))
    assert reuse.organisation_id == world["karlsruhe"].organisation_id and reuse.stage == "interested"
    assert session.scalar(select(Notification).where(Notification.user_id == world["freiburg"].id))


def test_listing_offered_for_reuse_has_reuse_as_its_primary_action(world, session, client, auth):
    """'Diese Lösung nachnutzen' is the filled button at the top; 'Folgen' is secondary."""
    auth.login(world["karlsruhe"].email)
    html = client.get(f"/eintraege/{world['a'].slug}").get_data(as_text=True)
    cta = html.index("Diese Lösung nachnutzen")
    assert cta < html.index('id="beschreibung"')
    assert cta < html.index(">Folgen</button>")
    assert '<button type="submit" class="button">Diese Lösung nachnutzen</button>' in html
    assert '<button type="submit" class="button button-secondary">Folgen</button>' in html
    # Not on a listing that is not offered, nor on one's own.
    assert "Diese Lösung nachnutzen" not in client.get(f"/eintraege/{world['b'].slug}").get_data(as_text=True)
    auth.logout()
    auth.login(world["freiburg"].email)
    assert "Diese Lösung nachnutzen" not in client.get(f"/eintraege/{world['a'].slug}").get_data(as_text=True)


def test_anonymous_reader_is_led_to_login_and_back(world, client):
    """Anonymous readers see the action as a link to the login that returns to the listing."""
    html = client.get(f"/eintraege/{world['a'].slug}").get_data(as_text=True)
    assert f'href="/anmelden?next=/eintraege/{world["a"].slug}">Diese Lösung nachnutzen</a>' in html


def test_after_reuse_the_top_names_the_stage(world, session, client, auth):
    """Once declared, the top of the page says so instead of offering it again."""
    reuse_service.declare_reuse(session, world["karlsruhe"], world["a"], {"stage": "pilot"})
    session.commit()
    auth.login(world["karlsruhe"].email)
    html = client.get(f"/eintraege/{world['a'].slug}").get_data(as_text=True)
    assert "Ihre Kommune nutzt diese Lösung nach: <strong>Pilot</strong>" in html
    assert "Diese Lösung nachnutzen" not in html


def test_municipality_page_shows_both_directions(world, session, client):
    """Freiburg 'wird nachgenutzt von' Karlsruhe; Karlsruhe 'nutzt nach' Freiburg's service."""
    reuse_service.declare_reuse(session, world["karlsruhe"], world["a"], {"stage": "production"})
    session.commit()
    freiburg = client.get(f"/kommunen/{world['freiburg'].organisation.key}").get_data(as_text=True)
    assert "nutzt nach (0)" in freiburg and "wird nachgenutzt von (1)" in freiburg
    part = freiburg[freiburg.index('id="wird-nachgenutzt"'):]
    assert world["karlsruhe"].organisation.short_name in part and world["a"].title in part
    karlsruhe = client.get(f"/kommunen/{world['karlsruhe'].organisation.key}").get_data(as_text=True)
    assert "nutzt nach (1)" in karlsruhe and "wird nachgenutzt von (0)" in karlsruhe


def test_api_duplicate_check_is_reuse_first_with_offer_details(world, session, client):
    """The API check: offers first with their details, own listings apart (by token)."""
    from marktplatz.services import tokens

    officer = world["karlsruhe"]
    _token, secret = tokens.create_token(session, officer, officer.organisation, "CMS", ["read"])
    session.commit()
    body = client.post("/api/v1/listings/duplicate-check", json={"title": "Hundesteuer", "ozg_ids": [10160]},
                       headers={"Authorization": f"Bearer {secret}"}).json
    assert [c["id"] for c in body["candidates"]] == [world["a"].id, world["b"].id]
    first = body["candidates"][0]
    assert (first["reifegrad"], first["reifegrad_model"], first["platform"], first["cost_model"],
            first["reusers"], first["own_reuse_stage"]) == (5, "2.0", "Service-BW", "free", 0, None)
    assert [c["id"] for c in body["own_listings"]] == [world["own"].id]
    anonymous = client.post("/api/v1/listings/duplicate-check", json={"title": "Hundesteuer"}).json
    assert anonymous["own_listings"] == []
