"""Search wired into the browse page, the publish form's duplicate step and the REST API."""

from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import select

from marktplatz.models import Listing, User
from marktplatz.services.demo import DEMO_PASSWORD
from tests import factories as f
from tests.search_support import facet_options, follow

BRUCHSAL = "08215009"  # an ANDI member without a dog-tax listing in the demo


def card_ids(html: str) -> list[int]:
    """Return the listing ids of the result cards, in page order."""
    return [int(x) for x in re.findall(r'<article class="card" data-listing-id="(\d+)"', html)]


@pytest.fixture
def world(session):
    """Create a BW network, officers, a coordinator and three published listings plus a draft."""
    net = f.network(session, "bw", f.FREIBURG, f.MANNHEIM, f.KARLSRUHE)
    admin = f.user(session, "admin", ags=None)
    coord = f.user(session, "coordinator", ags=f.KARLSRUHE, networks=[net])
    freiburg = f.user(session, ags=f.FREIBURG)
    mannheim = f.user(session, ags=f.MANNHEIM)
    lemgo = f.user(session, ags=f.LEMGO)
    a = f.listing(session, freiburg, admin, title="Hundesteuer-Anmeldung online", reuse_offered=True,
                  reuse_terms="Kostenfrei.", licence="EUPL-1.2", reifegrad=5, reifegrad_model="2.0")
    b = f.listing(session, mannheim, admin, title="Hunde-Steuer digital", phase="in_progress", reifegrad=2,
                  summary="Den Steuerbescheid digital erhalten.", description="Digitaler Bescheid.")
    c = f.listing(session, lemgo, admin, kind="projekt", title="Sperrmüll-Termin online", tags=["Abfall"],
                  summary="Abfall: Straße und Termin wählen.", ozg_ids=[10110], leika_keys=[],
                  description="Müllabfuhr bestellen.")
    draft = f.listing(session, lemgo, None, title="Hundesteuer Lemgo Entwurf")
    follow()
    return {"net": net, "admin": admin, "coord": coord, "freiburg": freiburg, "mannheim": mannheim,
            "lemgo": lemgo, "a": a, "b": b, "c": c, "draft": draft}


# --------------------------------------------------------------------------- browse page


def test_browse_with_query_ranks_through_index_with_facets_and_highlights(world, client):
    """A typo still finds the dog-tax listings; filters show counts; matches are marked."""
    resp = client.get("/eintraege?q=hundesteur")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert set(card_ids(html)) == {world["a"].id, world["b"].id}
    assert "<mark>" in html
    assert facet_options(html, "Art") == {"Dienst": "2"}  # values without hits are left out
    assert facet_options(html, "Land") == {"Baden-Württemberg": "2"}
    assert facet_options(html, "Netzwerk") == {"Netzwerk bw": "2"}
    assert 'Nur zur Nachnutzung angeboten <span class="muted">(1)</span>' in html
    # Reifegrad "mindestens", per model: Freiburg's grade 5 of model 2.0 counts up to 5 there,
    # Mannheim's grade 2 of model 1.1 only in model 1.1 (the grades are not comparable).
    assert '<option value="2.0:5">Stufe 5 von 7 (Modell 2.0) (1)</option>' in html
    assert '<option value="1.1:2">Stufe 2 von 4 (Modell 1.1) (1)</option>' in html
    assert 'value="2.0:6"' not in html and 'value="1.1:3"' not in html
    assert 'value="projekt"' not in html
    assert '<option value="" selected>Relevanz</option>' in html  # the default: no parameter


def test_browse_query_filters_narrow_the_ranking(world, client):
    """Browse filters (Art, Land, Netzwerk, Kreis, OZG, Reifegrad, Nachnutzung) apply to the search."""
    def ids(query: str) -> set[int]:
        return set(card_ids(client.get("/eintraege?" + query).get_data(as_text=True)))

    a, b, c = world["a"].id, world["b"].id, world["c"].id
    assert ids("q=online") == {a, c}
    assert ids("q=online&art=projekt") == {c}
    assert ids("q=online&land=05") == {c}
    assert ids("q=hundesteuer&netzwerk=bw&phase=in_progress") == {b}
    assert ids("q=hundesteuer&nachnutzung=1") == {a}
    assert ids("q=hundesteuer&reifegrad=4") == {a}
    assert ids("q=hundesteuer&kreis=08311") == {a}  # Freiburg is its own Kreis key
    assert ids("q=online&ozg=10110") == {c}
    assert ids("q=online&lizenz=EUPL-1.2") == {a}


