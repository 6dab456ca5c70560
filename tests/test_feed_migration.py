"""A change feed that survives migration: SQLite -> export -> import into PostgreSQL.

Imported change-log rows are history: the feed returns all of them, in their order, and
then the changes written after the import; a cursor taken on SQLite resumes on PostgreSQL;
the search index follows them too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from marktplatz import create_app
from marktplatz.models import ChangeLog
from marktplatz.services import backup

from .conftest import IN_CI, PG_URL, _create_pg_database, _drop_pg_database
from .test_backup import demo_source, empty_database, source_url  # noqa: F401 (fixtures)

needs_pg = pytest.mark.skipif(not PG_URL and not IN_CI, reason="needs MARKTPLATZ_TEST_DATABASE_URL")


def _app(url: str, tmp, name: str):
    return create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x",
                       "INDEX_DIR": str(tmp / f"idx-{name}"), "RATELIMIT_ENABLED": False})


def walk(client, after: str | None = None, limit: int = 37, **params: Any) -> tuple[list[dict], str | None]:
    """Follow links.next from the cursor until an empty page; return the changes and the cursor."""
    query = "&".join(f"{k}={v}" for k, v in {"limit": limit, **params, **({"after": after} if after else {})}.items())
    url = "/api/v1/changes?" + query
    seen: list[dict] = []
    while True:
        resp = client.get(url)
        assert resp.status_code == 200, resp.get_data(as_text=True)
        page = resp.json
        seen += page["items"]
        if not page["items"]:
            return seen, page["next_cursor"]
        url = page["links"]["next"]


def key(change: dict) -> tuple:
    return change["id"], change["entity_type"], change["entity_id"], change["op"]


@pytest.fixture
def moved(demo_source, tmp_path) -> Iterator[dict[str, Any]]:  # noqa: F811
    """Export the SQLite demo and import it into a fresh PostgreSQL database."""
    pg_url, pg_name = _create_pg_database()
    try:
        path = str(tmp_path / "moved.json.gz")
        with backup.open_dump(path, "w") as out:
            backup.export_dump(demo_source, out)
        target = empty_database(pg_url, str(tmp_path))
        try:
            with backup.open_dump(path, "r") as inp:
                backup.import_dump(target, inp)
        finally:
            target.dispose()
        yield {"pg_url": pg_url, "dump": path}
    finally:
        _drop_pg_database(pg_name)


@needs_pg
def test_imported_rows_are_history_on_postgresql(demo_source, moved):  # noqa: F811
    """Every imported change-log row has txid 0; none is NULL."""
    pg = create_engine(moved["pg_url"])
    try:
        with pg.connect() as conn:
            rows = conn.execute(select(ChangeLog.txid, func.count()).group_by(ChangeLog.txid)).all()
        with demo_source.connect() as conn:
            total = conn.execute(select(func.count()).select_from(ChangeLog)).scalar()
    finally:
        pg.dispose()
    assert total > 100
    assert rows == [(0, total)]


@needs_pg
def test_a_client_walks_the_whole_feed_after_the_move_and_continues(source_url, moved, tmp_path):  # noqa: F811
    """The feed on PostgreSQL returns every change the SQLite feed returned, in the same
    order, then the new ones; a cursor taken on SQLite resumes there on PostgreSQL."""
    before_app = _app(source_url, tmp_path, "sqlite")
    with before_app.app_context():
        before, sqlite_end = walk(before_app.test_client())
        halfway = before[len(before) // 2]["cursor"]
        before_app.extensions["sqlalchemy_engine"].dispose()
    assert len(before) > 100

    app = _app(moved["pg_url"], tmp_path, "pg")
    with app.app_context():
        from marktplatz.core.db import get_engine, get_session
        from marktplatz.services import listings, moderation
        from tests import factories as f

        client = app.test_client()
        after, end = walk(client)
        assert [key(c) for c in after] == [key(c) for c in before]
        # Resuming with a cursor handed out by the SQLite instance: the rest, nothing twice.
        rest, _ = walk(client, halfway)
        assert [key(c) for c in rest] == [key(c) for c in before[len(before) // 2 + 1:]]
        resumed_at_end, _ = walk(client, sqlite_end)
        assert resumed_at_end == []
        # A cursor of another PostgreSQL database (a txid this one has not reached) resumes
        # after the same id instead of waiting for this database's transaction ids to catch up.
        from marktplatz.views.api import cursor as cursors

        foreign = cursors.encode(2**62, before[len(before) // 2]["id"])
        assert [key(c) for c in walk(client, foreign)[0]] == [key(c) for c in rest]

        # A change after the import comes after all of history, from the cursor the walk ended at.
        session = get_session()
        officer = f.user(session, "officer", f.FREIBURG, email="neu@freiburg.example")
        item = listings.create_listing(session, officer, f.listing_data(title="Nach dem Umzug"))
        listings.submit_for_review(session, officer, item)
        moderation.approve(session, f.user(session, "admin", None, email="admin@neu.example"), item)
        session.commit()
        new, _ = walk(client, end)
        assert [(c["entity_type"], c["entity_id"]) for c in new if c["entity_type"] == "listing"] == [
            ("listing", item.id)] * len([c for c in new if c["entity_type"] == "listing"])
        assert new and all(c["id"] > before[-1]["id"] for c in new)
        # Walking from the start now gives history, then the new change, as one ordered feed.
        whole, _ = walk(client, limit=100)
        assert [key(c) for c in whole] == [key(c) for c in before] + [key(c) for c in new]
        session.close()
        get_engine().dispose()


@needs_pg
def test_the_search_index_follows_imported_changes(moved, tmp_path):
    """An index positioned before the import (the empty database's) applies the imported rows
    once, and a rebuilt index counts them as applied."""
    from marktplatz import search
    from marktplatz.search import index as sindex

    app = _app(moved["pg_url"], tmp_path, "search")
    with app.app_context():
        engine = app.extensions["sqlalchemy_engine"]
        with engine.connect() as conn:
            total = conn.execute(text("SELECT COUNT(*) FROM change_log")).scalar()
        root = search.index_dir()
        gen = sindex.rebuild(root, engine, app.extensions["sqlalchemy_sessionmaker"])
        assert sindex.unapplied(engine, sindex.read_position(gen))[0] == 0
        assert sindex.pending_changes(engine, sindex.read_position(gen))[0] == []
        # As if the index had been built on the empty database before the import.
        pos = {k: v for k, v in sindex.read_position(gen).items() if k != "history"}
        sindex.write_position(gen, pos)
        assert sindex.unapplied(engine, pos)[0] == total
        rows, new = sindex.pending_changes(engine, pos)
        assert len(rows) == total and [r.id for r in rows] == sorted(r.id for r in rows)
        assert sindex.pending_changes(engine, new)[0] == []
        assert sindex.unapplied(engine, new)[0] == 0
        result = sindex.catch_up(root, engine, app.extensions["sqlalchemy_sessionmaker"])
        assert result.applied_rows == total
        assert sindex.catch_up(root, engine, app.extensions["sqlalchemy_sessionmaker"]).applied_rows == 0
        engine.dispose()
    assert os.path.isdir(root)


@needs_pg
def test_migration_repairs_a_database_imported_before_the_fix(tmp_path):
    """Rows imported with txid NULL (the old import) become history on `marktplatz db upgrade`."""
    from marktplatz.cli.db import upgrade_database

    pg_url, pg_name = _create_pg_database()
    try:
        app = _app(pg_url, tmp_path, "repair")
        with app.app_context():
            upgrade_database("0009directpublish")
            engine = create_engine(pg_url)
            with engine.begin() as conn:
                conn.execute(text(
                    "INSERT INTO change_log (entity_type, entity_id, op, txid, created_at) VALUES "
                    "('organisation', 1, 'updated', NULL, now()), ('organisation', 2, 'updated', NULL, now()), "
                    "('organisation', 3, 'updated', pg_current_xact_id()::text::bigint, now())"))
                live = conn.execute(text("SELECT txid FROM change_log WHERE entity_id = 3")).scalar()
            upgrade_database()
            with engine.connect() as conn:
                txids = conn.execute(text("SELECT txid FROM change_log ORDER BY id")).scalars().all()
            engine.dispose()
            assert txids == [0, 0, live]
            changes, _ = walk(app.test_client())
            assert [c["entity_id"] for c in changes] == [1, 2, 3]
            app.extensions["sqlalchemy_engine"].dispose()
    finally:
        _drop_pg_database(pg_name)
