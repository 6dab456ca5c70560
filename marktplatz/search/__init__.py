"""Full-text search (Whoosh), kept in step with the database through the change log.

The rest of the app calls only the functions here: search_listings, suggest, catch_up,
rebuild_index. All Whoosh imports stay inside this package.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import InterfaceError, OperationalError

from .query import FACET_TITLES, FACETS, SORTS, Hit, SearchResult

log = logging.getLogger(__name__)

__all__ = [
    "FACETS", "FACET_TITLES", "SORTS", "Hit", "SearchResult", "catch_up", "index_dir", "init_app",
    "matching_listing_ids", "rebuild_index", "search_listings", "similar_listings", "suggest",
]


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


def rebuild_index(progress: Any = None, only_if_unusable: bool = False) -> str:
    """Build a fresh index beside the live one and swap it in; return its directory."""
    from .index import rebuild

    path = rebuild(index_dir(), _engine(), _sessions(), progress, only_if_unusable=only_if_unusable)
    current_app.extensions["marktplatz_search"]["needs_rebuild"] = False
    return path


_rebuilding = threading.Lock()  # one background rebuild per process at a time


def _rebuild_in_background(app: Flask, reason: str) -> None:
    """Rebuild the index in a daemon thread unless this process already does."""
    if not _rebuilding.acquire(blocking=False):
        return

    def run() -> None:
        try:
            with app.app_context():
                started = time.monotonic()
                log.warning("search index %s (%s): rebuilding in the background", index_dir(), reason)
                rebuild_index(only_if_unusable=True)
                log.warning("search index rebuilt after %.1f s", time.monotonic() - started)
        except Exception:  # noqa: BLE001 - the next search tries again
            log.exception("background rebuild of the search index failed")
        finally:
            _rebuilding.release()

    threading.Thread(target=run, name="search-rebuild", daemon=True).start()


def ensure_index(wait: bool = False) -> bool:
    """Return whether a usable index exists; a missing or corrupt one is rebuilt.

    At request time the rebuild runs in a background thread (searches answer with an empty
    result and a notice meanwhile); ``wait=True`` rebuilds inline (CLI, tests).
    """
    from .index import check

    state = current_app.extensions["marktplatz_search"]
    reason = check(index_dir())
    if reason is None:
        state["needs_rebuild"] = False
        return True
    if not _db_ready():
        return False
    if wait or current_app.config.get("SEARCH_REBUILD_INLINE", current_app.config.get("TESTING")):
        log.warning("search index %s (%s): rebuilding", index_dir(), reason)
        rebuild_index(only_if_unusable=True)
        state["needs_rebuild"] = False
        return True
    _rebuild_in_background(current_app._get_current_object(), reason)
    return False


def index_available() -> bool:
    """Return whether the live index can be opened right now."""
    from .index import check

    return check(index_dir()) is None


def catch_up() -> int:
    """Apply pending database changes to this app's index; never raise (log instead)."""
    from .index import catch_up as _catch_up

    try:
        if not ensure_index():
            return 0
        return _catch_up(index_dir(), _engine(), _sessions()).applied_rows
    except (OperationalError, InterfaceError) as err:
        # The database is unreachable: the request itself answers 503; no traceback spam.
        log.warning("search catch-up skipped, database unavailable (%s)", err.__class__.__name__)
        return 0
    except Exception:  # noqa: BLE001 - the next call catches up; a user never sees this
        log.exception("search catch-up failed; will retry on the next request")
        return 0


def search_listings(user: Any, q: str, filters: dict[str, Any] | None = None, sort: str = "relevance",
                    page: int = 1, per_page: int = 20) -> SearchResult:
    """Search the listings user may see; facets count the whole result set.

    While the index is missing or broken (and being rebuilt) the result is empty and marked
    ``unavailable`` instead of failing.
    """
    from ..db import get_session
    from .query import search_listings as _search

    catch_up()
    try:
        return _search(get_session(), index_dir(), user, q or "", filters or {},
                       sort if sort in SORTS else "relevance", page, per_page)
    except Exception:
        if index_available():
            raise
        log.warning("search index vanished during a search; answering without results")
        ensure_index()
        return SearchResult(0, [], {}, max(1, int(page or 1)), per_page, unavailable=True)


def matching_listing_ids(user: Any, q: str, filters: dict[str, Any] | None = None, limit: int = 10_000) -> list[int]:
    """Return the ids of the listings user may see that match q, best first."""
    from ..db import get_session
    from .query import matching_listing_ids as _ids

    catch_up()
    return _ids(get_session(), index_dir(), user, q or "", filters or {}, limit)


def suggest(user: Any, q: str, limit: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Return autocomplete entries (listings user may see, municipalities, OZG-Leistungen)."""
    from ..db import get_session
    from .query import suggest as _suggest

    catch_up()
    try:
        return _suggest(get_session(), index_dir(), user, q, limit)
    except Exception:
        if index_available():
            raise
        return {"listings": [], "organisations": [], "ozg": []}


def init_app(app: Flask) -> None:
    """Check the index at start-up, follow writes, register the setup hook and blueprint."""
    from . import views

    app.extensions["marktplatz_search"] = {"needs_rebuild": False}
    app.extensions.setdefault("marktplatz_setup_hooks", []).append(_setup_hook)
    app.register_blueprint(views.bp)

    with app.app_context():
        from .index import check

        reason = check(app.config["INDEX_DIR"])
        if reason is not None:
            # Tests create many apps with empty index directories: they build on first use.
            if app.config.get("TESTING") or not _db_ready():
                app.extensions["marktplatz_search"]["needs_rebuild"] = True
            else:
                log.warning("search index %s at start-up: rebuilding", reason)
                try:
                    rebuild_index(only_if_unusable=True)
                except Exception:  # noqa: BLE001 - serve anyway; the first search retries
                    log.exception("search index rebuild at start-up failed")
                    app.extensions["marktplatz_search"]["needs_rebuild"] = True

    @app.after_request
    def _follow_writes(response):
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and response.status_code < 500:
            catch_up()
        return response


def _setup_hook() -> None:
    """Build the index if needed, then catch up (run by `marktplatz data setup`)."""
    from .index import check

    if check(index_dir()) is not None:
        import click

        click.echo("Baue den Suchindex ...")
        rebuild_index(only_if_unusable=True)
    catch_up()


def similar_listings(user: Any, text: str, limit: int = 20) -> list[tuple[int, float]]:
    """Return (listing id, similarity 0..1) of visible listings whose wording resembles text."""
    from ..db import get_session
    from .query import similar_listings as _similar

    catch_up()
    try:
        return _similar(get_session(), index_dir(), user, text, limit)
    except Exception:
        if index_available():
            raise
        return []
