"""Search: German analysis, visibility, facets, highlights, the worker's follower, read-your-writes,
rebuild, locks."""

from __future__ import annotations

import fcntl
import os
import time

import pytest
from sqlalchemy import select
from whoosh import query as Q

from marktplatz import search
from marktplatz.models import Listing, utcnow
from marktplatz.permissions import can
from marktplatz.services import listings as listing_service
from marktplatz.services import reuse as reuse_service
from marktplatz.services.duplicates import find_duplicates
from tests import factories as f
from tests.search_support import facet_options, follow, seed_index, template_for


@pytest.fixture
def sapp(app, backend, database_urls, tmp_path_factory):
    """Return the app with a ready search index of the reference data."""
    root = template_for(backend, database_urls[backend], str(tmp_path_factory.getbasetemp()))
    seed_index(app, root)
    return app


def ids(result) -> set[int]:
    """Return the listing ids of a result."""
    return set(result.listing_ids)


def all_ids(user, q: str, filters=None) -> set[int]:
    """Return every listing id of all result pages."""
    out: set[int] = set()
    page = 1
    while True:
        r = search.search_listings(user, q, filters or {}, "relevance", page, 100)
        out |= ids(r)
        if page >= r.pages:
            return out
        page += 1


@pytest.fixture
def world(sapp, session):
    """Create officers, a coordinator, an admin and published dog-tax listings."""
    net = f.network(session, "bw", f.FREIBURG, f.MANNHEIM)
    admin = f.user(session, "admin", ags=None)
    coord = f.user(session, "coordinator", ags=f.KARLSRUHE, networks=[net])
    freiburg = f.user(session, ags=f.FREIBURG)
    mannheim = f.user(session, ags=f.MANNHEIM)
    lemgo = f.user(session, ags=f.LEMGO)
    a = f.listing(session, freiburg, admin, title="Hundesteuer-Anmeldung online",
                  summary="Hunde online anmelden und abmelden.", reuse_offered=True,
                  reuse_terms="Kostenfrei.", licence="EUPL-1.2")
    b = f.listing(session, mannheim, admin, title="Hunde-Steuer digital", phase="in_progress")
    c = f.listing(session, lemgo, admin, title="Sperrmüll-Termin online", summary="Abfall: Straße und Termin wählen.",
                  tags=["Abfall", "Sperrmüll"], ozg_ids=[10110], leika_keys=[], description="Müllabfuhr bestellen.")
    follow()
    return {"net": net, "admin": admin, "coord": coord, "freiburg": freiburg, "mannheim": mannheim,
            "lemgo": lemgo, "a": a, "b": b, "c": c}


def test_typo_hundesteur_finds_dog_tax_with_facets(world):
    r = search.search_listings(None, "hundesteur")
    assert {world["a"].id, world["b"].id} <= ids(r)
    assert world["c"].id not in ids(r)
    kinds = dict((v, n) for v, _label, n in r.facets["kind"])
    assert kinds == {"dienst": 2}
    assert ("08", "Baden-Württemberg", 2) in r.facets["land"]


@pytest.mark.parametrize(("query", "expected"), [
    ("Steuer", {"a", "b"}),                 # compound part finds the compound
    ("Hundesteuer", {"a", "b"}),            # finds "Hunde-Steuer" and "Hundesteuer-Anmeldung"
    # The joined hyphenated word; b through its OZG-Leistung 10160, whose LeiKa-Leistung is
    # "Hundesteuer Anmeldung" (the catalogue as a first-class index).
    ("Hundesteueranmeldung", {"a", "b"}),
    ("Muell", {"c"}),                        # umlaut folding
    ("Müll", {"c"}),
    ("Strasse", {"c"}),                      # ß folding
    ("Sperrmuell", {"c"}),
    ("10110", {"c"}),                        # OZG-ID
    ("99102013000000", {"a", "b"}),          # LeiKa key
    ("05766044", {"c"}),                     # AGS of the owner
    ("Lemgo", {"c"}),                        # municipality name
    ("abfall", {"c"}),                       # tag
    ('"online anmelden"', {"a"}),            # phrase
])
def test_german_matching(world, query, expected):
    found = ids(search.search_listings(None, query))
    assert found == {world[k].id for k in expected}