def test_browse_query_sorts_by_newest_and_most_reused(world, client, session):
    """Sorting by newest and by reuse count orders the same hits differently."""
    from marktplatz.services import reuse as reuse_service

    reuse_service.declare_reuse(session, world["lemgo"], world["b"], {"stage": "production"})
    follow()
    newest = card_ids(client.get("/eintraege?q=hundesteuer&sortierung=neu").get_data(as_text=True))
    assert newest == [world["b"].id, world["a"].id]
    reused = card_ids(client.get("/eintraege?q=hundesteuer&sortierung=nachnutzungen").get_data(as_text=True))
    assert reused[0] == world["b"].id


def test_browse_query_respects_visibility(world, client, auth):
    """A draft is found by its owner only."""
    anon = card_ids(client.get("/eintraege?q=Lemgo+Entwurf").get_data(as_text=True))
    assert world["draft"].id not in anon
    auth.login(world["lemgo"].email)
    own = card_ids(client.get("/eintraege?q=Lemgo+Entwurf").get_data(as_text=True))
    assert world["draft"].id in own


def test_browse_without_query_lists_published_newest_first_with_counts(world, client, auth):
    """Without q the index answers: published listings newest first, each filter option with
    its count; not the viewer's own drafts, which the search shows."""
    html = client.get("/eintraege").get_data(as_text=True)
    assert card_ids(html) == [world["c"].id, world["b"].id, world["a"].id]
    assert "<mark>" not in html and "Titel A–Z" in html and "Zahl der passenden Einträge" in html
    assert facet_options(html, "Art") == {"Dienst": "2", "Projekt": "1"}  # counted by the index
    assert 'data-suggest-url="/suche/vorschlaege"' in html
    auth.login(world["lemgo"].email)
    assert world["draft"].id not in card_ids(client.get("/eintraege").get_data(as_text=True))


def test_browse_sorted_by_title_or_without_index_is_answered_by_sql(world, client, app):
    """Sorts the index does not keep, and a lost index, fall back to SQL: same listings, no counts."""
    html = client.get("/eintraege?sortierung=titel").get_data(as_text=True)
    assert set(card_ids(html)) == {world["a"].id, world["b"].id, world["c"].id}
    assert "Zahl der passenden Einträge" not in html
    shutil.rmtree(app.config["INDEX_DIR"])
    html = client.get("/eintraege").get_data(as_text=True)
    assert set(card_ids(html)) == {world["a"].id, world["b"].id, world["c"].id}


def test_browse_query_page_beyond_the_end_shows_last_page(world, client):
    """A page number past the end shows the last page rather than nothing."""
    html = client.get("/eintraege?q=hundesteuer&seite=99").get_data(as_text=True)
    assert set(card_ids(html)) == {world["a"].id, world["b"].id}


def test_old_search_page_redirects_with_its_filters(world, client):
    """/suche is an alias: it redirects to /eintraege with the same query and filters."""
    resp = client.get(f"/suche?q=hund&sort=reused&network={world['net'].id}&reuse_offered=ja&licence=MIT")
    assert resp.status_code == 302
    loc = resp.headers["Location"]
    assert loc.startswith("/eintraege?") and "q=hund" in loc and "sortierung=nachnutzungen" in loc
    assert "netzwerk=bw" in loc and "nachnutzung=1" in loc and "lizenz=MIT" in loc


def test_start_page_search_box_has_autocomplete(client):
    """The start page's search box carries the suggestion endpoint and goes to /eintraege."""
    html = client.get("/").get_data(as_text=True)
    assert 'action="/eintraege"' in html and 'data-suggest-url="/suche/vorschlaege"' in html
    assert "js/search.js" in html


# --------------------------------------------------------------------------- duplicate step


def _form(**overrides):
    data = {"kind": "dienst", "title": "Hundesteuer online anmelden", "summary": "Hund online anmelden.",
            "ozg_ids": ["10160"], "leika_keys": ["99102013000000"], "visibility": "public",
            "aktion": "speichern"}
    data.update(overrides)
    return data


@pytest.fixture
def demo(session):
    """Add an officer of Bruchsal to the demo (14 dog-tax efforts in BW; tests marked demo)."""
    return {"bruchsal": f.user(session, ags=BRUCHSAL, email="neu@bruchsal.example")}


@pytest.mark.demo
def test_new_dog_tax_listing_warns_with_the_existing_ones(demo, client, auth, session):
    """Creating a Hundesteuer service as another BW officer shows the 14 existing efforts first."""
    before = session.query(Listing).count()
    auth.login("neu@bruchsal.example")
    resp = client.post("/eintraege/neu", data=_form())
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Gibt es das schon?" in html
    summary = re.search(r"<strong>(\d+) Kommunen arbeiten bereits daran, 1 bietet ihre Lösung zur Nachnutzung an\.</strong>",
                        html)
    assert summary and int(summary.group(1)) >= 14
    bw_dog_tax = session.scalars(select(Listing).where(Listing.title.ilike("%hund%"),
                                                       Listing.organisation.has(land_code="08"))).all()
    assert len(bw_dog_tax) == 14
    assert all(f'href="/eintraege/{lst.slug}"' in html for lst in bw_dog_tax)
    assert "Warum trotzdem ein eigener Eintrag?" in html
    assert 'value="Hundesteuer online anmelden"' in html  # input preserved
    assert 'class="field-error"' not in html  # first showing: no error yet
    session.commit()
    assert session.query(Listing).count() == before


