"""Web pages: start, browse with filters, listing page, municipality coverage, OZG, dashboard."""

from __future__ import annotations

import re

import pytest
from werkzeug.datastructures import MultiDict

from marktplatz.services import reuse
from marktplatz.views.web.pages import parse_filters

from . import factories as f
from .search_support import facet_options, follow


@pytest.fixture
def world(session):
    """Two networks, officers in Freiburg, Mannheim and Bad Salzuflen, a coordinator, an admin."""
    andi = f.network(session, "andi", f.FREIBURG, f.MANNHEIM, f.KARLSRUHE)
    lippe = f.network(session, "lippe", f.BAD_SALZUFLEN, f.LEMGO)
    return {
        "andi": andi,
        "lippe": lippe,
        "owner": f.user(session, "officer", f.FREIBURG, email="owner@example.org"),
        "other": f.user(session, "officer", f.MANNHEIM, email="other@example.org"),
        "far": f.user(session, "officer", f.BAD_SALZUFLEN, email="far@example.org"),
        "coord": f.user(session, "coordinator", f.KARLSRUHE, [andi], email="coord@example.org"),
        "admin": f.user(session, "admin", None, email="admin@example.org"),
    }


def test_start_page_has_numbers_search_and_entry_points(client, session, world):
    """The start page shows key numbers, the search box and entry points."""
    f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg")
    html = client.get("/").get_data(as_text=True)
    assert 'action="/eintraege"' in html and 'name="q"' in html
    assert 'href="/ozg"' in html
    assert "Hundesteuer Freiburg" in html
    assert "<strong>1</strong> aktive Kommunen" in html


def test_parse_filters_drops_malformed_values():
    """parse_filters keeps valid values and ignores junk; facets are lists, repeats collapse."""
    got = parse_filters(MultiDict([
        ("q", " hund "), ("art", "dienst"), ("art", "komponente"), ("art", "dienst"), ("art", "x"),
        ("land", "08"), ("land", "5"), ("kreis", "x"), ("themenfeld", "abc"), ("ozg", "10160"),
        ("phase", "live"), ("reifegrad", "9"), ("nachnutzung", "1"), ("lizenz", "MIT"),
    ]))
    assert got["q"] == "hund" and got["art"] == ["dienst", "komponente"] and got["land"] == ["08"]
    assert got["kreis"] == [] and got["themenfeld"] == [] and got["reifegrad"] is None
    assert got["ozg"] == 10160 and got["phase"] == ["live"] and got["nachnutzung"] is True
    assert got["lizenz"] == ["MIT"]


def test_parse_filters_keeps_the_reifegrad_models_apart():
    """ "2.0:5" is grade 5 or more of model 2.0; model 1.1 has no grade 5; a bare grade (older
    links) means any model."""
    assert parse_filters(MultiDict({"reifegrad": "2.0:5"}))["reifegrad"] == ("2.0", 5)
    assert parse_filters(MultiDict({"reifegrad": "1.1:4"}))["reifegrad"] == ("1.1", 4)
    assert parse_filters(MultiDict({"reifegrad": "1.1:5"}))["reifegrad"] is None
    assert parse_filters(MultiDict({"reifegrad": "3.0:1"}))["reifegrad"] is None
    assert parse_filters(MultiDict({"reifegrad": "3"}))["reifegrad"] == (None, 3)


def test_browse_filters_by_kind_land_network_and_reuse(client, session, world):
    """Each filter narrows the result list."""
    f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg",
              reuse_offered=True, reuse_terms="Kostenfrei.")
    f.listing(session, world["other"], publish_by=world["coord"], title="Formularserver Mannheim",
              kind="komponente", licence="EUPL-1.2", ozg_ids=[], leika_keys=[], phase=None, reifegrad=None, reifegrad_model=None)
    f.listing(session, world["far"], publish_by=world["admin"], title="Prozessregister Salzuflen", kind="projekt",
              ozg_ids=[], leika_keys=[], reifegrad=None, reifegrad_model=None)

    def titles(query: str) -> str:
        return client.get("/eintraege?" + query).get_data(as_text=True)

    follow()  # browsing by date is answered by the index, which the worker keeps following
    html = titles("art=komponente")
    assert "Formularserver Mannheim" in html and "Hundesteuer Freiburg" not in html
    html = titles("land=05")
    assert "Prozessregister Salzuflen" in html and "Formularserver Mannheim" not in html
    html = titles("netzwerk=andi")
    assert "Hundesteuer Freiburg" in html and "Prozessregister Salzuflen" not in html
    html = titles("nachnutzung=1")
    assert "Hundesteuer Freiburg" in html and "Formularserver Mannheim" not in html
    html = titles("ozg=10160&reifegrad=3")
    assert "Hundesteuer Freiburg" in html and "Prozessregister Salzuflen" not in html
    html = titles("lizenz=EUPL-1.2")
    assert "Formularserver Mannheim" in html and "Hundesteuer Freiburg" not in html
    follow()  # a search goes through the index, which the worker keeps following
    html = re.sub("</?mark>", "", titles("q=prozess"))  # the matched words are highlighted
    assert "Prozessregister Salzuflen" in html and "Hundesteuer Freiburg" not in html
    html = titles("themenfeld=999")
    assert "Keine Einträge passen" in html