def test_phrase_requires_adjacent_words(world):
    assert ids(search.search_listings(None, '"anmelden online"')) == set()


def test_title_weighs_more_than_description(sapp, session):
    admin = f.user(session, "admin", ags=None)
    owner = f.user(session, ags=f.FREIBURG)
    in_body = f.listing(session, owner, admin, title="Bürgerportal", summary="Portal der Stadt",
                        description="Auch Wohngeld ist dabei.", tags=[], ozg_ids=[], leika_keys=[])
    in_title = f.listing(session, owner, admin, title="Wohngeld online", summary="Antrag stellen",
                         description="Ein Dienst.", tags=[], ozg_ids=[], leika_keys=[])
    follow()
    r = search.search_listings(None, "Wohngeld")
    assert r.listing_ids[:2] == [in_title.id, in_body.id]


def test_no_query_leaks_a_listing(sapp, session):
    net = f.network(session, "lippe", f.BAD_SALZUFLEN, f.LEMGO)
    admin = f.user(session, "admin", ags=None)
    coord = f.user(session, "coordinator", ags=f.KARLSRUHE, networks=[net])
    salzuflen = f.user(session, ags=f.BAD_SALZUFLEN)
    lemgo = f.user(session, ags=f.LEMGO)
    freiburg = f.user(session, ags=f.FREIBURG)
    made = []
    for i, (owner, vis, state) in enumerate([
        (salzuflen, "public", "published"), (salzuflen, "network", "published"),
        (salzuflen, "public", "draft"), (salzuflen, "public", "in_review"),
        (lemgo, "network", "published"), (lemgo, "public", "archived"), (freiburg, "network", "published"),
        (freiburg, "public", "draft"), (freiburg, "public", "in_review"), (lemgo, "network", "archived"),
    ]):
        item = f.listing(session, owner, admin if state in ("published", "archived") else None,
                         title=f"Prozessregister Hundesteuer Variante {i}", visibility=vis)
        if state == "in_review":
            listing_service.submit_for_review(session, owner, item)
            session.commit()
        if state == "archived":
            listing_service.archive_listing(session, owner, item)
            session.commit()
        made.append(item)
    session.commit()
    follow()
    viewers = [None, admin, coord, salzuflen, lemgo, freiburg, f.user(session, ags=f.MANNHEIM)]
    queries = ["", "Prozessregister", "hundesteur", "Variante", "online", "99102013000000", "10160",
               "Bad Salzuflen", "Lemgo", '"Hundesteuer Variante"', "Steuer"]
    session.expire_all()
    everything = list(session.scalars(select(Listing)))
    checked = 0
    for viewer in viewers:
        allowed = {x.id for x in everything if can(viewer, "listing.view", x)}
        # The full list is exactly the permitted set (archived ones only when asked for).
        assert all_ids(viewer, "", {"include_archived": True}) == allowed
        assert all_ids(viewer, "") == {x.id for x in everything if x.id in allowed and x.status != "archived"}
        for q in queries:
            found = all_ids(viewer, q)
            assert found <= allowed, (viewer and viewer.email, q, found - allowed)
            checked += 1
            for flt in ({"kind": ["dienst"]}, {"reuse_offered": ["nein"]}):
                assert all_ids(viewer, q, flt) <= allowed
        for s in search.suggest(viewer, "Prozess", 20)["listings"]:
            assert s["id"] in allowed
    assert checked == len(viewers) * len(queries)


