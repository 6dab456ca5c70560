"""The index follows the change log under real gunicorn workers, kills, several app servers
and (on PostgreSQL) transactions that commit out of id order."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import urllib.request

import pytest
from sqlalchemy import text

from marktplatz import create_app, search
from marktplatz.models import Listing, Organisation, utcnow
from marktplatz.services import listings as listing_service
from marktplatz.services import moderation
from tests import factories as f
from tests.live_server import gunicorn
from tests.search_support import follow, seed_index, template_for


@pytest.fixture
def sapp(app, backend, database_urls, tmp_path_factory):
    """Return the app with a ready search index of the reference data."""
    root = template_for(backend, database_urls[backend], str(tmp_path_factory.getbasetemp()))
    seed_index(app, root)
    return app


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.mark.slow
def test_gunicorn_workers_writers_and_a_killed_worker_lose_nothing(sapp, session, tmp_path, database_urls, backend):
    admin = f.user(session, "admin", ags=None)
    owners = [f.user(session, ags=a) for a in (f.FREIBURG, f.MANNHEIM, f.KARLSRUHE, f.LEMGO)]
    created: list[tuple[int, str]] = []
    errors: list[str] = []
    lock = threading.Lock()
    half = threading.Event()
    done = threading.Event()
    # The production gunicorn.conf.py with four workers, ready once the search page answers.
    with gunicorn(database_urls[backend], tmp_path, workers=4, production_config=True,
                  ready_path="/eintraege?q=test", ratelimit=True,
                  extra_env={"MARKTPLATZ_INDEX_DIR": sapp.config["INDEX_DIR"],
                             "MARKTPLATZ_SEARCH_RATELIMIT": "100000/minute"}) as server:
        base = server.url
        maker = sapp.extensions["sqlalchemy_sessionmaker"]

        def writer(n: int) -> None:
            with sapp.app_context():
                s = maker()
                try:
                    me, boss = s.get(type(owners[n]), owners[n].id), s.get(type(admin), admin.id)
                    for i in range(6):
                        word = f"zqmark{n}x{i}"
                        item = listing_service.create_listing(s, me, f.listing_data(title=f"Hundesteuer {word}"))
                        listing_service.submit_for_review(s, me, item)
                        moderation.approve(s, boss, item)
                        s.commit()  # each writer's listing is one unit of work, as in a request
                        with lock:
                            created.append((item.id, word))
                            if len(created) >= 12:
                                half.set()
                except Exception as err:  # noqa: BLE001 - reported below
                    errors.append(repr(err))
                finally:
                    s.close()

        def reader() -> None:
            while not done.is_set():
                try:
                    status, _body = _get(base + "/eintraege?q=hundesteuer")
                except OSError:  # the request the killed worker was serving; a browser retries
                    continue
                if status != 200:
                    errors.append(f"search returned {status}")
                time.sleep(0.05)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
        rthreads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads + rthreads:
            t.start()
        assert half.wait(120)
        victim = server.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        for t in threads:
            t.join(180)
        done.set()
        for t in rthreads:
            t.join(60)
        assert not errors, errors
        assert len(created) == 24
        missing = dict(created)
        deadline = time.time() + 120
        while missing and time.time() < deadline:
            for lid, word in list(missing.items()):
                status, body = _get(f"{base}/eintraege?q={word}")
                assert status == 200
                if f'data-listing-id="{lid}"' in body:
                    del missing[lid]
            time.sleep(0.2)
        assert not missing, f"never reached the index: {missing}"
    log = server.log()
    assert "LockError" not in log and "Traceback" not in log, log[-3000:]


def test_two_app_servers_with_separate_index_dirs(sapp, session, tmp_path, database_urls, backend):
    other_dir = str(tmp_path / "other-index")
    shutil.copytree(sapp.config["INDEX_DIR"], other_dir)
    other = create_app({"DATABASE_URL": database_urls[backend], "TESTING": True, "INDEX_DIR": other_dir,
                        "SECRET_KEY": "x"})
    admin = f.user(session, "admin", ags=None)
    owner = f.user(session, ags=f.FREIBURG)
    item = f.listing(session, owner, admin, title="Hundesteuer Zweitserver")
    assert Organisation
    follow()
    assert search.search_listings(None, "Zweitserver").listing_ids == [item.id]
    with other.app_context():
        assert search.index_dir() == other_dir
        assert search.search_listings(None, "Zweitserver").listing_ids == []  # its own follower has not run
        follow()  # each index directory has its follower (`marktplatz search follow`)
        assert search.search_listings(None, "Zweitserver").listing_ids == [item.id]
        from marktplatz.core.db import get_session

        get_session().close()
    listing_service.update_listing(session, owner, item, {"title": "Katzensteuer Zweitserver"}, None, partial=True)
    session.commit()
    with other.app_context():
        follow()
        assert search.search_listings(None, "Katzensteuer").listing_ids == [item.id]
        from marktplatz.core.db import get_engine, get_session

        get_session().close()
        get_engine().dispose()
    assert search.search_listings(None, "Katzensteuer").listing_ids == []
    follow()
    assert search.search_listings(None, "Katzensteuer").listing_ids == [item.id]


def _raw_listing(s, org_id: int, title: str) -> Listing:
    item = Listing(kind="dienst", organisation_id=org_id, title=title, slug=title.lower().replace(" ", "-"),
                   summary="Ein Eintrag für die Reihenfolge.", status="published", visibility="public",
                   published_at=utcnow())
    s.add(item)
    s.flush()
    return item


@pytest.mark.parametrize("t2_first_xid", [False, True])
def test_postgres_commit_out_of_id_order_is_not_skipped(sapp, session, backend, t2_first_xid):
    maker = sapp.extensions["sqlalchemy_sessionmaker"]
    org = session.scalar(text("SELECT id FROM organisation WHERE ags = :a").bindparams(a=f.FREIBURG))
    s1, s2 = maker(), maker()
    if backend != "postgresql":  # SQLite serialises writers: id order is commit order
        first = _raw_listing(s1, org, "Reihenfolge eins")
        s1.commit()
        second = _raw_listing(s2, org, "Reihenfolge zwei" if not t2_first_xid else "Reihenfolge drei")
        s2.commit()
        follow()
        assert set(search.search_listings(None, "Reihenfolge").listing_ids) == {first.id, second.id}
        s1.close()
        s2.close()
        return
    try:
        if t2_first_xid:  # T2 takes its transaction id before T1 but its change-log id after
            s2.execute(text("SELECT pg_current_xact_id()"))
        first = _raw_listing(s1, org, "Reihenfolge eins")  # change_log id N, still open
        second = _raw_listing(s2, org, "Reihenfolge zwei")  # change_log id N+1
        ids = s1.scalar(text("SELECT min(id) FROM change_log"))
        s2.commit()
        # T1 still runs: whatever the index shows now, it must not move past T1's change.
        follow()
        follow()
        assert first.id not in search.search_listings(None, "Reihenfolge").listing_ids
        s1.commit()
        assert ids is not None
        follow()
        found = set(search.search_listings(None, "Reihenfolge").listing_ids)
        assert found == {first.id, second.id}
    finally:
        s1.close()
        s2.close()


def test_a_long_transaction_elsewhere_does_not_hide_committed_writes(sapp, session, backend):
    """An open transaction anywhere holds back xmin; finished writes are searchable anyway."""
    maker = sapp.extensions["sqlalchemy_sessionmaker"]
    org = session.scalar(text("SELECT id FROM organisation WHERE ags = :a").bindparams(a=f.FREIBURG))
    idle, writer = maker(), maker()
    try:
        if backend == "postgresql":
            idle.execute(text("SELECT pg_current_xact_id()"))  # an older transaction stays open
        made = _raw_listing(writer, org, "Langlaeufer")
        writer.commit()
        follow()
        assert search.search_listings(None, "Langlaeufer").listing_ids == [made.id]
        idle.commit()
        follow()
        # Once xmin passes, the row is not applied a second time; still exactly one hit.
        assert search.search_listings(None, "Langlaeufer").listing_ids == [made.id]
    finally:
        idle.close()
        writer.close()