@pytest.mark.demo
def test_continuing_without_reason_is_a_field_error(demo, client, auth, session):
    """Submitting again without a reason shows an error next to the reason field."""
    before = session.query(Listing).count()
    auth.login("neu@bruchsal.example")
    resp = client.post("/eintraege/neu", data=_form(dubletten_geprueft="1", duplicate_override_reason="  "))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="duplicate_override_reason-error"' in html
    assert re.search(r'<textarea id="duplicate_override_reason"[^>]*aria-invalid="true"', html)
    assert 'href="#duplicate_override_reason"' in html  # in the error summary
    session.commit()
    assert session.query(Listing).count() == before


@pytest.mark.demo
def test_reason_is_stored_and_shown_to_the_coordinator(demo, client, auth, session):
    """With a reason the listing is created; the ANDI coordinator sees the reason when reviewing."""
    auth.login("neu@bruchsal.example")
    resp = client.post("/eintraege/neu", data=_form(dubletten_geprueft="1", aktion="einreichen",
                                                    duplicate_override_reason="Eigenes Fachverfahren."))
    assert resp.status_code == 302
    session.commit()
    item = session.scalar(select(Listing).where(Listing.title == "Hundesteuer online anmelden"))
    assert item.duplicate_override_reason == "Eigenes Fachverfahren." and item.status == "in_review"
    auth.logout()
    coord = session.scalar(select(User).where(User.email == "koordination@andi.example"))
    auth.login(coord.email, DEMO_PASSWORD)
    html = client.get(f"/pruefung/eintrag/{item.slug}").get_data(as_text=True)
    assert "Eigenes Fachverfahren." in html


def test_no_warning_without_matches_and_none_when_editing(world, client, auth, session):
    """A listing without similar ones is created at once; editing never asks for a reason."""
    auth.login(world["freiburg"].email)
    resp = client.post("/eintraege/neu", data=_form(title="Friedhofsverwaltung", ozg_ids=[],
                                                    leika_keys=[]))
    assert resp.status_code == 302
    session.commit()
    item = session.scalar(select(Listing).where(Listing.title == "Friedhofsverwaltung"))
    assert item.duplicate_override_reason is None
    edit = client.post(f"/eintraege/{world['a'].slug}/bearbeiten",
                       data=_form(title="Hundesteuer-Anmeldung online", version=str(world["a"].version)))
    assert edit.status_code == 302