def test_browse_sorts_and_paginates(client, session, world):
    """Sorting by title orders A-Z and page 2 holds the rest."""
    for i in range(21):
        f.listing(session, world["owner"], publish_by=world["coord"], title=f"Dienst {i:02d}")
    page1 = client.get("/eintraege?sortierung=titel").get_data(as_text=True)
    assert page1.index("Dienst 00") < page1.index("Dienst 01")
    assert "Dienst 20" not in page1 and "Seite 1 von 2" in page1
    chosen = client.get("/eintraege?sortierung=titel&art=dienst&art=projekt").get_data(as_text=True)
    assert "art=dienst&amp;art=projekt" in chosen  # the next page keeps both choices
    page2 = client.get("/eintraege?sortierung=titel&seite=2").get_data(as_text=True)
    assert "Dienst 20" in page2 and "Dienst 00" not in page2


def test_listing_page_shows_fields_and_sanitises_markdown(client, session, world):
    """The listing page renders Markdown without scripts, handlers or javascript: links."""
    item = f.listing(
        session, world["owner"], publish_by=world["coord"],
        description="**fett** <script>alert(1)</script> [klick](javascript:alert(2)) <img src=x onerror=alert(3)>",
        licence="MIT", platform="Service-BW",
    )
    html = client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    assert "<strong>fett</strong>" in html
    prose = html.split('id="beschreibung"')[1].split("</section>")[0]
    assert "<script" not in prose and 'href="javascript' not in prose and "<img" not in prose
    assert 'href="/ozg/10160"' in html and "99102013000000" in html
    assert "Service-BW" in html and "MIT" in html and "von 4" in html


def test_listing_page_shows_reusers_similar_and_owner_actions(client, auth, session, world):
    """Reusers appear with stage, similar listings are linked, the owner sees edit."""
    item = f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg")
    twin = f.listing(session, world["other"], publish_by=world["coord"], title="Hundesteuer Mannheim")
    reuse.declare_reuse(session, world["far"], item, {"stage": "pilot"})
    html = client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    assert "Bad Salzuflen" in html and "Pilot" in html
    assert f"/eintraege/{twin.slug}" in html
    assert "Bearbeiten" not in html and "Nachnutzung erklären" not in html
    auth.login("owner@example.org")
    html = client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    assert f"/eintraege/{item.slug}/bearbeiten" in html and "Statusmeldung schreiben" in html
    assert "Nachnutzung erklären" not in html
    auth.logout()
    auth.login("other@example.org")
    html = client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    assert "Nachnutzung erklären" in html and 'name="csrf_token"' in html
    assert f"/eintraege/{item.slug}/bearbeiten" not in html


def test_drafts_and_network_listings_hidden_from_anonymous(client, session, world):
    """A draft and a members-only listing are 404 for anonymous visitors."""
    draft = f.listing(session, world["owner"])
    members = f.listing(session, world["owner"], publish_by=world["coord"], visibility="network")
    assert client.get(f"/eintraege/{draft.slug}").status_code == 404
    assert client.get(f"/eintraege/{members.slug}").status_code == 404
    assert members.title not in client.get("/eintraege").get_data(as_text=True)


def test_municipality_page_shows_coverage_and_gaps(client, session, world):
    """Coverage lists own live services and offers from others for missing ones."""
    f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg")
    f.listing(session, world["other"], publish_by=world["coord"], title="Gewerbe Mannheim",
              ozg_ids=[10294], leika_keys=[], reuse_offered=True, reuse_terms="Gerne.")
    offered = f.listing(session, world["far"], publish_by=world["admin"], title="Parkausweis Salzuflen",
                        ozg_ids=[10173], leika_keys=[], reuse_offered=True, reuse_terms="Gerne.")
    reuse.declare_reuse(session, world["owner"], offered, {"stage": "production"})
    html = client.get(f"/kommunen/{f.FREIBURG}").get_data(as_text=True)
    assert "<strong>2</strong> von" in html
    assert "Hundesteuer Freiburg" in html and "(Nachnutzung)" in html
    summary = html.split('id="luecken"')[1]  # the page counts the gaps per Themenfeld and links to them
    assert "Für <strong>1</strong> OZG-Leistungen" in summary and f'href="/kommunen/{f.FREIBURG}/luecken"' in summary
    gaps = client.get(f"/kommunen/{f.FREIBURG}/luecken").get_data(as_text=True).split("<h1")[1]
    assert "Gewerbe Mannheim" in gaps and "Parkausweis Salzuflen" not in gaps
    assert "ANDI" in html or "Netzwerk andi" in html
    assert client.get("/kommunen/00000000").status_code == 404
    assert client.get("/kommunen/00000000/luecken").status_code == 404


