"""Publish, edit, conflicts, status updates, reuse and follow through the HTML forms."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from marktplatz.models import Follow, Listing, Reuse
from marktplatz.services import listings

from . import factories as f


@pytest.fixture
def world(session):
    """An ANDI network with officers in Freiburg and Mannheim and a coordinator."""
    andi = f.network(session, "andi", f.FREIBURG, f.MANNHEIM)
    return {
        "owner": f.user(session, "officer", f.FREIBURG, email="owner@example.org"),
        "other": f.user(session, "officer", f.MANNHEIM, email="other@example.org"),
        "coord": f.user(session, "coordinator", f.KARLSRUHE, [andi], email="coord@example.org"),
    }


def form_data(**overrides):
    """Return a valid listing form submission."""
    data = {
        "kind": "dienst", "title": "Hundesteuer online", "summary": "Hunde online an- und abmelden.",
        "description": "Text", "tags": "Hundesteuer, Steuern", "ozg_ids": ["10160"],
        "leika_keys": ["99102013000000"], "phase": "live", "reifegrad": "3", "reifegrad_model": "1.1",
        "visibility": "public", "aktion": "speichern",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("kind,label", [("dienst", "Dienst"), ("komponente", "Komponente"), ("projekt", "Projekt")])
def test_new_form_for_each_kind(client, auth, world, kind, label):
    """The publish form opens for all three kinds with CSRF field and labels."""
    auth.login("owner@example.org")
    resp = client.get(f"/eintraege/neu?art={kind}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and f"<h1>{label} veröffentlichen</h1>" in html
    assert f'id="kind-{kind}" name="kind" value="{kind}" checked' in html
    assert 'name="csrf_token"' in html and '<label for="title">' in html


def test_new_requires_login(client, world):
    """Anonymous visitors are sent to the login page."""
    resp = client.get("/eintraege/neu")
    assert resp.status_code == 302 and "/anmelden" in resp.headers["Location"]


def test_invalid_input_shows_errors_next_to_fields_and_keeps_input(client, auth, session, world):
    """Errors are announced, linked to their fields, and input is preserved."""
    auth.login("owner@example.org")
    resp = client.post("/eintraege/neu", data=form_data(title="x", contact_email="kein-at",
                                                         description="Mein langer Text"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'role="alert"' in html and 'href="#title"' in html
    assert 'aria-invalid="true" aria-describedby="title-hint title-error"' in html
    assert 'id="title-error"' in html and 'id="contact_email-error"' in html
    assert "Mein langer Text" in html and 'value="kein-at"' in html
    assert 'id="ozg-10160" name="ozg_ids" value="10160" checked' in html
    assert session.scalar(select(Listing.id)) is None


def test_publish_creates_draft_and_submit_puts_in_review(client, auth, session, world):
    """Saving creates a draft; 'einreichen' submits it for review."""
    auth.login("owner@example.org")
    resp = client.post("/eintraege/neu", data=form_data())
    assert resp.status_code == 302
    item = session.scalar(select(Listing))
    assert item.status == "draft" and item.tags == ["Hundesteuer", "Steuern"]
    assert [o.id for o in item.ozg_leistungen] == [10160] and item.reifegrad == 3
    # The first draft has the same OZG-Leistung: the duplicate step asks for a reason first.
    resp = client.post("/eintraege/neu", data=form_data(title="Zweiter Dienst", aktion="einreichen"))
    assert resp.status_code == 200 and "Gibt es das schon?" in resp.get_data(as_text=True)
    resp = client.post("/eintraege/neu", data=form_data(title="Zweiter Dienst", aktion="einreichen",
                                                        duplicate_override_reason="Anderer Zuschnitt."))
    assert resp.status_code == 302
    session.expire_all()
    second = session.scalar(select(Listing).where(Listing.title == "Zweiter Dienst"))
    assert second.status == "in_review"
    client.post(f"/eintraege/{item.slug}/einreichen")
    session.expire_all()
    assert session.get(Listing, item.id).status == "in_review"


def test_catalogue_picker_works_without_javascript(client, auth, session, world):
    """Searching the catalogue re-renders matches as checkboxes and keeps the other input."""
    auth.login("owner@example.org")
    resp = client.post("/eintraege/neu", data=form_data(ozg_ids=[], leika_keys=[], katalog_suche="Gewerbesteuer",
                                                         aktion="katalog_suchen", summary="Meine Beschreibung hier"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert 'name="ozg_ids" value="10364"' in html
    assert "Meine Beschreibung hier" in html
    assert session.scalar(select(Listing.id)) is None
    resp = client.post("/eintraege/neu", data=form_data(katalog_suche="99102013000000", aktion="katalog_suchen"))
    html = resp.get_data(as_text=True)
    assert 'id="ozg-10160" name="ozg_ids" value="10160" checked' in html
    assert 'value="99102013000000" checked' in html


def test_edit_saves_with_version(client, auth, session, world):
    """An edit with the current version is saved."""
    item = f.listing(session, world["owner"])
    auth.login("owner@example.org")
    html = client.get(f"/eintraege/{item.slug}/bearbeiten").get_data(as_text=True)
    assert f'name="version" value="{item.version}"' in html
    resp = client.post(f"/eintraege/{item.slug}/bearbeiten", data=form_data(title="Neuer Titel", version=str(item.version)))
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Listing, item.id).title == "Neuer Titel"


def test_edit_conflict_shows_both_versions_and_reapplies(client, auth, session, world):
    """A stale version shows yours and the current version; re-applying saves yours."""
    item = f.listing(session, world["owner"])
    stale = item.version
    listings.update_listing(session, world["owner"], item, {"title": "Fassung der Kollegin"}, item.version, partial=True)
    auth.login("owner@example.org")
    resp = client.post(f"/eintraege/{item.slug}/bearbeiten", data=form_data(title="Meine Fassung", version=str(stale)))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409
    assert "Meine Fassung" in html and "Fassung der Kollegin" in html
    session.expire_all()
    current = session.get(Listing, item.id)
    assert current.title == "Fassung der Kollegin"
    assert f'name="version" value="{current.version}"' in html
    resp = client.post(f"/eintraege/{item.slug}/bearbeiten", data=form_data(title="Meine Fassung", version=str(current.version)))
    assert resp.status_code == 302
    session.expire_all()
    assert session.get(Listing, item.id).title == "Meine Fassung"


def test_other_municipality_cannot_edit(client, auth, session, world):
    """Another municipality's officer gets 403 on a published listing and 404 on a draft."""
    published = f.listing(session, world["owner"], publish_by=world["coord"])
    draft = f.listing(session, world["owner"])
    auth.login("other@example.org")
    assert client.get(f"/eintraege/{published.slug}/bearbeiten").status_code == 403
    assert client.post(f"/eintraege/{published.slug}/bearbeiten", data=form_data(title="Gekapert")).status_code == 403
    assert client.get(f"/eintraege/{draft.slug}/bearbeiten").status_code == 404
    assert client.post(f"/eintraege/{published.slug}/status", data={"title": "Fremd"}).status_code == 403
    session.expire_all()
    assert session.get(Listing, published.id).title != "Gekapert"