def test_catalogue_search_keeps_warning_without_error(world, client, auth):
    """Searching the catalogue picker while the warning shows does not ask for the reason yet."""
    auth.login(world["lemgo"].email)
    resp = client.post("/eintraege/neu", data=_form(aktion="katalog_suchen", katalog_suche="Hund",
                                                    dubletten_geprueft="1"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Gibt es das schon?" in html and "field-error" not in html


# --------------------------------------------------------------------------- API


def test_api_q_uses_search_index_with_facets(world, client):
    """q is answered by the index (typo tolerant, compounds) and returns facets."""
    body = client.get("/api/v1/listings?q=hundesteur").json
    assert {i["id"] for i in body["items"]} == {world["a"].id, world["b"].id}
    assert body["facets"]["kind"] == [{"code": "dienst", "name": "Dienst", "count": 2}]
    assert body["facets"]["land"] == [{"code": "08", "name": "Baden-Württemberg", "count": 2}]
    assert {(e["code"], e["count"]) for e in body["facets"]["reuse_offered"]} == {("ja", 1), ("nein", 1)}
    steuer = client.get("/api/v1/listings?q=Steuer").json
    assert {i["id"] for i in steuer["items"]} == {world["a"].id, world["b"].id}


def test_api_q_pages_follow_the_ranking_of_the_web_search(world, client, session):
    """With q the API lists the best match first, as the search page does, not by id; the
    cursor walks that ranking without repeating or losing a match."""
    exact = f.listing(session, world["lemgo"], world["admin"], title="Sperrmüll", tags=["Sperrmüll"],
                      summary="Sperrmüll anmelden, Termin wählen.", ozg_ids=[10110], leika_keys=[])
    follow()
    assert exact.id > world["c"].id  # by id it would come last
    web = card_ids(client.get("/eintraege?q=Sperrmüll").get_data(as_text=True))
    assert web[0] == exact.id
    first = client.get("/api/v1/listings?q=Sperrmüll&limit=1").json
    assert [i["id"] for i in first["items"]] == [exact.id]
    seen = [exact.id]
    url = first["links"]["next"]
    while url:
        page = client.get(url).json
        seen += [i["id"] for i in page["items"]]
        url = page["links"]["next"]
    assert seen == web and len(set(seen)) == len(seen)


def test_api_q_respects_visibility_and_other_filters(world, client):
    """Drafts stay hidden; other filters narrow the matches and their facets."""
    body = client.get("/api/v1/listings?q=Lemgo+Entwurf").json
    assert world["draft"].id not in [i["id"] for i in body["items"]]
    body = client.get("/api/v1/listings?q=hundesteuer&phase=in_progress").json
    assert [i["id"] for i in body["items"]] == [world["b"].id]
    assert [(e["code"], e["name"], e["count"]) for e in body["facets"]["phase"]] == [
        ("in_progress", "In Umsetzung", 1)]


def test_api_search_finds_a_bulk_sync_right_after_it(client, session):
    """The sync answers before indexing; the token's next search still finds the items (read-your-writes)."""
    from marktplatz.services import tokens

    officer = f.user(session, ags=f.FREIBURG)
    _t, secret = tokens.create_token(session, officer, officer.organisation, "CMS", ["read", "write"])
    headers = {"Authorization": f"Bearer {secret}"}
    items = [f.listing_data(title=f"Zqsyncwort Dienst {i}", external_id=f"zq-{i}") for i in range(30)]
    resp = client.post("/api/v1/sync/listings", json={"items": items}, headers=headers)
    assert resp.json["summary"]["created"] == 30
    body = client.get("/api/v1/listings?q=zqsyncwort&limit=100", headers=headers).json
    assert {i["id"] for i in body["items"]} == {r["id"] for r in resp.json["results"]}
    items[0]["title"] = "Zqanderswort Dienst 0"
    client.post("/api/v1/sync/listings", json={"items": items[:1]}, headers=headers)
    body = client.get("/api/v1/listings?q=zqanderswort", headers=headers).json
    assert [i["id"] for i in body["items"]] == [resp.json["results"][0]["id"]]


def test_api_q_cursor_pages_are_stable(world, client, session):
    """With q the pages follow the ranking; a listing ranked in meanwhile repeats nothing and
    shifts none of the matches already ranked below the page read."""
    extra = f.listing(session, world["lemgo"], world["admin"], title="Hundesteuer Lemgo")
    follow()
    expected = card_ids(client.get("/eintraege?q=hundesteuer").get_data(as_text=True))
    assert set(expected) == {world["a"].id, world["b"].id, extra.id}
    seen: list[int] = []
    url = "/api/v1/listings?q=hundesteuer&limit=1"
    while url:
        body = client.get(url).json
        seen += [i["id"] for i in body["items"]]
        url = body["links"]["next"]
        if len(seen) == 1:
            f.listing(session, world["mannheim"], world["admin"], title="Hundesteuer")  # ranks first
            follow()
    assert [i for i in seen if i in expected] == expected and len(seen) == len(set(seen))


def test_api_duplicate_check_returns_summary_and_ranked_matches(world, client):
    """The duplicate check ranks same-OZG and similar-title listings and sums them up."""
    resp = client.post("/api/v1/listings/duplicate-check",
                       json={"title": "Hundesteuer", "ozg_ids": [10160], "leika_keys": ["99102013000000"]})
    assert resp.status_code == 200
    body = resp.json
    assert body["summary"] == "2 Kommunen arbeiten bereits daran, 1 bietet ihre Lösung zur Nachnutzung an."
    ids = [c["id"] for c in body["candidates"]]
    assert set(ids) == {world["a"].id, world["b"].id}
    first = body["candidates"][0]
    assert "Gleiche OZG-Leistung" in first["reasons"] and first["shared_ozg_ids"] == [10160]
    # Reuse first: the listing offered for reuse leads, the rest follow by score.
    assert first["id"] == world["a"].id and first["reuse_offered"]
    by_title = client.post("/api/v1/listings/duplicate-check", json={"title": "Sperrmüll Termine"}).json
    assert [c["id"] for c in by_title["candidates"]] == [world["c"].id]
    assert by_title["candidates"][0]["reasons"] == ["Ähnlicher Titel"]
    none = client.post("/api/v1/listings/duplicate-check", json={"title": "Friedhofsverwaltung"}).json
    assert none == {"summary": "", "municipalities": 0, "offering_reuse": 0, "candidates": [],
                    "own_listings": []}


def test_api_duplicate_check_excludes_the_listing_itself(world, client):
    """exclude_id leaves the listing being edited out of its own duplicates."""
    body = client.post("/api/v1/listings/duplicate-check",
                       json={"ozg_ids": [10160], "exclude_id": world["a"].id}).json
    assert [c["id"] for c in body["candidates"]] == [world["b"].id]

