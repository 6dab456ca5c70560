"""Federation: instance B follows instance A, two real gunicorn servers on two databases.

A runs on SQLite; B on PostgreSQL when the suite has it (always under CI), else on SQLite.
B pulls A through `marktplatz federation ...` (the worker calls the same service), over HTTP.
The tests are one scenario and run in order: follow, look, pull again, change A, resume, fail,
unfollow.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import func, select

from marktplatz import create_app
from marktplatz.cli.federation import federation_group
from marktplatz.models import ChangeLog, FederationSource, Listing, Reuse, User
from marktplatz.permissions import can
from marktplatz.services import federation, lifecycle, listings, reuse
from tests import factories as f
from tests.conftest import PG_URL, _create_pg_database, _drop_pg_database, _file_lock, _shared_dir
from tests.live_server import copy_sqlite, gunicorn
from tests.search_support import copy_index

NAME = "Marktplatz Testland"


def _app(url: str, tmp: Path):
    return create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x", "INDEX_DIR": str(tmp / "idx"),
                       "MAIL_DIR": str(tmp / "mail"), "FEDERATION_RETRIES": 0})  # a dead source fails at once


class Instance:
    """One instance: its database URL and an app context for reading and writing it directly."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url, self.app = url, _app(url, tmp)

    def run(self, fn):
        """Run fn(session) in a fresh app context, commit, return its result."""
        from marktplatz.core.db import get_engine, get_session

        with self.app.app_context():
            session = get_session()
            try:
                out = fn(session)
                session.commit()
                return out
            finally:
                session.close()
                get_engine().dispose()

    def cli(self, *args: str):
        """Run `marktplatz federation ARGS` against this instance's database."""
        return self.app.test_cli_runner().invoke(federation_group, list(args), catch_exceptions=False)


def _seed_a(session) -> dict[str, int]:
    admin = f.user(session, role="admin", ags=None)
    owner = f.user(session, ags=f.FREIBURG)
    reuser = f.user(session, ags=f.MANNHEIM)
    net = f.network(session, "fednetz", f.FREIBURG, f.MANNHEIM)
    public = f.listing(session, owner, publish_by=admin, title="Gießkannenkataster offen", tags=["Stadtgrün"],
                       reuse_offered=True, reuse_terms="Quellcode frei, Betrieb auf Anfrage.")
    members = f.listing(session, owner, publish_by=admin, title="Netzinternes Baumkataster", visibility="network")
    draft = f.listing(session, owner, title="Geheimer Entwurf Baumkataster")
    gone = f.listing(session, owner, publish_by=admin, title="Später gelöschter Parkdienst")
    used = reuse.declare_reuse(session, reuser, public, {"stage": "pilot", "reason": "Passt zu uns."})
    session.commit()
    del net
    return {"public": public.id, "members": members.id, "draft": draft.id, "gone": gone.id, "reuse": used.id,
            "owner": owner.id, "admin": admin.id}


