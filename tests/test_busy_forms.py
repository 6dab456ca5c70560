"""Issue 15 item 4: forms for busy people (Enter saves, one pass, landing on the form, owner actions, login)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from marktplatz.models import AuditEvent, Listing
from marktplatz.services import listings
from tests import factories as f


@pytest.fixture
def world(session):
    """An officer of Freiburg with a draft, one in review and one published; a coordinator; a stranger."""
    net = f.network(session, "busy", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", ags=f.MANNHEIM, networks=[net])
    owner = f.user(session, ags=f.FREIBURG, email="owner@example.org")
    stranger = f.user(session, ags=f.KARLSRUHE, email="stranger@example.org")
    draft = f.listing(session, owner, title="Friedhofsverwaltung Entwurf", ozg_ids=[], leika_keys=[])
    review = f.listing(session, owner, title="Parkausweis online", ozg_ids=[], leika_keys=[])
    listings.submit_for_review(session, owner, review)
    published = f.listing(session, owner, coord, title="Hundesteuer Freiburg")
    session.commit()
    return {"owner": owner, "coord": coord, "stranger": stranger, "draft": draft, "review": review,
            "published": published}


def _form(**overrides):
    data = {"kind": "dienst", "title": "Sperrmüll bestellen", "summary": "Sperrmüll online bestellen.",
            "visibility": "public", "aktion": "speichern"}
    data.update(overrides)
    return data


def test_enter_saves_the_first_submit_button_of_the_form_is_save(world, client, auth, session):
    """Implicit submission uses the first submit button: save, not 'Im Katalog suchen'."""
    auth.login("owner@example.org")
    for url in ("/eintraege/neu", f"/eintraege/{world['draft'].slug}/bearbeiten"):
        html = client.get(url).get_data(as_text=True)
        form = html[html.index('id="eintrag-formular"'):]
        first = re.search(r"<button[^>]*type=\"submit\"[^>]*>", form).group(0)
        assert 'class="default-submit"' in first and "name=" not in first, url
        assert form.index(first) < form.index('value="katalog_suchen"')
    # What that button sends (no "aktion") saves the draft.
    resp = client.post("/eintraege/neu", data={k: v for k, v in _form().items() if k != "aktion"})
    assert resp.status_code == 302
    assert session.scalar(select(Listing).where(Listing.title == "Sperrmüll bestellen")).status == "draft"


def test_every_rule_is_checked_in_one_pass(world, client, auth, session):
    """Field errors, cross-field rules and the catalogue come back together in the first round."""
    auth.login("owner@example.org")
    resp = client.post("/eintraege/neu", data=_form(
        title="", reuse_offered="1", reuse_terms="", reifegrad="3", reifegrad_model="",
        ozg_ids=["99999999"], contact_email="kein-at"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    for field in ("title", "reuse_terms", "reifegrad_model", "ozg_ids", "contact_email"):
        assert f'id="{field}-error"' in html, field
    assert session.scalar(select(Listing).where(Listing.title == "")) is None


def test_one_pass_also_for_the_api(world, client, session):
    """The API's 422 lists the cross-field error beside the field errors."""
    from marktplatz.services import tokens

    _t, secret = tokens.create_token(session, world["owner"], world["owner"].organisation, "CMS", ["read", "write"])
    session.commit()
    resp = client.post("/api/v1/listings", json={"kind": "dienst", "title": "", "summary": "x" * 5,
                                                 "reifegrad": 9, "reifegrad_model": "1.1", "ozg_ids": [99999999],
                                                 "reuse_offered": True},
                       headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 422
    # (The catalogue's "unknown OZG-ID" is checked after the API's schema, as before.)
    assert {"title", "reifegrad", "reuse_terms"} <= set(resp.json["errors"])


def test_failed_status_update_lands_on_the_form_and_names_the_field(world, client, auth):
    """The form posts to its own anchor; the error summary names 'Überschrift'."""
    auth.login("owner@example.org")
    slug = world["published"].slug
    page = client.get(f"/eintraege/{slug}").get_data(as_text=True)
    assert f'action="/eintraege/{slug}/status#statusmeldung"' in page
    bad = client.post(f"/eintraege/{slug}/status", data={"title": "x"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert '<details class="box" id="statusmeldung" open>' in html
    assert re.search(r'<a href="#title">Überschrift: [^<]+</a>', html)


@pytest.mark.parametrize("action, listing, after", [
    ("archivieren", "published", "archived"),
    ("zurueckziehen", "review", "draft"),
    ("loeschen", "draft", None),
])
def test_owner_acts_from_the_page_after_a_confirmation(world, client, auth, session, action, listing, after):
    """Archive, withdraw and delete: the first POST only asks, the confirmed one acts."""
    item = world[listing]
    item_id, status = item.id, item.status
    auth.login("owner@example.org")
    page = client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    assert f'action="/eintraege/{item.slug}/{action}"' in page
    step = client.post(f"/eintraege/{item.slug}/{action}")
    assert step.status_code == 200 and 'name="bestaetigt" value="ja"' in step.get_data(as_text=True)
    session.expire_all()
    assert session.get(Listing, item_id).status == status  # nothing happened yet
    done = client.post(f"/eintraege/{item.slug}/{action}", data={"bestaetigt": "ja"})
    assert done.status_code == 302
    session.expire_all()
    fresh = session.get(Listing, item_id)
    if after is None:
        assert fresh is None and done.headers["Location"] == "/meine-kommune"
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "listing.deleted"))
        assert event.details["title"] == "Friedhofsverwaltung Entwurf" and event.listing_id is None
    else:
        assert fresh.status == after


def test_owner_actions_are_offered_only_where_the_lifecycle_allows(world, client, auth, session):
    """No delete for a listing once submitted; strangers get no buttons and a refusal."""
    auth.login("owner@example.org")
    published = client.get(f"/eintraege/{world['published'].slug}").get_data(as_text=True)
    assert "/loeschen" not in published and "/zurueckziehen" not in published
    refused = client.post(f"/eintraege/{world['published'].slug}/loeschen", data={"bestaetigt": "ja"})
    assert refused.status_code == 409
    auth.logout()
    auth.login("stranger@example.org")
    page = client.get(f"/eintraege/{world['published'].slug}").get_data(as_text=True)
    assert "/archivieren" not in page
    assert client.post(f"/eintraege/{world['published'].slug}/archivieren").status_code == 403
    session.expire_all()
    assert session.get(Listing, world["published"].id).status == "published"


def test_login_goes_to_next_or_else_to_meine_kommune(world, client):
    """A safe next wins; without one the officer lands on 'Meine Kommune'."""
    resp = client.post("/anmelden", data={"email": "owner@example.org", "password": f.PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/meine-kommune"
    client.post("/abmelden")
    resp = client.post("/anmelden?next=/eintraege/x", data={"email": "owner@example.org", "password": f.PASSWORD})
    assert resp.headers["Location"] == "/eintraege/x"
    client.post("/abmelden")
    resp = client.post("/anmelden?next=https://evil.example/", data={"email": "owner@example.org",
                                                                      "password": f.PASSWORD})
    assert resp.headers["Location"] == "/meine-kommune"
