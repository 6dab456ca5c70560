"""Full-text search (Whoosh), kept in step with the database through the change log.

Web processes only read the index: search_listings, matching_listing_ids, suggest and
similar_listings open searchers and never write. The `marktplatz worker` process follows
the change log (worker_step: rebuild a missing or outdated index, apply new change-log
rows); `marktplatz search catch-up` and `data setup` do the same once. All Whoosh imports
stay inside this package.

Read-your-writes: after a request that wrote change-log rows, the edges call
remember_write, which stores the position of that write for its author (kv_state). A search
by that author first checks whether the index has applied it; if not, it waits up to
SEARCH_FRESH_WAIT seconds for the worker (only while the worker is alive) and otherwise
answers ``unavailable`` and ``lagging`` for that one request, so the caller takes its SQL
path, the same one used while the index is missing.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from flask import Flask, current_app
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError

from ..models import SearchState
from .query import FACET_TITLES, FACETS, SORTS, Hit, SearchResult

log = logging.getLogger(__name__)

__all__ = [
    "FACETS", "FACET_TITLES", "SORTS", "Hit", "SearchResult", "catch_up", "index_dir", "index_lag",
    "init_app", "matching_listing_ids", "query_expansion", "rebuild_index", "remember_write", "search_listings",
    "similar_listings", "suggest", "worker_step",
]

WRITE_KEY = "search.wrote.{}"  # kv_state key of a user's last write (its change-log position)
FRESH_POLL = 0.02  # seconds between looks at the index position while a search waits for it


def index_dir() -> str:
    """Return the index root directory of the current app."""
    return current_app.config["INDEX_DIR"]


def _engine():
    return current_app.extensions["sqlalchemy_engine"]


def _sessions():
    return current_app.extensions["sqlalchemy_sessionmaker"]


def _db_ready() -> bool:
    try:
        return sa_inspect(_engine()).has_table("change_log")
    except Exception:  # noqa: BLE001 - no database yet: nothing to index
        return False


# --------------------------------------------------------------------------- writing (worker, CLI)


def rebuild_index(progress: Any = None, only_if_unusable: bool = False) -> str:
    """Build a fresh index beside the live one and swap it in; return its directory."""
    from .index import rebuild

    return rebuild(index_dir(), _engine(), _sessions(), progress, only_if_unusable=only_if_unusable)


def ensure_index() -> bool:
    """Return whether a usable index exists; rebuild a missing, outdated or corrupt one first.

    Only the worker and the CLI call this: a rebuild takes minutes on a full database.
    """
    from .index import check

    reason = check(index_dir())
    if reason is None:
        return True
    if not _db_ready():
        return False
    started = time.monotonic()
    log.warning("search index %s (%s): rebuilding", index_dir(), reason)
    rebuild_index(only_if_unusable=True)
    log.warning("search index rebuilt after %.1f s", time.monotonic() - started)
    return True


def catch_up() -> int:
    """Rebuild the index if unusable, apply pending change-log rows; return how many; never raise.

    The change log is applied by whoever holds the index's follow lock: a catch-up that finds
    it taken does nothing (the holder, or the next round, applies the rows).
    """
    from .index import catch_up as _catch_up

    try:
        if not ensure_index():
            return 0
        return _catch_up(index_dir(), _engine(), _sessions()).applied_rows
    except (OperationalError, InterfaceError) as err:
        log.warning("search catch-up skipped, database unavailable (%s)", err.__class__.__name__)
    except FileNotFoundError:
        # The index directory went away under the catch-up (deleted by an operator, or
        # swapped by a rebuild elsewhere): the next round finds it missing and rebuilds.
        log.warning("search index %s vanished during a catch-up; the next round rebuilds it", index_dir())
    except Exception:  # noqa: BLE001 - the next round catches up
        log.exception("search catch-up failed; will retry")
    return 0


def worker_step() -> int:
    """One round of the worker's index follower: catch up, then mark the worker alive."""
    from .index import beat

    applied = catch_up()
    beat(index_dir())
    return applied


# --------------------------------------------------------------------------- read-your-writes


def remember_write(session: Any, user_id: int, mark: dict[str, int]) -> None:
    """Store mark (the change-log position of user_id's write) in the request's unit of work.

    Called by the edges at the end of a request that wrote change-log rows, before its
    commit; searches by that user then make sure the index shows them (see the module
    docstring). One upsert statement, so two parallel requests of one author never clash.
    """
    table = SearchState.__table__
    values = {"key": WRITE_KEY.format(user_id), "value": json.dumps(mark, separators=(",", ":"))}
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(**values)
    session.execute(stmt.on_conflict_do_update(index_elements=[table.c.key], set_={"value": values["value"]}))


def _last_write(user: Any) -> dict[str, int] | None:
    from ..core.db import get_session

    uid = getattr(user, "id", None) if getattr(user, "is_authenticated", True) else None
    if uid is None:
        return None
    value = get_session().scalar(select(SearchState.value).where(SearchState.key == WRITE_KEY.format(uid)))
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def _lagging_for(user: Any) -> bool:
    """Return whether the index has not applied user's last write (after waiting a little).

    The wait (at most SEARCH_FRESH_WAIT seconds) happens only while the worker is alive;
    with the worker down the caller falls back at once.
    """
    from .index import has_applied, worker_seen

    mark = _last_write(user)
    if mark is None:
        return False
    root = index_dir()
    if has_applied(root, mark):
        return False
    wait = float(current_app.config.get("SEARCH_FRESH_WAIT", 1.0))
    seen = worker_seen(root)
    if wait <= 0 or seen is None or seen > WORKER_ALIVE_SECONDS:
        return True
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(FRESH_POLL)
        if has_applied(root, mark):
            return False
    return True


