"""The listing page after its speed-ups: rendered Markdown is cached, but edits show at once,
relationships are loaded up front exactly as the lazy loads would, and what each viewer may
see (the listing itself and its similar listings) is unchanged."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from marktplatz.models import Listing
from marktplatz.services import listing_pages, listings, reuse
from marktplatz.views.web import templating

from . import factories as f


@pytest.fixture
def world(session):
    """A network of Freiburg and Mannheim, officers in it and outside, its coordinator, an admin."""
    net = f.network(session, "andi", f.FREIBURG, f.MANNHEIM)
    return {
        "net": net,
        "owner": f.user(session, "officer", f.FREIBURG, email="owner@example.org"),
        "member": f.user(session, "officer", f.MANNHEIM, email="member@example.org"),
        "outsider": f.user(session, "officer", f.BAD_SALZUFLEN, email="outsider@example.org"),
        "reuser": f.user(session, "officer", f.LEMGO, email="reuser@example.org"),
        "coord": f.user(session, "coordinator", f.KARLSRUHE, [net], email="coord@example.org"),
        "admin": f.user(session, "admin", None, email="admin@example.org"),
    }


def _prose(html: str) -> str:
    return html.split('id="beschreibung"')[1].split("</section>")[0]


def test_edited_description_shows_at_once(client, session, world):
    """The page renders the new description right after an edit, never the cached old one."""
    item = f.listing(session, world["owner"], publish_by=world["coord"], description="Alte **Fassung** A1B2.")
    html = client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    assert "Alte <strong>Fassung</strong> A1B2." in _prose(html)
    assert client.get(f"/eintraege/{item.slug}").get_data(as_text=True) == html  # served from the cache

    version = item.version
    listings.update_listing(session, world["owner"], item, {"description": "Neue **Fassung** C3D4."}, version, partial=True)
    assert item.version != version
    prose = _prose(client.get(f"/eintraege/{item.slug}").get_data(as_text=True))
    assert "Neue <strong>Fassung</strong> C3D4." in prose
    assert "A1B2" not in prose

    # Back to the old text: right again, whatever the cache holds.
    listings.update_listing(session, world["owner"], item, {"description": "Alte **Fassung** A1B2."}, item.version, partial=True)
    prose = _prose(client.get(f"/eintraege/{item.slug}").get_data(as_text=True))
    assert "Alte <strong>Fassung</strong> A1B2." in prose and "C3D4" not in prose


def test_edit_through_the_form_shows_at_once(client, auth, session, world):
    """An edit saved through the web form is on the page on the next request."""
    item = f.listing(session, world["owner"], publish_by=world["coord"], description="Erste Beschreibung E5F6.")
    auth.login("owner@example.org")
    assert "E5F6" in client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    session.expire_all()
    data = {
        "kind": "dienst", "title": item.title, "summary": "Hunde online an- und abmelden.",
        "description": "Zweite **Beschreibung** G7H8.", "tags": "Hundesteuer", "ozg_ids": ["10160"],
        "leika_keys": ["99102013000000"], "phase": "live", "reifegrad": "3", "reifegrad_model": "1.1",
        "visibility": "public", "aktion": "speichern", "version": str(session.get(Listing, item.id).version),
    }
    resp = client.post(f"/eintraege/{item.slug}/bearbeiten", data=data)
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:2000]
    prose = _prose(client.get(f"/eintraege/{item.slug}").get_data(as_text=True))
    assert "Zweite <strong>Beschreibung</strong> G7H8." in prose and "E5F6" not in prose


def test_new_status_update_and_reuse_show_at_once(client, session, world):
    """Status updates and reuses are read fresh on every request."""
    item = f.listing(session, world["owner"], publish_by=world["coord"])
    html = client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    assert "Noch keine Statusmeldungen." in html and "Bisher hat keine Kommune" in html
    listings.post_status_update(session, world["owner"], item, {"title": "Pilot gestartet J9K0", "body": "Mit **drei** Ämtern."})
    reuse.declare_reuse(session, world["reuser"], item, {"stage": "pilot"})
    html = client.get(f"/eintraege/{item.slug}").get_data(as_text=True)
    assert "Pilot gestartet J9K0" in html and "Mit <strong>drei</strong> Ämtern." in html
    assert "Lemgo" in html and "Bisher hat keine Kommune" not in html


def test_markdown_cache_sanitises_and_stays_bounded():
    """Cached HTML equals a fresh rendering, stays sanitised and the cache evicts old entries."""
    evil = "**x** <script>alert(1)</script> [k](javascript:alert(2)) <img src=x onerror=alert(3)>"
    first = templating.render_markdown(evil)
    again = templating.render_markdown(evil)
    assert first == again == templating._render_markdown(evil)
    assert "<script" not in again and 'href="javascript' not in again and "<img" not in again
    assert "<strong>x</strong>" in again
    assert templating.render_markdown("") == templating.render_markdown(None) == ""

    from marktplatz.core.caching import LockedLRU

    cache = LockedLRU(3)
    for i in range(5):
        cache.put(bytes([i]), "x" * 10)
    assert len(cache) == 3 and cache.get(bytes([0])) is None and cache.get(bytes([4])) == "x" * 10
    cache.get(bytes([2]))  # recently used: kept
    cache.put(bytes([5]), "y" * 10)
    assert cache.get(bytes([2])) is not None and cache.get(bytes([3])) is None
    by_bytes = LockedLRU(1000, getsizeof=len, largest=125)
    by_bytes.put(b"big", "z" * 900)  # larger than an eighth of the budget: not kept
    assert by_bytes.get(b"big") is None
    for i in range(10):
        by_bytes.put(bytes([i]), "w" * 120)
    assert by_bytes.size <= 1000 and len(by_bytes) == 8
    assert templating._html_cache.largest == templating._HTML_BYTES // 8


def test_page_loader_matches_lazy_loading(app, session, world):
    """load_listing_page fills every relationship with the rows and order the lazy loads give."""
    item = f.listing(session, world["owner"], publish_by=world["coord"], tags=["Zebra", "Amsel", "Hund"],
                     ozg_ids=[10160, 10110])
    listings.post_status_update(session, world["owner"], item, {"title": "Erste Meldung"})
    listings.post_status_update(session, world["owner"], item, {"title": "Zweite Meldung", "phase": "live"})
    first = reuse.declare_reuse(session, world["reuser"], item, {"stage": "interested"})
    reuse.change_reuse_stage(session, world["reuser"], first, {"stage": "pilot", "note": "los"})
    reuse.declare_reuse(session, world["member"], item, {"stage": "evaluating"})
    session.expunge_all()

    def snapshot(lst: Listing) -> dict:
        return {
            "ozg": [o.id for o in lst.ozg_leistungen],
            "leika": [lk.key for lk in lst.leika_leistungen],
            "tags": lst.tags,
            "updates": [u.id for u in lst.status_updates],
            "reuses": [(r.id, [h.id for h in r.history]) for r in lst.reuses],
        }

    lazy = snapshot(session.scalar(select(Listing).where(Listing.id == item.id)))
    session.expunge_all()
    loaded = session.scalar(select(Listing).where(Listing.id == item.id))
    listing_pages.load_listing_page(session, loaded)
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        eager = snapshot(loaded)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert statements == []  # everything was loaded up front
    assert eager == lazy
    assert len(lazy["ozg"]) == 2 and lazy["tags"] == ["Amsel", "Hund", "Zebra"]
    assert len(lazy["updates"]) == 2 and len(lazy["reuses"]) == 2 and len(lazy["reuses"][0][1]) == 2


@pytest.mark.parametrize(
    ("viewer", "draft", "network_only", "in_review"),
    [
        (None, 404, 404, 404),
        ("outsider", 404, 404, 404),
        ("member", 404, 200, 404),
        ("coord", 404, 200, 200),
        ("owner", 200, 200, 200),
        ("admin", 200, 200, 200),
    ],
)
def test_listing_visibility_unchanged(client, auth, session, world, viewer, draft, network_only, in_review):
    """Who gets which listing page is exactly as before the speed-ups."""
    drafted = f.listing(session, world["owner"])
    members = f.listing(session, world["owner"], publish_by=world["coord"], visibility="network")
    review = f.listing(session, world["owner"])
    listings.submit_for_review(session, world["owner"], review)
    public = f.listing(session, world["owner"], publish_by=world["coord"])
    if viewer:
        auth.login(f"{viewer}@example.org")
    for lst, expected in ((drafted, draft), (members, network_only), (review, in_review), (public, 200)):
        assert client.get(f"/eintraege/{lst.slug}").status_code == expected, (viewer, lst.status, lst.visibility)


def test_similar_listings_respect_each_viewer(client, auth, session, world):
    """A members-only listing is a similar listing for members only, whoever asked first."""
    page = f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg")
    secret = f.listing(session, world["member"], publish_by=world["coord"], title="Geheim Hund P4Q5",
                       visibility="network")
    draft = f.listing(session, world["member"], title="Entwurf Hund R6S7")
    other = f.listing(session, world["owner"], publish_by=world["coord"], title="Anderes Thema T8U9",
                      ozg_ids=[10110], leika_keys=[])
    url = f"/eintraege/{page.slug}"

    def similar_box(html: str) -> str:
        return html.split('id="aehnlich"')[1] if 'id="aehnlich"' in html else ""

    for who in ("member", None, "outsider", "member", None):
        if who:
            auth.login(f"{who}@example.org")
        box = similar_box(client.get(url).get_data(as_text=True))
        assert ("P4Q5" in box) is (who == "member"), who
        assert "R6S7" not in box and "T8U9" not in box
        if who:
            auth.logout()
    assert secret.slug and draft.slug and other.slug


def _page_cache(app):
    from marktplatz.views.web.pagecache import EXTENSION

    return app.extensions[EXTENSION]


def test_anonymous_pages_come_from_the_cache_until_the_data_changes(app, client, session, world):
    """A second anonymous request is a cache hit; any tracked write (here a status update
    and a reuse by another municipality) makes the next request render anew."""
    cache = _page_cache(app)
    item = f.listing(session, world["owner"], publish_by=world["coord"], title="Seitenspeicher Probe")
    url = f"/eintraege/{item.slug}"
    first = client.get(url)
    hits = cache.hits
    second = client.get(url)
    assert second.status_code == 200 and cache.hits == hits + 1
    assert second.get_data() == first.get_data()
    assert second.headers["Content-Security-Policy"]  # headers are set per response, not cached

    listings.post_status_update(session, world["owner"], item, {"title": "Pilotbetrieb läuft G7H8",
                                                                 "body": "Seit Montag."})
    hits = cache.hits
    assert "G7H8" in client.get(url).get_data(as_text=True)
    assert cache.hits == hits

    reuse.declare_reuse(session, world["reuser"], item, {"stage": "pilot"})
    assert "Lemgo" in client.get(url).get_data(as_text=True).split('id="nachnutzung"')[1]


def test_signed_in_viewers_and_flashes_bypass_the_page_cache(app, client, auth, session, world):
    cache = _page_cache(app)
    item = f.listing(session, world["owner"], publish_by=world["coord"])
    url = f"/eintraege/{item.slug}"
    anonymous = client.get(url).get_data(as_text=True)
    assert 'name="csrf_token"' not in anonymous
    auth.login("owner@example.org")
    before = (cache.hits, len(cache))
    mine = client.get(url).get_data(as_text=True)
    assert "Bearbeiten" in mine and 'name="csrf_token"' in mine  # the owner's actions, not the cached page
    assert (cache.hits, len(cache)) == before
    client.post("/abmelden", data={})
    with client.session_transaction() as sess:
        sess["_flashes"] = [("info", "Hinweis J9K0")]
    assert "Hinweis J9K0" in client.get(url).get_data(as_text=True)


def test_a_listing_that_turns_private_is_not_served_from_the_cache(app, client, session, world):
    item = f.listing(session, world["owner"], publish_by=world["coord"])
    url = f"/eintraege/{item.slug}"
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    listings.update_listing(session, world["owner"], item, {"visibility": "network"}, item.version, partial=True)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(("name", "value"), [
    ("PAGE_CACHE_ENTRIES", "viele"), ("PAGE_CACHE_ENTRIES", "2.5"), ("PAGE_CACHE_ENTRIES", -1),
    ("PAGE_CACHE_ENTRIES", True), ("SEARCH_FRESH_WAIT", "zehn"), ("STATS_CACHE_SECONDS", "-1"),
    ("OUTBOUND_TIMEOUT", "nan"), ("TRUSTED_PROXIES", "ja bitte"),
])
def test_numeric_settings_are_validated_at_start(tmp_path, database_urls, name, value):
    """A wrong number stops the start naming the variable, not the first request with a 500."""
    from marktplatz import create_app
    from marktplatz.config import ConfigError

    base = {"DATABASE_URL": database_urls["sqlite"], "TESTING": True, "SECRET_KEY": "x",
            "INDEX_DIR": str(tmp_path / "ix")}
    with pytest.raises(ConfigError, match=f"MARKTPLATZ_{name} muss"):
        create_app({**base, name: value})


def test_page_cache_can_be_switched_off_and_durations_take_fractions(tmp_path, database_urls):
    from marktplatz import create_app

    base = {"DATABASE_URL": database_urls["sqlite"], "TESTING": True, "SECRET_KEY": "x",
            "INDEX_DIR": str(tmp_path / "ix")}
    off = create_app({**base, "PAGE_CACHE_ENTRIES": "0", "SEARCH_FRESH_WAIT": "2.5"})
    assert _page_cache(off).maxsize == 0 and off.config["SEARCH_FRESH_WAIT"] == 2.5
    with off.test_request_context("/"):
        from marktplatz.views.web.pagecache import cached_page

        calls = []
        for _ in range(2):
            cached_page(None, "x", lambda: calls.append(1) or ("<p>x</p>", 200))
        assert len(calls) == 2  # switched off: rendered every time, no version query (db unused)

def test_a_change_committed_out_of_id_order_is_not_hidden_by_the_cache(app, client, session, world):
    """PostgreSQL: T1 takes the smaller change-log id and commits after T2; the page cached
    in between must not be served once T1 has committed. (SQLite serialises writers.)"""
    item = f.listing(session, world["owner"], publish_by=world["coord"], title="Reihenfolge Seite")
    other = f.listing(session, world["owner"], publish_by=world["coord"])
    url = f"/eintraege/{item.slug}"
    maker = app.extensions["sqlalchemy_sessionmaker"]
    s1, s2 = maker(), maker()
    try:
        s1.get(Listing, item.id).summary = "Spät bestätigte Änderung L1M2."
        s1.flush()  # change-log id N, not committed
        s2.get(Listing, other.id).summary = "Früher bestätigte Änderung."
        if app.extensions["sqlalchemy_engine"].dialect.name == "postgresql":
            s2.commit()  # id N+1 committed first
        else:
            s1.commit()
            s2.commit()
        client.get(url)
        client.get(url)  # cached now, on PostgreSQL without T1's change
        s1.commit()
        assert "L1M2" in client.get(url).get_data(as_text=True)
    finally:
        s1.close()
        s2.close()


def test_the_data_version_reads_only_the_newest_window_of_the_change_log(session):
    """The version (highest id, rows among the last WINDOW ids) is the same as counting the
    window directly, gaps included, and its plan reads the newest WINDOW index entries: the
    direct range left PostgreSQL to guess a third of the table and start parallel workers
    (8 ms instead of 0.1 ms per anonymous page view at 400,000 rows)."""
    from sqlalchemy import text as sql

    from marktplatz.services.changelog import WINDOW, data_version

    conn = session.connection()
    top = conn.execute(sql("SELECT coalesce(max(id), 0) FROM change_log")).scalar()
    # 3,000 rows with every third id missing: a window with gaps, and a table large enough
    # that a plan scanning it shows.
    ids = [top + i for i in range(1, 4500) if i % 3]
    conn.execute(sql("INSERT INTO change_log (id, entity_type, entity_id, op, created_at) "
                     "VALUES (:id, 'listing', 1, 'updated', CURRENT_TIMESTAMP)"), [{"id": i} for i in ids])
    direct = conn.execute(sql(f"SELECT max(id), count(*) FROM change_log WHERE id > "
                              f"(SELECT max(id) FROM change_log) - {WINDOW}")).one()
    assert data_version(session) == tuple(direct) == (ids[-1], sum(1 for i in ids if i > ids[-1] - WINDOW))
    if session.get_bind().dialect.name == "postgresql":
        from marktplatz.services import changelog

        # 300,000 older rows (ids below the window), as at 100,000 listings; then statistics.
        conn.execute(sql("INSERT INTO change_log (id, entity_type, entity_id, op, created_at) "
                         "SELECT g, 'listing', 1, 'updated', CURRENT_TIMESTAMP "
                         "FROM generate_series(-300000, -1) AS g"))
        conn.execute(sql("ANALYZE change_log"))
        plan = "\n".join(r[0] for r in conn.execute(sql("EXPLAIN " + changelog._VERSION.text)))
        assert "Gather" not in plan and "Seq Scan" not in plan
        assert "Index Only Scan Backward" in plan and "Limit" in plan
        assert data_version(session) == tuple(direct)


def test_similar_listings_are_cached_until_the_data_changes_and_never_leak(session, world):
    """The similar-listing ids are kept per listing and viewer class while the data is
    unchanged; a new listing shows at once, and one that is no longer visible (its
    municipality left the network: memberships are not in the change log) disappears."""
    from marktplatz.services import networks

    page = f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer Freiburg")
    shared = f.listing(session, world["member"], publish_by=world["coord"], title="Netzwerk Hund V1W2",
                       visibility="network")
    owner = world["owner"]
    assert shared in listing_pages.similar_listings(session, owner, page)
    statements = []
    engine = session.get_bind()
    listen = lambda *a: statements.append(a[2])  # noqa: E731 - (conn, cursor, statement, ...)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        assert shared in listing_pages.similar_listings(session, owner, page)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert not any("own_ozg" in s for s in statements), "the cached answer walked the OZG listings again"

    newer = f.listing(session, world["owner"], publish_by=world["coord"], title="Hundesteuer neu X3Y4")
    assert newer in listing_pages.similar_listings(session, owner, page)

    networks.remove_member(session, world["coord"], world["net"], world["member"].organisation_id)
    session.expire_all()
    assert shared not in listing_pages.similar_listings(session, owner, page)


def test_an_aggregate_is_computed_by_one_thread_while_the_others_wait_or_keep_the_old_value(app, session):
    """Eight request threads missing the same cached aggregate compute it once; once it has
    expired, one thread computes the new value and the others keep the old one meanwhile."""
    import threading
    import time

    from marktplatz.services import read_cache

    app.config["STATS_CACHE_SECONDS"] = 30
    for old in [k for k in read_cache._stats_cache if k[0] == "test-agg"]:  # another backend's run
        del read_cache._stats_cache[old]
    calls: list[int] = []
    release = threading.Event()

    def slow() -> int:
        calls.append(1)
        release.wait(5)
        return len(calls)

    got: list[int] = []

    def reader() -> None:
        with app.app_context():
            got.append(read_cache._cached("test-agg", session, None, slow))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    release.set()
    for t in threads:
        t.join(10)
    assert calls == [1] and got == [1] * 8

    [key] = [k for k in read_cache._stats_cache if k[0] == "test-agg"]
    read_cache._stats_cache[key] = (time.monotonic() - 1, 1)  # expired
    release.clear()
    refresher = threading.Thread(target=reader)
    refresher.start()
    time.sleep(0.2)  # the refresher is computing
    with app.app_context():
        assert read_cache._cached("test-agg", session, None, slow) == 1  # the old value, at once
    release.set()
    refresher.join(10)
    assert got[-1] == 2 and len(calls) == 2
    with app.app_context():
        assert read_cache._cached("test-agg", session, None, slow) == 2
    assert not any(k[0] == "test-agg" for k in read_cache._computing)  # no lock kept per key