def test_municipality_gaps_name_the_best_offer_and_count_the_rest(client, auth, session, world):
    """Per missing OZG-Leistung the page counts the offers others make, names the best one
    (a live service before a newer pilot), leaves out its own offers and what it cannot see."""
    f.listing(session, world["other"], publish_by=world["coord"], title="Gewerbe live Mannheim",
              ozg_ids=[10294], leika_keys=[], reuse_offered=True, reuse_terms="Gerne.")
    f.listing(session, world["far"], publish_by=world["admin"], title="Gewerbe Pilot Salzuflen", phase="in_progress",
              ozg_ids=[10294], leika_keys=[], reuse_offered=True, reuse_terms="Gerne.")
    f.listing(session, world["far"], publish_by=world["admin"], title="Gewerbe intern Salzuflen",
              ozg_ids=[10294], leika_keys=[], reuse_offered=True, reuse_terms="Gerne.", visibility="network")
    f.listing(session, world["owner"], publish_by=world["coord"], title="Gewerbe geplant Freiburg", phase="planned",
              ozg_ids=[10294], leika_keys=[], reuse_offered=True, reuse_terms="Gerne.", reifegrad=None,
              reifegrad_model=None)
    gaps = client.get(f"/kommunen/{f.FREIBURG}/luecken").get_data(as_text=True).split("<h1")[1]
    entry = next(li for li in gaps.split("<li>") if 'href="/ozg/10294"' in li)
    assert "(2 Angebote)" in entry  # Mannheim and Salzuflen's pilot; not Freiburg's own, not members-only
    assert "Gewerbe live Mannheim" in entry and "Gewerbe Pilot Salzuflen" not in entry  # one named: live first
    assert "intern" not in gaps and "Gewerbe geplant Freiburg" not in gaps
    f.user(session, "officer", f.LEMGO, email="lemgo@example.org")
    auth.login("lemgo@example.org")  # a member of Salzuflen's network also counts its members-only offer
    gaps = client.get(f"/kommunen/{f.FREIBURG}/luecken").get_data(as_text=True).split("<h1")[1]
    assert "(3 Angebote)" in next(li for li in gaps.split("<li>") if 'href="/ozg/10294"' in li)


def test_ozg_index_search_and_detail_matrix(client, session, world):
    """The catalogue is searchable and the OZG page lists efforts and reusers."""
    item = f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg",
                     reuse_offered=True, reuse_terms="Gerne.")
    f.listing(session, world["other"], publish_by=world["coord"], title="Hundesteuer Mannheim", phase="planned",
              reifegrad=None, reifegrad_model=None)
    reuse.declare_reuse(session, world["far"], item, {"stage": "production"})
    html = client.get("/ozg?q=Hundehaltung").get_data(as_text=True)
    assert 'href="/ozg/10160"' in html
    assert 'href="/ozg/10160"' in client.get("/ozg?q=99102013000000").get_data(as_text=True)
    assert 'href="/ozg/10160"' in client.get("/ozg?q=10160").get_data(as_text=True)
    html = client.get("/ozg/10160").get_data(as_text=True)
    matrix = html.split('class="matrix"')[1]
    assert "Freiburg" in matrix and "Mannheim" in matrix and "Bad Salzuflen" in matrix
    assert "Im Betrieb" in matrix and "Modell 1.1" in matrix and "Geplant" in matrix
    assert "Stufen der beiden Modelle sind nicht vergleichbar" in html.split('id="matrix"')[1]  # models apart
    assert client.get("/ozg/1").status_code == 404