def test_status_update_posted_and_validated(client, auth, session, world):
    """The owner posts a status update that moves the phase; a too short title is rejected."""
    item = f.listing(session, world["owner"], publish_by=world["coord"], phase="in_progress")
    auth.login("owner@example.org")
    bad = client.post(f"/eintraege/{item.slug}/status", data={"title": "x"})
    assert bad.status_code == 422 and 'id="title-error"' in bad.get_data(as_text=True)
    resp = client.post(f"/eintraege/{item.slug}/status", data={"title": "Wir sind live", "body": "**Endlich**", "phase": "live"})
    assert resp.status_code == 302
    html = client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    assert "Wir sind live" in html and "<strong>Endlich</strong>" in html
    session.expire_all()
    assert session.get(Listing, item.id).phase == "live"


def test_declare_reuse_move_stage_and_follow(client, auth, session, world):
    """Another officer declares reuse, moves it through stages, follows and unfollows."""
    item = f.listing(session, world["owner"], publish_by=world["coord"])
    auth.login("other@example.org")
    resp = client.post(f"/eintraege/{item.slug}/nachnutzung", data={"stage": "interested", "note": "Klingt gut"})
    assert resp.status_code == 302
    r = session.scalar(select(Reuse))
    assert r.stage == "interested"
    bad = client.post(f"/nachnutzungen/{r.id}/stufe", data={"stage": "discontinued"})
    assert bad.status_code == 422 and 'id="reason-error"' in bad.get_data(as_text=True)
    client.post(f"/nachnutzungen/{r.id}/stufe", data={"stage": "pilot", "note": "Test läuft"})
    html = client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    assert "Ihre Kommune steht auf der Stufe <strong>Pilot</strong>" in html
    assert "Test läuft" in html
    assert client.post(f"/eintraege/{item.slug}/folgen").status_code == 302
    assert session.scalar(select(Follow.listing_id)) == item.id
    assert "Nicht mehr folgen" in client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    client.post(f"/eintraege/{item.slug}/entfolgen")
    session.commit()
    assert session.scalar(select(Follow.listing_id)) is None
    auth.logout()
    auth.login("owner@example.org")
    assert client.post(f"/nachnutzungen/{r.id}/stufe", data={"stage": "production"}).status_code == 403
    html = client.get("/meine-kommune").get_data(as_text=True)
    assert "Mannheim" in html and "Pilot" in html


# Page and form behaviour does not depend on the database; the database tests run on both.
pytestmark = pytest.mark.sqlite_only
