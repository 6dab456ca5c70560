"""Full-text search (Whoosh), kept in step with the database through the change log.

The rest of the app calls only the functions here: search_listings, suggest, catch_up,
defer_catch_up, rebuild_index. All Whoosh imports stay inside this package.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import InterfaceError, OperationalError

from .query import FACET_TITLES, FACETS, SORTS, Hit, SearchResult

log = logging.getLogger(__name__)

__all__ = [
    "FACETS", "FACET_TITLES", "SORTS", "Hit", "SearchResult", "catch_up", "defer_catch_up", "index_dir",
    "init_app", "matching_listing_ids", "rebuild_index", "search_listings", "similar_listings", "suggest",
    "wait_for_follower",
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
    from .index import check, current_generation

    state = current_app.extensions["marktplatz_search"]
    root = index_dir()
    # Opening the index to check it costs tens of ms; a generation that opened once stays
    # usable while its directory exists (a search that fails anyway re-checks, see below).
    gen = current_generation(root)
    if gen is not None and state.get("checked") == gen and os.path.isdir(gen):
        return True
    reason = check(root)
    if reason is None:
        state["needs_rebuild"] = False
        state["checked"] = gen
        return True
    state["checked"] = None
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

    ok = check(index_dir()) is None
    if not ok:
        current_app.extensions["marktplatz_search"]["checked"] = None  # ensure_index re-checks
    return ok


def catch_up() -> int:
    """Apply pending database changes to this app's index; return how many rows; never raise.

    If this process's background follower is indexing a bulk write (see defer_catch_up),
    wait for it first (at most SEARCH_FOLLOW_WAIT seconds), so a search finds the process's
    own writes. A catch-up running in another thread or process is not waited for: the
    change log is applied by whoever holds the index's follow lock.
    """
    state = current_app.extensions["marktplatz_search"]
    if state["bulk"] and threading.current_thread() is not state["follower"]:
        # While this request waits for the follower, the follower must not yield to it.
        counted = _uncount_request(state)
        try:
            if not wait_for_follower(timeout=float(current_app.config.get("SEARCH_FOLLOW_WAIT", 10))):
                log.warning("search catch-up: this process's follower is still busy; answering as is")
        finally:
            if counted:
                _count_request(state)
    return _catch_up_once().applied_rows


def _catch_up_once(pause: Any = None) -> Any:
    """Run one catch-up and return its index.CatchUp (empty if it failed; failures are logged).

    pause is called before each listing document is indexed (the follower yields there).
    """
    from .index import CatchUp
    from .index import catch_up as _catch_up

    try:
        if not ensure_index():
            return CatchUp()
        return _catch_up(index_dir(), _engine(), _sessions(), pause=pause)
    except (OperationalError, InterfaceError) as err:
        # The database is unreachable: the request itself answers 503; no traceback spam.
        log.warning("search catch-up skipped, database unavailable (%s)", err.__class__.__name__)
    except Exception:  # noqa: BLE001 - the next call catches up; a user never sees this
        log.exception("search catch-up failed; will retry on the next request")
    return CatchUp()


_COUNTED = "marktplatz.search.in_flight"
FOLLOWER_RETRY_SECONDS = 30.0  # how long the follower retries while the index is busy


def _count_request(state: dict[str, Any]) -> None:
    """Count the current request as in flight (the background follower yields to it)."""
    with state["count_lock"]:
        state["in_flight"] += 1
    request.environ[_COUNTED] = True


def _uncount_request(state: dict[str, Any]) -> bool:
    """Stop counting the current request, if it was counted; return whether it was."""
    if not has_request_context() or not request.environ.pop(_COUNTED, False):
        return False
    with state["count_lock"]:
        state["in_flight"] -= 1
    return True


def _yield_to_requests(state: dict[str, Any], most: float = 0.25) -> None:
    """Sleep while this process serves requests, at most `most` seconds (so indexing still moves)."""
    deadline = time.monotonic() + most
    while state["in_flight"] > 0 and time.monotonic() < deadline:
        time.sleep(0.005)


def defer_catch_up() -> None:
    """Let the current write request answer before the index has caught up with it.

    For bulk writes (the sync API): indexing hundreds of listings would otherwise take longer
    than writing them. A follower thread of this process catches up right after the request,
    stepping aside while the process serves other requests; searches in this process wait for
    it, so they still see the writes.
    """
    g.search_catch_up_deferred = True


def _follow_in_background(app: Flask, bulk: bool = False) -> None:
    """Have this process's follower thread catch up (once more, if it is at it already).

    bulk: it is woken for a deferred bulk write, which this process's searches wait for.
    """
    state = app.extensions["marktplatz_search"]
    with state["follower_guard"]:
        state["follow_again"] = True
        state["bulk"] = state["bulk"] or bulk
        if state["follower"] is not None:
            return
        thread = threading.Thread(target=_follower, args=(app,), name="search-follow", daemon=True)
        state["follower"] = thread
        thread.start()  # under the guard: wait_for_follower must never join an unstarted thread


def _follower(app: Flask) -> None:
    state = app.extensions["marktplatz_search"]
    while True:
        with state["follower_guard"]:
            if not state["follow_again"]:
                state["follower"] = None
                state["bulk"] = False
                return
            state["follow_again"] = False
        try:
            with app.app_context():
                # Indexing is the follower's work, answering requests the process's: between
                # documents it steps aside while a request of this process is being served.
                # While another thread or process holds the index, try again: that catch-up
                # may have started before the writes this follower was woken for.
                deadline = time.monotonic() + FOLLOWER_RETRY_SECONDS
                while (_catch_up_once(pause=lambda: _yield_to_requests(state)).skipped_busy
                       and time.monotonic() < deadline):
                    time.sleep(0.05)
        except Exception:  # noqa: BLE001 - catch-up logs its own failures; keep following
            log.exception("search follower failed")


def wait_for_follower(app: Flask | None = None, timeout: float = 60.0) -> bool:
    """Wait until the follower thread of app (default: the current one) is idle; return whether it is."""
    state = (app or current_app).extensions["marktplatz_search"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with state["follower_guard"]:
            thread = state["follower"]
        if thread is None:
            return True
        thread.join(max(0.0, deadline - time.monotonic()))
    return False


def search_listings(user: Any, q: str, filters: dict[str, Any] | None = None, sort: str = "relevance",
                    page: int = 1, per_page: int = 20) -> SearchResult:
    """Search the listings user may see; facets count the whole result set.

    While the index is missing or broken (and being rebuilt) the result is empty and marked
    ``unavailable`` instead of failing.
    """
    from ..core.db import get_session
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
    from ..core.db import get_session
    from .query import matching_listing_ids as _ids

    catch_up()
    return _ids(get_session(), index_dir(), user, q or "", filters or {}, limit)


def suggest(user: Any, q: str, limit: int = 5) -> dict[str, list[dict[str, Any]]]:
    """Return autocomplete entries (listings user may see, municipalities, OZG-Leistungen)."""
    from ..core.db import get_session
    from .query import suggest as _suggest

    catch_up()
    try:
        return _suggest(get_session(), index_dir(), user, q, limit)
    except Exception:
        if index_available():
            raise
        return {"listings": [], "organisations": [], "ozg": []}


def init_app(app: Flask) -> None:
    """Check the index at start-up, follow writes and register the setup hook."""
    app.extensions["marktplatz_search"] = {
        "needs_rebuild": False,
        "follower_guard": threading.Lock(),
        "follower": None,  # the background follower thread while it runs
        "bulk": False,  # the follower has a deferred bulk write to index (searches wait for it)
        "follow_again": False,
        "count_lock": threading.Lock(),
        "in_flight": 0,  # requests this process is serving (not waiting for the follower)
    }
    app.extensions.setdefault("marktplatz_setup_hooks", []).append(_setup_hook)

    with app.app_context():
        from .index import check

        # A missing or broken index is not rebuilt here: every CLI command and tool creates
        # an app, and `marktplatz search rebuild` would then build twice. The first search or
        # write rebuilds it (in the background while serving); `data setup` builds it first.
        if check(app.config["INDEX_DIR"]) is not None:
            app.extensions["marktplatz_search"]["needs_rebuild"] = True

    @app.before_request
    def _count_in_flight():
        _count_request(app.extensions["marktplatz_search"])

    @app.teardown_request
    def _uncount_in_flight(_exc):
        _uncount_request(app.extensions["marktplatz_search"])

    @app.after_request
    def _follow_writes(response):
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and response.status_code < 500:
            state = app.extensions["marktplatz_search"]
            # A write while the follower runs is left to the follower: this request's own
            # catch-up would find the index busy and skip.
            if g.pop("search_catch_up_deferred", False):
                _follow_in_background(app, bulk=True)
            elif state["follower"] is not None:
                _follow_in_background(app)
            elif _catch_up_once().skipped_busy:
                # Another catch-up holds the index and may have started before this write
                # committed: the follower applies it as soon as the index is free.
                _follow_in_background(app)
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
    from ..core.db import get_session
    from .query import similar_listings as _similar

    catch_up()
    try:
        return _similar(get_session(), index_dir(), user, text, limit)
    except Exception:
        if index_available():
            raise
        return []