def test_ozg_matrix_pages_efforts_before_reuses_and_counts_all(client, session, world):
    """The who-does-what table is paged: own efforts first (live before planned), then reuses;
    the counts cover every row, not the page."""
    from marktplatz.services import catalogue

    live = f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg",
                     reuse_offered=True, reuse_terms="Gerne.")
    planned = f.listing(session, world["other"], publish_by=world["coord"], title="Hundesteuer Mannheim",
                        phase="planned", reifegrad=None, reifegrad_model=None)
    reuse.declare_reuse(session, world["far"], live, {"stage": "production"})
    session.commit()
    first = catalogue.ozg_matrix(session, None, 10160, page=1, size=2)
    assert [r["listing"].id for r in first.rows] == [live.id, planned.id] and first.pages == 2
    assert (first.total, first.efforts, first.reusers) == (3, 2, 1)
    second = catalogue.ozg_matrix(session, None, 10160, page=9, size=2)  # past the end: the last page
    assert second.page == 2 and [r["reuse"].organisation.short_name for r in second.rows] == ["Bad Salzuflen"]
    html = client.get("/ozg/10160?seite=abc").get_data(as_text=True)
    assert "2 Einträge von Kommunen setzen" in html and "1 nutzt" in html


def test_dashboard_needs_login_and_shows_own_work(client, auth, session, world):
    """The dashboard lists own listings with state, reuses, and changes on followed listings."""
    assert client.get("/meine-kommune").status_code == 302
    mine = f.listing(session, world["owner"], title="Mein Entwurf")
    theirs = f.listing(session, world["other"], publish_by=world["coord"], title="Fremder Dienst")
    reuse.declare_reuse(session, world["owner"], theirs, {"stage": "evaluating"})
    reuse.follow(session, world["owner"], theirs)
    from marktplatz.services import listings

    listings.post_status_update(session, world["other"], theirs, {"title": "Neue Version live"})
    auth.login("owner@example.org")
    html = client.get("/meine-kommune").get_data(as_text=True)
    assert mine.title in html and "Entwurf" in html
    assert "Fremder Dienst" in html and "In Prüfung" in html
    assert "hat eine Statusmeldung" in html