def test_facets_count_whole_result_set_and_pagination(world, session):
    owner = world["freiburg"]
    for i in range(5):
        f.listing(session, owner, world["admin"], title=f"Hundesteuer Extra {i}", kind="projekt")
    follow()
    r = search.search_listings(None, "Hundesteuer", per_page=2, page=1)
    assert r.total == 7 and len(r.hits) == 2 and r.pages == 4
    kinds = {v: n for v, _l, n in r.facets["kind"]}
    assert kinds == {"dienst": 2, "projekt": 5}
    r2 = search.search_listings(None, "Hundesteuer", per_page=2, page=2)
    assert not set(r.listing_ids) & set(r2.listing_ids)
    only = search.search_listings(None, "Hundesteuer", {"kind": ["dienst"]})
    assert only.total == 2
    assert {v: n for v, _l, n in only.facets["reuse_offered"]} == {"ja": 1, "nein": 1}
    assert [x[0] for x in only.facets["licence"]] == ["EUPL-1.2"]


def test_sort_newest_and_most_reused(world, session):
    reuser = f.user(session, ags=f.KARLSRUHE)
    reuse_service.declare_reuse(session, reuser, world["b"], {"stage": "interested"})
    follow()
    r = search.search_listings(None, "Hundesteuer", sort="reused")
    assert r.listing_ids[0] == world["b"].id
    newest = search.search_listings(None, "", sort="newest")
    assert newest.listing_ids[0] == world["c"].id


def test_highlights_escape_html_but_mark_terms(sapp, session):
    admin = f.user(session, "admin", ags=None)
    owner = f.user(session, ags=f.FREIBURG)
    f.listing(session, owner, admin, title="Wohngeld <script>alert(1)</script>",
              summary="Wohngeld & <b>Mietzuschuss</b> beantragen")
    follow()
    hit = search.search_listings(None, "Wohngeld").hits[0]
    assert "<script>" not in hit.title_html and "&lt;script&gt;" in hit.title_html
    assert "<mark>Wohngeld</mark>" in hit.title_html
    assert "<b>" not in hit.snippet_html and "<mark>" in hit.snippet_html


def test_changes_follow_through_the_change_log(world, session):
    a = world["a"]
    listing_service.update_listing(session, world["freiburg"], a, {"title": "Katzenregister"}, None, partial=True)
    session.commit()
    assert a.id not in ids(search.search_listings(None, "Katzenregister"))  # web processes never write the index
    assert follow() >= 1
    assert world["a"].id in ids(search.search_listings(None, "Katzenregister"))
    # The old document is replaced, not kept beside the new one (the listing itself may still
    # be found through its OZG-Leistung 10160, whose LeiKa names say "Hundesteuer Anmeldung").
    old = search.search_listings(None, "Hundesteuer-Anmeldung online")
    assert all(h.title != "Hundesteuer-Anmeldung online" for h in old.hits)
    listing_service.archive_listing(session, world["mannheim"], world["b"])
    session.commit()
    follow()
    # Archived listings are left out by default; the filter brings them back for those who
    # could see them, so the index knows the new status.
    assert world["b"].id not in ids(search.search_listings(world["mannheim"], "hundesteur"))
    r = search.search_listings(world["mannheim"], "hundesteur", {"include_archived": True})
    assert world["b"].id in ids(r)


