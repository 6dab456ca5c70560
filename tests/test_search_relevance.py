"""Relevance set: German queries and the listings expected at the top, on the demo data."""

from __future__ import annotations

import pytest

from marktplatz import create_app, search
from tests.conftest import _demo_copy, _shared_dir

# (query, title expected among the top k results, k)
CASES = [
    # Where a query matches all 14 dog-tax listings about equally, the ranking favours what
    # can be reused (search/ranking.py): Freiburg's live service, offered for reuse and run by
    # another town, comes first. These four expected other dog-tax listings before that.
    ("hundesteur", "Hundesteuer-Anmeldung online", 3),
    ("Hundesteuer", "Hundesteuer-Anmeldung online", 1),  # was 13th of 15 (issue 16)
    ("Hunde Steuer", "Hundesteuer-Anmeldung online", 1),
    ("Hunde-Steuer", "Hundesteuer online", 5),
    ("Hundesteueranmeldung", "Hundesteuer-Anmeldung online", 1),
    ("Hundesteuer Freiburg", "Hundesteuer-Anmeldung online", 1),
    ("Freiburg im Breisgau", "Hundesteuer-Anmeldung online", 1),
    ("Mannheim Hundesteuer", "Hundesteuer online an- und abmelden", 1),
    ("Hundesteuer Service-BW", "Hundesteuer-Service", 3),
    ("Steuerbefreiung Hund", "Hundesteuer: Anmeldung, Abmeldung, Befreiung", 3),
    ("civento", "Hundesteuer digital", 1),
    ("10160", "Hund anmelden", 3),
    ("99102013000000", "Hundesteuer-Anmeldung online", 3),
    ("10124", "Wohnsitz an- und abmelden", 1),
    ("Meldebescheinigung", "Wohnsitz an- und abmelden", 1),
    ("Gewerbe anmelden", "Gewerbe anmelden", 1),
    ("Parkausweis", "Bewohnerparkausweis beantragen", 1),
    ("Tangerhütte", "Digitales Rathaus Tangerhütte", 1),
    ("Tangerhuette", "Digitales Rathaus Tangerhütte", 1),
    ('"Digitales Rathaus"', "Digitales Rathaus Tangerhütte", 1),
    ("Digitales Rathaus", "Digitales Rathaus Tangerhütte", 3),
    ("Barrierefreiheit", "Digitales Rathaus Tangerhütte", 1),
    ("Leichte Sprache", "Digitales Rathaus Tangerhütte", 1),
    # Offenburg's "Hundesteuer im Bürgerportal" names the word in its title and rightly wins.
    ("Bürgerportal", "Digitales Rathaus Tangerhütte", 3),
    ("Wahllokal", "Wahllokalsystem", 1),
    ("Wahlbezirke", "Wahlbezirke-Editor", 1),
    ("Geodaten", "Prüftool für Geodaten", 1),
    ("Pruftool Geodaten", "Prüftool für Geodaten", 1),
    ("Badestellen", "Berliner Badestellen", 1),
    ("Kita Suche", "Kita-Suche", 1),
    ("Ferienplaner", "Kinderzeit-Ferienplaner", 1),
    ("Erfrischungskarte", "Berliner Erfrischungskarte", 1),
    ("Weihnachtsmarkt", "Berliner Weihnachtsmarkt-Finder", 1),
    ("Breitband", "Berliner-Breitband-Portal", 1),
    ("Haushaltsdaten", "Berliner Haushaltsdaten", 1),
    ("Praktikum", "Praktikumsplaner", 3),
    ("Ehrenamt", "Ehrenamtjustiz", 3),
]


@pytest.fixture(scope="module")
def demo_app(templates, tmp_path_factory):
    """Return an app on a SQLite copy of the demo content and its index, for this module."""
    tmp = tmp_path_factory.mktemp("relevance")
    url, _name, index = _demo_copy("sqlite", _shared_dir(tmp_path_factory), templates, tmp)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "INDEX_DIR": index,
                      "SECRET_KEY": "t", "MAIL_DIR": str(tmp / "mail")})
    yield app
    app.extensions["sqlalchemy_engine"].dispose()


def test_relevance_set_has_enough_queries():
    assert len(CASES) >= 30


@pytest.mark.parametrize(("query", "title", "k"), CASES)
def test_expected_listing_ranks_at_the_top(demo_app, query, title, k):
    with demo_app.app_context():
        result = search.search_listings(None, query, per_page=k)
        titles = [h.title for h in result.hits]
        assert title in titles, (query, titles)


def test_hundesteur_finds_dog_tax_with_facets(demo_app):
    with demo_app.app_context():
        result = search.search_listings(None, "hundesteur")
        assert result.total >= 13
        assert {v for v, _l, _n in result.facets["kind"]} == {"dienst", "projekt"}
        assert ("ja", "Ja", 1) in result.facets["reuse_offered"]
        assert any(label.startswith("ANDI") for _v, label, _n in result.facets["network"])


def test_network_listing_only_for_members(demo_app):
    with demo_app.app_context():
        from sqlalchemy import select

        from marktplatz.core.db import get_session
        from marktplatz.models import User

        assert search.search_listings(None, "Prozessregister").total == 0
        lemgo = get_session().scalar(select(User).where(User.email == "digital@lemgo.example"))
        assert [h.title for h in search.search_listings(lemgo, "Prozessregister").hits] == ["Gemeinsames Prozessregister Lippe"]


# Targets of issue 16: the German relevance set (tests/fixtures/relevance_queries.csv).
TARGETS = {"listing": 0.95, "catalogue": 0.90}


def test_relevance_set_meets_its_targets(demo_app):
    from tests.relevance_metrics import cases, evaluate, report

    rows = cases()
    assert len(rows) >= 150
    scores = evaluate(demo_app)
    print(report(scores))
    for kind, target in TARGETS.items():
        s = scores[kind]
        assert s.hits_at_3 >= target, (kind, report(scores), s.misses)


def test_ranked_catalogue_api_pages_through_the_ranking_without_repeats(demo_app):
    client = demo_app.test_client()
    url, seen = "/api/v1/ozg/leistungen?q=Personalausweis&limit=1", []
    while url and len(seen) < 6:
        body = client.get(url).get_json()
        seen += [item["id"] for item in body["items"]]
        url = body["links"]["next"]
    assert seen[0] == 10119 and len(seen) == len(set(seen)) and len(seen) > 1
    narrowed = client.get("/api/v1/ozg/leika?q=Hundesteuer&ozg_id=10110").get_json()
    assert narrowed["items"] == []  # the filter narrows the ranking
    bad = client.get("/api/v1/ozg/leistungen?q=Hund&after=kaputt")
    assert bad.status_code == 422 and bad.content_type.startswith("application/problem+json")