WORKER_ALIVE_SECONDS = 10.0  # a worker that marked itself alive this recently is running


def index_lag() -> dict[str, Any]:
    """Return how far the index trails the change log: rows, seconds, worker last seen."""
    from .index import check, current_generation, read_position, unapplied, worker_seen

    root = index_dir()
    seen = worker_seen(root)
    out: dict[str, Any] = {"rows": None, "seconds": None,
                           "worker_seen_seconds": None if seen is None else round(seen, 1)}
    gen = current_generation(root)
    if gen is None or check(root) is not None:
        return out
    rows, oldest = unapplied(_engine(), read_position(gen))
    out["rows"] = rows
    out["seconds"] = round(oldest, 1) if oldest is not None else 0
    return out


# --------------------------------------------------------------------------- reading (web)


def index_available() -> bool:
    """Return whether the live index can be opened right now."""
    from .index import check

    return check(index_dir()) is None


def _unavailable(page: int, per_page: int, lagging: bool = False) -> SearchResult:
    return SearchResult(0, [], {}, max(1, int(page or 1)), per_page, unavailable=True, lagging=lagging)


def search_listings(user: Any, q: str, filters: dict[str, Any] | None = None, sort: str = "relevance",
                    page: int = 1, per_page: int = 20, facet_labels: bool = True) -> SearchResult:
    """Search the listings user may see; facets count the whole result set.

    Without facet_labels each facet entry's label is its value (the browse page labels its
    options itself): the names of up to 400 Kreise are then not read for every page.

    While the index is missing or broken (the worker rebuilds it), or has not yet applied
    user's own last write, the result is empty and marked ``unavailable``: callers then
    answer from SQL.
    """
    from ..core.db import get_session
    from .query import search_listings as _search

    if _lagging_for(user):
        return _unavailable(page, per_page, lagging=True)
    try:
        return _search(get_session(), index_dir(), user, q or "", filters or {},
                       sort if sort in SORTS else "relevance", page, per_page, facet_labels)
    except Exception:
        if index_available():
            raise
        log.warning("search index vanished during a search; answering without results")
        return _unavailable(page, per_page)


def matching_listing_ids(user: Any, q: str, filters: dict[str, Any] | None = None,
                         limit: int = 10_000) -> list[int] | None:
    """Return the ids of the listings user may see that match q, best first.

    None when the index cannot answer (missing, or behind user's own last write): the
    caller matches in SQL instead.
    """
    from ..core.db import get_session
    from .query import matching_listing_ids as _ids

    if _lagging_for(user) or not index_available():
        return None
    try:
        return _ids(get_session(), index_dir(), user, q or "", filters or {}, limit)
    except Exception:
        if index_available():
            raise
        return None


def suggest(user: Any, q: str, limit: int = 5, kinds: Any = None) -> dict[str, list[dict[str, Any]]]:
    """Return autocomplete entries (listings user may see, municipalities, OZG-Leistungen);
    kinds: only some of "listings", "organisations", "ozg" (the others stay empty)."""
    from ..core.db import get_session
    from .query import SUGGEST_KINDS
    from .query import suggest as _suggest

    try:
        return _suggest(get_session(), index_dir(), user, q, limit, kinds or SUGGEST_KINDS)
    except Exception:
        if index_available():
            raise
        return {"listings": [], "organisations": [], "ozg": []}


def search_catalogue(q: str, kind: str = "ozg", limit: int = 200) -> list[int] | None:
    """Return the ids of the OZG-Leistungen (kind "ozg") or LeiKa-Leistungen ("leika")
    matching q, best first: their own names, their LeiKa names, synonyms and word forms,
    with the same German analysis as listings. None when the index cannot answer."""
    from .query import search_catalogue as _catalogue

    try:
        found = _catalogue(index_dir(), q or "", kind, limit)
    except Exception:
        if index_available():
            raise
        return None
    return found


def similar_listings(user: Any, text: str, limit: int = 20) -> list[tuple[int, float]]:
    """Return (listing id, similarity 0..1) of visible listings whose wording resembles text."""
    from ..core.db import get_session
    from .query import similar_listings as _similar

    try:
        return _similar(get_session(), index_dir(), user, text, limit)
    except Exception:
        if index_available():
            raise
        return []


def init_app(app: Flask) -> None:
    """Register the setup hook (`marktplatz data setup` builds the index and catches up)."""
    app.extensions.setdefault("marktplatz_setup_hooks", []).append(_setup_hook)


def _setup_hook() -> None:
    """Build the index if needed, then catch up (run by `marktplatz data setup`)."""
    from .index import check

    if check(index_dir()) is not None:
        import click

        click.echo("Baue den Suchindex ...")
        rebuild_index(only_if_unusable=True)
    catch_up()


def query_expansion(q: str, kind: str = "search") -> int:
    """Return how many index terms the query of q expands to in the live index.

    kind is "search" (the browse page, the API's q=), "suggest" (autocomplete) or "spell"
    ("Meinten Sie": the indexed words compared). For tests and benchmarks: the bound on
    this number is what keeps a cheap request cheap.
    """
    from . import query

    searcher = query._searcher(index_dir())
    if searcher is None:
        return 0
    if kind == "spell":
        return query.spelling_candidates(searcher, q)
    built = query.suggest_query(q) if kind == "suggest" else query.build_query(q)
    return query.expanded_terms(searcher.reader(), built)
