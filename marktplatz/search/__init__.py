"""Full-text search (Whoosh), kept in step with the database through the change log.

The rest of the app calls only the functions here: search_listings, suggest, catch_up,
rebuild_index. All Whoosh imports stay inside this package.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy import inspect as sa_inspect

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


def ensure_index() -> bool:
    """Rebuild a missing or corrupt index now; return whether an index is available."""
    from .index import check

    state = current_app.extensions["marktplatz_search"]
    if state.get("needs_rebuild") or check(index_dir()) is not None:
        if not _db_ready():
            return False
        reason = check(index_dir())
        if reason is not None:
            log.warning("search index %s (%s): rebuilding", index_dir(), reason)
            rebuild_index(only_if_unusable=True)
        state["needs_rebuild"] = False
    return True


def catch_up() -> int:
    """Apply pending database changes to this app's index; never raise (log instead)."""
    from .index import catch_up as _catch_up

    try:
        if not ensure_index():
            return 0
        return _catch_up(index_dir(), _engine(), _sessions()).applied_rows
    except Exception:  # noqa: BLE001 - the next call catches up; a user never sees this
        log.exception("search catch-up failed; will retry on the next request")
        return 0


def search_listings(user: Any, q: str, filters: dict[str, Any] | None = None, sort: str = "relevance",
                    page: int = 1, per_page: int = 20) -> SearchResult:
    """Search the listings user may see; facets count the whole result set."""
    from ..db import get_session
    from .query import search_listings as _search

    catch_up()
    return _search(get_session(), index_dir(), user, q or "", filters or {}, sort if sort in SORTS else "relevance",
                   page, per_page)


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
    return _suggest(get_session(), index_dir(), user, q, limit)


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
    return _similar(get_session(), index_dir(), user, text, limit)