def test_dashboard_loads_the_reuses_of_own_listings_in_one_query(client, auth, session, world):
    """Each own listing shows its count of active reuses: read in one query, not one per listing
    (at 100,000 listings the page spent a sixth of its time in these lazy loads)."""
    from sqlalchemy import event

    own = [f.listing(session, world["owner"], publish_by=world["coord"], title=f"Eigener Dienst {i}")
           for i in range(4)]
    for lst in own[:3]:
        reuse.declare_reuse(session, world["other"], lst, {"stage": "production"})
    session.commit()
    auth.login("owner@example.org")
    statements: list[str] = []
    engine = session.get_bind()
    listen = lambda *a: statements.append(a[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        html = client.get("/meine-kommune").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert all(lst.title in html for lst in own)
    # Reads of the reuse table itself (SELECT reuse.… FROM reuse …), by listing.
    by_listing = [s for s in statements if re.match(r"SELECT reuse\.", s) and re.search(r"\breuse\.listing_id\b", s)]
    assert len([s for s in by_listing if "reuse.listing_id IN" in s]) == 1
    assert [s for s in by_listing if "reuse.listing_id IN" not in s and "organisation_id = " not in s] == []


# Page and form behaviour does not depend on the database; the database tests run on both.
pytestmark = pytest.mark.sqlite_only


@pytest.mark.parametrize("sort", ["neu", "titel"])  # the index answers "neu", SQL answers "titel"
def test_facets_are_multi_choice_or_within_and_across(client, session, world, sort):
    """Two values of one facet: either matches; two facets: both must."""
    f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg")
    f.listing(session, world["other"], publish_by=world["coord"], title="Formularserver Mannheim",
              kind="komponente", ozg_ids=[], leika_keys=[], phase=None, reifegrad=None, reifegrad_model=None)
    f.listing(session, world["far"], publish_by=world["admin"], title="Prozessregister Salzuflen", kind="projekt",
              ozg_ids=[], leika_keys=[], reifegrad=None, reifegrad_model=None)
    follow()

    def shown(query: str) -> set[str]:
        html = client.get(f"/eintraege?sortierung={sort}&" + query).get_data(as_text=True)
        return {t for t in ("Hundesteuer Freiburg", "Formularserver Mannheim", "Prozessregister Salzuflen")
                if t in html}

    assert shown("art=komponente&art=projekt") == {"Formularserver Mannheim", "Prozessregister Salzuflen"}
    assert shown("art=komponente&art=projekt&land=08") == {"Formularserver Mannheim"}
    assert shown("land=08&land=05") == {"Hundesteuer Freiburg", "Formularserver Mannheim", "Prozessregister Salzuflen"}
    assert shown("kreis=08311&kreis=05766") == {"Hundesteuer Freiburg", "Prozessregister Salzuflen"}
    assert shown("netzwerk=lippe&netzwerk=andi&art=dienst") == {"Hundesteuer Freiburg"}


def test_browse_page_labels_its_facets_without_asking_the_index_for_labels(client, session, world):
    """The page labels its options from the filter options; the index's facet labels (names of
    Länder and up to 400 Kreise, read per page) were never shown and are not looked up."""
    from sqlalchemy import event

    f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg")
    follow()
    statements: list[str] = []
    engine = session.get_bind()
    listen = lambda *a: statements.append(a[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        html = client.get("/eintraege?q=Hundesteuer").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert facet_options(html, "Land")["Baden-Württemberg"] == "1"
    assert facet_options(html, "Kreis")["Freiburg im Breisgau, Stadtkreis"] == "1"
    label_reads = [s for s in statements if re.search(r"WHERE land\.code IN|WHERE organisation\.kreis_key IN", s)]
    assert label_reads == []


def test_facets_keep_their_options_and_counts_after_a_choice(client, session, world):
    """A chosen facet still counts its other options (without its own choice), the other facets
    count within the choice, and Kreis has counts."""
    f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg")
    f.listing(session, world["owner"], publish_by=world["coord"], title="Formularbaukasten Freiburg",
              kind="komponente", ozg_ids=[], leika_keys=[], phase=None, reifegrad=None, reifegrad_model=None)
    f.listing(session, world["far"], publish_by=world["admin"], title="Prozessregister Salzuflen", kind="projekt",
              ozg_ids=[], leika_keys=[], reifegrad=None, reifegrad_model=None)
    follow()
    html = client.get("/eintraege").get_data(as_text=True)
    assert facet_options(html, "Kreis") == {"Freiburg im Breisgau, Stadtkreis": "2", "Lippe": "1"}
    html = client.get("/eintraege?art=projekt").get_data(as_text=True)
    assert "1 Eintrag gefunden" in html
    assert facet_options(html, "Art") == {"Dienst": "1", "Komponente": "1", "Projekt": "1"}  # all options stay
    assert 'value="projekt" form="browse-form" checked' in html
    assert facet_options(html, "Land") == {"Nordrhein-Westfalen": "1"}  # within the choice
    assert facet_options(html, "Kreis") == {"Lippe": "1"}
    html = client.get("/eintraege?art=projekt&kreis=08311").get_data(as_text=True)
    assert "0 Einträge gefunden" in html
    assert facet_options(html, "Art") == {"Dienst": "1", "Komponente": "1", "Projekt": "0"}  # in Freiburg's Kreis
    assert facet_options(html, "Kreis") == {"Lippe": "1", "Freiburg im Breisgau, Stadtkreis": "0"}  # the projects, by Kreis
    assert "Filter (2)" in html


def test_browse_url_carries_no_empty_parameters(client):
    """A form sent without JavaScript (empty fields included) is redirected to its clean URL."""
    resp = client.get("/eintraege?q=&art=dienst&ozg=&reifegrad=&sortierung=neu")
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/eintraege?art=dienst&sortierung=neu"
    assert client.get("/eintraege?q=&ozg=").headers["Location"] == "/eintraege"
    html = client.get("/eintraege?art=dienst&art=projekt").get_data(as_text=True)
    assert 'value="dienst" form="browse-form" checked' in html and 'value="projekt" form="browse-form" checked' in html


def test_reifegrad_filter_keeps_the_two_models_apart(client, session, world):
    """Grade 4 of model 1.1 (its top) is not grade 4 of model 2.0: the filter and its counts
    are per model, and the page says why."""
    f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg",
              reifegrad_model="1.1", reifegrad=4)
    f.listing(session, world["other"], publish_by=world["coord"], title="Parkausweis Mannheim",
              reifegrad_model="2.0", reifegrad=5)
    follow()
    for sort in ("neu", "titel"):
        html = client.get(f"/eintraege?reifegrad=2.0:4&sortierung={sort}").get_data(as_text=True)
        assert "Parkausweis Mannheim" in html and "Hundesteuer Freiburg" not in html, sort
        html = client.get(f"/eintraege?reifegrad=1.1:4&sortierung={sort}").get_data(as_text=True)
        assert "Hundesteuer Freiburg" in html and "Parkausweis Mannheim" not in html, sort
    html = client.get("/eintraege").get_data(as_text=True)
    assert "Stufe 4 von 4 (Modell 1.1) (1)" in html and "Stufe 5 von 7 (Modell 2.0) (1)" in html
    assert "Stufe 6 von 7" not in html  # no listing there
    assert "nicht vergleichbar" in html