def test_worker_round_skips_while_another_process_holds_the_follow_lock(world, session):
    from marktplatz.search.index import current_generation

    gen = current_generation(search.index_dir())
    fd = os.open(os.path.join(gen, "follow.lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        listing_service.update_listing(session, world["freiburg"], world["a"], {"title": "Katzenregister"}, None, partial=True)
        session.commit()
        assert follow() == 0  # does not wait, does not fail: the holder applies the rows
        r = search.search_listings(None, "Katzenregister")
        assert r.total == 0
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert follow() >= 1
    assert search.search_listings(None, "Katzenregister").total == 1


def test_whoosh_writer_lock_never_reaches_the_user(world, session, client):
    from whoosh import index as windex

    from marktplatz.search.index import current_generation

    ix = windex.open_dir(current_generation(search.index_dir()))
    writer = ix.writer()
    try:
        listing_service.update_listing(session, world["freiburg"], world["a"], {"title": "Katzenregister"}, None, partial=True)
        session.commit()
        assert follow() == 0  # the worker's round gives up on the writer lock quietly
        resp = client.get("/eintraege?q=hundesteuer")
        assert resp.status_code == 200
    finally:
        writer.cancel()
    assert follow() >= 1
    assert search.search_listings(None, "Katzenregister").total == 1


def test_search_page_without_javascript(world, client):
    resp = client.get("/eintraege?q=hundesteur")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert f'data-listing-id="{world["a"].id}"' in html
    assert facet_options(html, "Art") == {"Dienst": "2"}
    assert "<mark>" in html
    filtered = client.get("/eintraege?q=hundesteuer&art=dienst&phase=in_progress").get_data(as_text=True)
    assert f'data-listing-id="{world["b"].id}"' in filtered and f'data-listing-id="{world["a"].id}"' not in filtered
    assert "<script>" not in html.split("</head>")[1]


def test_old_search_address_redirects_to_browse_page(world, client):
    resp = client.get("/suche?q=hundesteuer&kind=dienst&sort=newest")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/eintraege?q=hundesteuer&sortierung=neu&art=dienst")


def test_did_you_mean_and_suggestion_list(world, client):
    html = client.get("/eintraege?q=Sperrmill").get_data(as_text=True)
    assert "Meinten Sie" in html and "sperrmuell" in html
    html = client.get("/eintraege?q=Freiburg").get_data(as_text=True)
    assert "Passende Kommunen" in html and "Freiburg im Breisgau" in html


def test_autocomplete_json(world, client):
    data = client.get("/suche/vorschlaege?q=Hundest").get_json()
    assert world["a"].id in [s["id"] for s in data["listings"]]
    data = client.get("/suche/vorschlaege?q=Freib").get_json()
    assert any(s["label"] == "Freiburg im Breisgau" for s in data["organisations"])
    data = client.get("/suche/vorschlaege?q=Hundehalt").get_json()
    assert any(s["id"] == 10160 for s in data["ozg"])


def test_suggest_computes_only_the_kinds_asked_for(world, client):
    """The browse page asks for municipalities only; the others stay empty instead of being
    computed and dropped, and the municipalities are the same as in the full answer."""
    everything = search.suggest(None, "Freiburg")
    assert everything["listings"]  # world has Freiburg's listings: the full answer computes them
    only = search.suggest(None, "Freiburg", kinds=("organisations",))
    assert only["listings"] == [] and only["ozg"] == []
    assert only["organisations"] == everything["organisations"]
    assert "Freiburg im Breisgau" in [s["label"] for s in only["organisations"]]
    page = client.get("/eintraege?q=Freiburg").get_data(as_text=True)
    assert "/kommunen/08311000" in page


def test_rebuild_command_swaps_and_keeps_results(world, runner):
    from marktplatz.search.index import current_generation

    before = current_generation(search.index_dir())
    result = runner.invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    after = current_generation(search.index_dir())
    assert after != before and os.path.isdir(after)
    assert world["a"].id in ids(search.search_listings(None, "hundesteur"))


# Whoosh leaves the file handle of an unreadable TOC to the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_corrupt_index_is_detected_and_rebuilt(world):
    from marktplatz.search.index import check, current_generation

    gen = current_generation(search.index_dir())
    for name in os.listdir(gen):
        if name.endswith(".toc"):  # replaced, not written into: the file is a hard link of the run's template
            os.remove(os.path.join(gen, name))
            with open(os.path.join(gen, name), "wb") as fh:
                fh.write(b"garbage")
    assert check(search.index_dir()) is not None
    assert search.search_listings(None, "hundesteur").unavailable  # a web process does not rebuild
    follow()  # the worker does
    assert check(search.index_dir()) is None
    assert world["a"].id in ids(search.search_listings(None, "hundesteur"))


def test_duplicate_report(world, session):
    karlsruhe = f.user(session, ags=f.KARLSRUHE)
    report = find_duplicates(session, karlsruhe, {"title": "Hundesteuer online", "ozg_ids": [10160],
                                                  "leika_keys": ["99102013000000"]})
    found = [m.listing.id for m in report.matches]
    assert set(found[:2]) == {world["a"].id, world["b"].id}
    assert world["c"].id not in found
    assert report.summary == "2 Kommunen arbeiten bereits daran, 1 bietet ihre Lösung zur Nachnutzung an."
    by_text = find_duplicates(session, karlsruhe, {"title": "Sperrmüll Termin", "ozg_ids": [], "leika_keys": []})
    assert [m.listing.id for m in by_text.matches][:1] == [world["c"].id]
    assert find_duplicates(session, karlsruhe, {"title": "Friedhofsverwaltung"}).summary == ""


def test_paging_a_broad_relevance_search_returns_each_listing_once(sapp, session, monkeypatch):
    """Beyond the scored head the order is fixed, so pages neither repeat nor skip a listing."""
    from marktplatz.search import engine

    monkeypatch.setattr(engine, "SCORE_ALL", 4)  # make 14 matches a "broad" result set
    admin = f.user(session, "admin", ags=None)
    owner = f.user(session, ags=f.FREIBURG)
    made = {f.listing(session, owner, admin, title=f"Hundesteuer Variante {n}").id for n in range(14)}
    follow()
    seen: list[int] = []
    for page in range(1, 6):
        seen += search.search_listings(admin, "Hundesteuer", {}, "relevance", page, 3).listing_ids
    assert sorted(seen) == sorted(made)


@pytest.mark.parametrize("q", ["Hundesteuer", "hundesteur", "Hunde Steuer", "steuer", "Sperrmüll Termin", "Steuer für Hunde", "Gewerbeanmeldung", "Müll online",
                               '"online anmelden"', "Freiburg", "10160", "Muell"])
def test_engine_scores_equal_whoosh_scores(world, session, q):
    """The engine scores leaf by leaf; scores and ranking must equal Whoosh's matcher tree."""
    from marktplatz.search import engine
    from marktplatz.search import query as sq

    search.catch_up()
    searcher = sq._searcher(search.index_dir())
    vis = sq.visibility_filter(session, world["admin"])
    query = sq.build_query(q)
    found = engine.run(searcher, query, [vis], 50)
    reference = searcher.search(query, filter=vis, limit=50)
    assert found.total == len(reference)
    mine = sorted((round(sc, 9), d) for d, sc in found.top)
    theirs = sorted((round(h.score, 9), h.docnum) for h in reference)
    assert mine == theirs
    assert [round(sc, 9) for _d, sc in found.top] == sorted((round(h.score, 9) for h in reference), reverse=True)


def test_did_you_mean_keeps_known_words_and_fixes_typos(world, client):
    from marktplatz.search import query as sq

    search.catch_up()
    searcher = sq._searcher(search.index_dir())
    assert sq.did_you_mean(searcher, "Hundesteuer") == []  # an indexed word is not "corrected"
    assert sq.did_you_mean(searcher, "Hundesteur") == ["hundesteuer"]
    assert sq.did_you_mean(searcher, "Sperrmill online") == ["sperrmuell online"]
    assert sq.did_you_mean(searcher, "' OR '1'='1") == []  # one-letter words once crashed the automaton


def test_searchers_of_one_segment_share_the_bitmap_cache(world, session):
    """Every thread has its own Whoosh searcher; the bitmaps of a segment exist once."""
    from whoosh import index as windex

    from marktplatz.search import engine
    from marktplatz.search.index import current_generation

    search.catch_up()
    ix = windex.open_dir(current_generation(search.index_dir()))
    with ix.searcher() as one, ix.searcher() as two:
        query = Q.Term("title", "hundesteu")
        engine.run(one, query, [], 5)
        first = [seg.shared for seg, _off in engine.segments(one)]
        second = [seg.shared for seg, _off in engine.segments(two)]
        assert first and all(a is b for a, b in zip(first, second, strict=True))
        assert any(query in shared.nodes for shared in second)  # already cached by the first searcher


def test_a_listing_updated_again_and_again_is_found_once(world, session):
    """Each update replaces the document; the cached searcher must not keep stale copies."""
    listing = world["a"]
    for n in range(3):
        listing.summary = f"Runde {n}: Langlaeufer-Test."
        session.commit()
        follow()
        assert search.search_listings(None, "Langlaeufer").listing_ids == [listing.id]
        assert search.search_listings(None, "Langlaeufer").total == 1


def test_a_catch_up_applies_what_was_committed_when_it_started(world, session, sapp):
    """Under a steady stream of writes a catch-up must end: it does not chase later commits.

    A write commits while the catch-up is indexing; that catch-up leaves it to the next one.
    (Chasing once kept the index lock for as long as writes kept coming, and searches queued.)
    """
    from marktplatz.search import index as sindex

    listing_service.update_listing(session, world["freiburg"], world["a"], {"title": "Katzenregister"}, None, partial=True)
    session.commit()
    maker = sapp.extensions["sqlalchemy_sessionmaker"]
    engine = sapp.extensions["sqlalchemy_engine"]
    written: list[int] = []
    org_id = world["mannheim"].organisation_id

    def write_meanwhile() -> None:
        if written:
            return
        other = maker()
        try:
            later = Listing(kind="dienst", organisation_id=org_id, title="Papageienregister", slug="papageienregister",
                            summary="Ein Eintrag, der während der Übernahme entsteht.", status="published",
                            visibility="public", published_at=utcnow())
            other.add(later)
            other.commit()
            written.append(later.id)
        finally:
            other.close()

    root = search.index_dir()
    first = sindex.catch_up(root, engine, maker, pause=write_meanwhile)
    assert written and first.applied_rows >= 1 and not first.skipped_busy
    rows, _pos = sindex.pending_changes(engine, sindex.read_position(sindex.current_generation(root)))
    assert [r.listing_id for r in rows] == written, "the catch-up chased a write committed after it started"
    assert world["a"].id in ids(search.search_listings(None, "Katzenregister"))
    assert written[0] not in ids(search.search_listings(None, "Papageienregister"))
    assert follow() == 1  # the worker's next round applies it
    assert written[0] in ids(search.search_listings(None, "Papageienregister"))


def _token(session, user):
    from marktplatz.services import tokens

    _t, secret = tokens.create_token(session, user, user.organisation, "CMS", ["read", "write"])
    return {"Authorization": f"Bearer {secret}"}


def test_a_write_that_finds_the_index_busy_is_applied_by_the_next_worker_round(world, session, sapp, client):
    """A worker round that finds the index locked (another catch-up that may have started
    before the write committed) leaves the rows to the next round, which applies them."""
    from marktplatz.search import index as sindex

    headers = _token(session, world["freiburg"])
    root = search.index_dir()
    gen = sindex.current_generation(root)
    engine = sapp.extensions["sqlalchemy_engine"]
    fd = os.open(os.path.join(gen, "follow.lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        resp = client.post("/api/v1/listings", json=f.listing_data(title="Wellensittichregister"), headers=headers)
        assert resp.status_code == 201
        assert follow() == 0
        assert sindex.pending_changes(engine, sindex.read_position(gen))[0] != []
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert follow() >= 1
    rows, _pos = sindex.pending_changes(engine, sindex.read_position(gen))
    assert rows == []


def _cards(html: str) -> set[int]:
    import re

    return {int(x) for x in re.findall(r'data-listing-id="(\d+)"', html)}


def test_the_author_sees_a_write_before_the_worker_ran(world, session, client):
    """Read-your-writes through the API: the index lags (no worker round), yet the author's
    next search shows the write; others see the index as it is until the worker catches up."""
    a = world["a"]
    headers = _token(session, world["freiburg"])
    resp = client.patch(f"/api/v1/listings/{a.id}", json={"title": "Zqlesewort Hundesteuer"}, headers=headers)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert a.id not in ids(search.search_listings(None, "Zqlesewort"))  # the index has not applied it
    body = client.get("/api/v1/listings?q=zqlesewort", headers=headers).json
    assert [i["id"] for i in body["items"]] == [a.id]  # the author: answered from SQL
    assert client.get("/api/v1/listings?q=zqlesewort").json["items"] == []  # anonymous: the index as it is
    assert follow() >= 1
    assert [i["id"] for i in client.get("/api/v1/listings?q=zqlesewort").json["items"]] == [a.id]
    assert a.id in ids(search.search_listings(None, "Zqlesewort"))


def test_the_signed_in_author_sees_an_edit_in_the_browse_search(world, session, client, auth):
    """Read-your-writes through the web UI: an edited draft shows in its author's next search."""
    draft = f.listing(session, world["freiburg"], None, title="Hundesteuer Entwurf Freiburg")
    follow()
    auth.login(world["freiburg"].email)
    form = {"kind": "dienst", "title": "Zqentwurfwort Hundesteuer", "summary": "Hunde online an- und abmelden.",
            "description": "Text", "tags": "Hundesteuer", "ozg_ids": ["10160"], "leika_keys": ["99102013000000"],
            "phase": "live", "reifegrad": "3", "reifegrad_model": "1.1", "visibility": "public",
            "aktion": "speichern", "version": str(draft.version)}
    resp = client.post(f"/eintraege/{draft.slug}/bearbeiten", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-2000:]
    session.expire_all()
    author = session.get(type(world["freiburg"]), world["freiburg"].id)
    found = search.search_listings(author, "Zqentwurfwort")
    assert found.unavailable and found.lagging  # the index lags behind the author's write
    html = client.get("/eintraege?q=Zqentwurfwort").get_data(as_text=True)
    assert draft.id in _cards(html)
    assert "Suchindex wird gerade neu aufgebaut" not in html  # no rebuild notice for a short lag
    follow()
    assert search.search_listings(author, "Zqentwurfwort").listing_ids == [draft.id]


def test_a_lagging_author_waits_for_a_live_worker_then_answers_from_sql(world, session, client, sapp):
    """While the worker is alive (it marked itself so) but has not applied the author's write,
    the search waits at most SEARCH_FRESH_WAIT seconds, then falls back; with the worker down
    (no mark) it falls back at once."""
    from marktplatz.search.index import BEAT, beat

    headers = _token(session, world["freiburg"])
    assert client.patch(f"/api/v1/listings/{world['a'].id}", json={"title": "Zqwartewort"},
                        headers=headers).status_code == 200
    sapp.config["SEARCH_FRESH_WAIT"] = 1.5
    beat_file = os.path.join(search.index_dir(), BEAT)
    os.utime(beat_file, (time.time() - 60, time.time() - 60))  # the worker's last round: a minute ago
    started = time.monotonic()
    assert [i["id"] for i in client.get("/api/v1/listings?q=zqwartewort", headers=headers).json["items"]] == [
        world["a"].id]
    assert time.monotonic() - started < 1.5  # the worker is down: no waiting
    beat(search.index_dir())  # the worker is alive but does not get round to it
    started = time.monotonic()
    assert [i["id"] for i in client.get("/api/v1/listings?q=zqwartewort", headers=headers).json["items"]] == [
        world["a"].id]
    assert time.monotonic() - started >= 1.5


def test_with_the_index_gone_and_no_worker_pages_still_answer(world, session, client):
    """Worker down and index lost: the browse search and the API answer from SQL."""
    import shutil

    shutil.rmtree(search.index_dir())
    html = client.get("/eintraege?q=Hundesteuer").get_data(as_text=True)
    assert {world["a"].id} <= _cards(html) and "Suchindex wird gerade neu aufgebaut" in html
    body = client.get("/api/v1/listings?q=Hundesteuer").json
    assert world["a"].id in {i["id"] for i in body["items"]}
    assert client.get("/suche/vorschlaege?q=Hundest").status_code == 200
    follow()  # the worker rebuilds it
    assert world["a"].id in ids(search.search_listings(None, "hundesteur"))