@pytest.fixture(scope="module")
def world(templates, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("federation")
    a = Instance(copy_sqlite(templates["sqlite"]["url"], tmp / "a.db"), tmp / "a")
    pg_name = None
    if PG_URL:
        with _file_lock(_shared_dir(tmp_path_factory) / "template-postgresql.lock"):
            b_url, pg_name = _create_pg_database(template=templates["postgresql"]["name"])
        b_index = templates["postgresql"]["index"]
    else:
        b_url, b_index = copy_sqlite(templates["sqlite"]["url"], tmp / "b.db"), templates["sqlite"]["index"]
    b = Instance(b_url, tmp / "b")
    ids = a.run(_seed_a)
    copy_index(templates["sqlite"]["index"], str(tmp / "srv-a" / "index"))
    copy_index(b_index, str(tmp / "srv-b" / "index"))
    try:
        with gunicorn(a.url, tmp / "srv-a", ready_path="/api/v1/openapi.json") as srv_a, \
                gunicorn(b.url, tmp / "srv-b") as srv_b:
            yield SimpleNamespace(a=a, b=b, srv_a=srv_a, srv_b=srv_b, ids=ids)
    finally:
        if pg_name:
            _drop_pg_database(pg_name)


def _mirrored(session) -> dict[str, Listing]:
    return {x.title: x for x in session.scalars(select(Listing).where(Listing.origin_id.is_not(None)))}


def _state(session) -> tuple:
    """Everything a pull writes: the mirrored listings and reuses, and the change log's length."""
    rows = tuple(sorted((x.origin_remote_id, x.title, x.status, x.version) for x in _mirrored(session).values()))
    reuses = tuple(sorted((r.origin_remote_id, r.stage) for r in session.scalars(
        select(Reuse).where(Reuse.origin_id.is_not(None)))))
    return rows, reuses, session.scalar(select(func.count(ChangeLog.id)))


def test_b_mirrors_what_a_shows_the_public_and_nothing_else(world):
    """follow pulls A at once: its public listing and the reuse arrive, read-only and marked;
    the members-only listing and the draft do not."""
    out = world.b.cli("follow", world.srv_a.url + "/api/v1", "--name", NAME)
    assert out.exit_code == 0, out.output
    assert f"Gefolgt: {NAME}" in out.output

    def check(session):
        mirrored = _mirrored(session)
        assert set(mirrored) == {"Gießkannenkataster offen", "Später gelöschter Parkdienst"}
        item = mirrored["Gießkannenkataster offen"]
        assert item.origin.name == NAME and item.origin_remote_id == world.ids["public"]
        assert item.organisation.key == f.FREIBURG and item.status == "published" and item.published_at is not None
        assert item.tags == ["Stadtgrün"] and [o.id for o in item.ozg_leistungen] == [10160]
        assert item.reuse_offered and item.reuse_terms.startswith("Quellcode frei")
        assert item.origin_url.startswith(world.srv_a.url + "/eintraege/")
        [used] = item.reuses
        assert used.organisation.key == f.MANNHEIM and used.stage == "pilot" and used.origin_id == item.origin_id
        # Read-only here, for everyone, admins and the municipality's own officers included.
        officer = f.user(session, ags=f.FREIBURG)
        admin = f.user(session, role="admin", ags=None)
        other = f.user(session, ags=f.MANNHEIM)
        for who in (officer, admin):
            assert lifecycle.allowed_actions(who, item) == frozenset()
            assert not can(who, "listing.edit", item) and not can(who, "listing.post_status", item)
        assert not can(other, "reuse.declare", item) and not can(other, "reuse.update", used)
        assert can(other, "listing.follow", item)
        return item.slug

    slug = world.b.run(check)
    world.slug = slug


def test_mirrored_listing_on_bs_pages_api_and_search(world):
    """B shows the listing as from A: page, API, search, who-does-what table, statistics."""
    base = world.srv_b.url
    page = requests.get(f"{base}/eintraege/{world.slug}", timeout=10)
    assert page.status_code == 200
    assert f"aus {NAME}" in page.text
    assert world.srv_a.url + "/eintraege/" in page.text  # the link to the original
    assert "Diese Lösung nachnutzen" not in page.text and 'name="stage"' not in page.text  # act at the source
    listed = requests.get(f"{base}/api/v1/listings", params={"ags": f.FREIBURG, "limit": 100}, timeout=10).json()
    found = [x for x in listed["items"] if x["slug"] == world.slug]
    assert found and found[0]["origin"] == {"name": NAME, "url": world.srv_a.url,
                                            "page": f"{world.srv_a.url}/eintraege/{found[0]['slug']}"}
    assert found[0]["allowed_actions"] == []
    deadline = time.monotonic() + 60  # the index follower picks the mirror up like any change
    while f"/eintraege/{world.slug}" not in (hits := requests.get(f"{base}/eintraege", params={"q": "Gießkannenkataster"},
                                                                     timeout=10).text):
        assert time.monotonic() < deadline, "the mirrored listing never reached B's search index"
        time.sleep(0.5)
    assert f"aus {NAME}" in hits
    ozg = requests.get(f"{base}/ozg/10160", timeout=10).text
    assert "Gießkannenkataster offen" in ozg and f"aus {NAME}" in ozg
    start = requests.get(f"{base}/", timeout=10).text
    assert re.search(r"davon\s+2\s+aus anderen Marktplätzen", start)


def test_pulling_again_changes_nothing(world):
    """A pull without news on A writes nothing on B: same rows, same versions, no change-log row."""
    before = world.b.run(_state)
    out = world.b.cli("pull")
    assert out.exit_code == 0, out.output
    assert world.b.run(_state) == before


def test_made_private_or_deleted_on_a_is_removed_on_b_and_edits_arrive(world):
    """Members-only or deleted at the source: removed here; an edit there: updated here."""
    ids = world.ids

    def change_a(session):
        owner = session.get(User, ids["owner"])
        gone = session.get(Listing, ids["gone"])
        session.delete(gone)  # as an admin would remove it from the database
        public = session.get(Listing, ids["public"])
        listings.update_listing(session, owner, public, {"summary": "Jetzt mit Gießplan für Patenschaften."},
                                public.version, partial=True)

    world.a.run(change_a)
    out = world.b.cli("pull", world.srv_a.url)
    assert out.exit_code == 0, out.output
    mirrored = world.b.run(lambda s: {t: x.summary for t, x in _mirrored(s).items()})
    assert mirrored == {"Gießkannenkataster offen": "Jetzt mit Gießplan für Patenschaften."}

    def private_a(session):
        owner = session.get(User, ids["owner"])
        public = session.get(Listing, ids["public"])
        listings.update_listing(session, owner, public, {"visibility": "network"}, public.version, partial=True)

    world.a.run(private_a)
    assert world.b.cli("pull").exit_code == 0
    assert world.b.run(lambda s: (_mirrored(s), s.scalar(select(func.count(Reuse.id)).where(
        Reuse.origin_id.is_not(None))))) == ({}, 0)
    assert requests.get(f"{world.srv_b.url}/eintraege/{world.slug}", timeout=10).status_code == 404


def test_an_interrupted_pull_resumes_at_its_cursor(world, monkeypatch):
    """Pages of two changes, one page per pull: the cursor moves page by page and the end
    state equals one whole pull; a second instance followed from scratch gets the same."""

    def publish_more(session):
        admin = session.get(User, world.ids["admin"])
        owner = session.get(User, world.ids["owner"])
        for i in range(5):
            f.listing(session, owner, publish_by=admin, title=f"Stadtbaum-Patenschaft {i}")

    world.a.run(publish_more)
    monkeypatch.setattr(federation, "PAGE", 2)

    def one_page(session):
        source = session.scalar(select(FederationSource))
        before = source.cursor
        result = federation.pull(session, source, max_pages=1, commit=session.commit)
        return before, source.cursor, result.caught_up, result.error

    cursors = []
    while True:
        before, after, caught_up, error = world.b.run(one_page)
        assert error is None
        cursors.append(after)
        if caught_up:
            break
        assert after != before
    assert len(cursors) >= 3
    titles = world.b.run(lambda s: set(_mirrored(s)))
    assert titles == {f"Stadtbaum-Patenschaft {i}" for i in range(5)}


def test_the_worker_pulls_a_source_when_its_interval_has_passed(world):
    """`marktplatz worker` rounds pull a due source (and only a due one)."""
    from datetime import timedelta

    from marktplatz.cli.worker import run_once
    from marktplatz.models import utcnow

    def publish_one(session):
        admin = session.get(User, world.ids["admin"])
        owner = session.get(User, world.ids["owner"])
        f.listing(session, owner, publish_by=admin, title="Baumscheibenpflege vom Worker")

    world.a.run(publish_one)

    def worker_round(session):
        source = session.scalar(select(FederationSource))
        source.last_run_at = utcnow() - timedelta(minutes=source.interval_minutes + 1)
        session.commit()
        done = run_once()
        return done["federation_mirrored"], set(_mirrored(session))

    mirrored, titles = world.b.run(worker_round)
    assert mirrored >= 1 and "Baumscheibenpflege vom Worker" in titles

    def not_due(session):
        before = session.scalar(select(FederationSource.last_run_at))
        done = run_once()
        return done["federation_mirrored"], session.scalar(select(FederationSource.last_run_at)) == before

    assert world.b.run(not_due) == (0, True)


def test_an_unreachable_source_is_reported_not_raised(world):
    """A source that does not answer: the pull records why and exits 1; following it is refused."""
    out = world.b.cli("follow", "http://127.0.0.1:9", "--name", "Nirgendwo")
    assert out.exit_code == 2 and "antwortet kein Marktplatz" in out.output

    def add_dead(session):
        session.add(FederationSource(url="http://127.0.0.1:9", name="Nirgendwo", interval_minutes=5))

    world.b.run(add_dead)
    out = world.b.cli("pull", "http://127.0.0.1:9")
    assert out.exit_code == 1 and "Abruf fehlgeschlagen" in out.output
    listed = world.b.cli("list").output
    assert "Nirgendwo" in listed and "Fehler: nicht erreichbar" in listed
    assert world.b.cli("unfollow", "http://127.0.0.1:9").exit_code == 0


def test_unfollow_removes_the_mirror(world):
    """Unfollowing removes every listing mirrored from the source, and the source."""
    out = world.b.cli("unfollow", world.srv_a.url)
    assert out.exit_code == 0 and "nicht mehr gefolgt" in out.output
    assert world.b.run(lambda s: (_mirrored(s), s.scalar(select(func.count(FederationSource.id))))) == ({}, 0)


def _entity(remote_id: int, **over):
    data = {**f.listing_data(title=f"Ferner Dienst {remote_id}"), "id": remote_id, "slug": f"ferner-dienst-{remote_id}",
            "status": "published", "published_at": "2026-11-30T10:00:00Z", "origin": None,
            "organisation": {"key": f.FREIBURG}, "links": {}}
    data.update(over)
    return {"entity_type": "listing", "entity_id": remote_id, "tombstone": False, "entity": data}


def test_what_a_source_sends_is_checked_before_it_is_mirrored(session):
    """Only the source's own, valid, public listings of known municipalities are mirrored:
    no chains (a listing the source mirrors itself), no other states, no unknown municipality,
    no invalid field; the catalogue codes this instance lacks are dropped, not refused."""
    source = FederationSource(url="https://marktplatz.example", name="Beispiel", interval_minutes=15)
    session.add(source)
    session.flush()
    result = federation.PullResult()
    federation._apply_page(session, source, [
        _entity(1, ozg_ids=[10160, 999999], leika_keys=["99102013000000", "00000000000000"]),
        _entity(2, origin={"name": "Dritter", "url": "https://dritter.example"}),
        _entity(3, status="draft"),
        _entity(4, organisation={"key": "99999999"}),
        _entity(5, contact_email="keine-adresse"),
        _entity(6, visibility="network"),
    ], result)
    mirrored = _mirrored(session)
    assert set(mirrored) == {"Ferner Dienst 1", "Ferner Dienst 6"}
    assert [o.id for o in mirrored["Ferner Dienst 1"].ozg_leistungen] == [10160]
    assert [lk.key for lk in mirrored["Ferner Dienst 1"].leika_leistungen] == ["99102013000000"]
    assert mirrored["Ferner Dienst 6"].visibility == "public"  # only what the source shows the public arrives
    assert result.skipped == {"Eintrag einer hier unbekannten Kommune": 1,
                              "Eintrag mit ungültigem Feld (contact_email)": 1}
    # A later state that is not public there removes the mirror; a tombstone too.
    federation._apply_page(session, source, [_entity(1, status="in_review"),
                                             {"entity_type": "listing", "entity_id": 6, "tombstone": True,
                                              "entity": None}], result)
    assert _mirrored(session) == {} and result.removed == 2
    # Garbage ids are counted, not looked up (PostgreSQL refused a text id for an integer column).
    federation._apply_page(session, source, [{**_entity(7), "entity_id": "7; DROP"}, {**_entity(8), "entity_id": None},
                                             {**_entity(9, organisation={"key": ["08311000"]})},
                                             {**_entity(12, organisation="08311000")}], result)
    assert _mirrored(session) == {}
    assert result.skipped["Änderung ohne gültige Kennung"] == 2
    assert result.skipped["Eintrag einer hier unbekannten Kommune"] == 3


def test_a_reuse_deleted_and_declared_again_there_is_mirrored_again(session):
    """A tombstone and a new reuse of the same municipality in one page: the old mirror goes,
    the new one comes (the unique listing-and-municipality pair is freed first)."""
    source = FederationSource(url="https://marktplatz.example", name="Beispiel", interval_minutes=15)
    session.add(source)
    session.flush()
    result = federation.PullResult()
    reuse_of = {"listing_id": 1, "organisation": {"key": f.MANNHEIM}, "stage": "pilot"}
    federation._apply_page(session, source, [
        _entity(1), {"entity_type": "reuse", "entity_id": 10, "tombstone": False, "entity": dict(reuse_of)}], result)
    federation._apply_page(session, source, [
        {"entity_type": "reuse", "entity_id": 10, "tombstone": True, "entity": None},
        {"entity_type": "reuse", "entity_id": 11, "tombstone": False, "entity": {**reuse_of, "stage": "production"}},
    ], result)
    session.flush()
    rows = session.scalars(select(Reuse).where(Reuse.origin_id == source.id)).all()
    assert [(r.origin_remote_id, r.stage) for r in rows] == [(11, "production")]


@pytest.mark.parametrize("url", ["http://[::1", "ftp://marktplatz.example", "marktplatz.example", "", "https://x/?a=1"])
def test_a_bad_address_to_follow_is_a_field_error(url):
    """Whatever the operator types, following answers with the url field, not a traceback."""
    from marktplatz.services.errors import Invalid

    with pytest.raises(Invalid) as err:
        federation.normalise_url(url)
    assert set(err.value.errors) == {"url"}
