"""Rendered pages for anonymous readers, valid until the next change of the data.

Anonymous visitors all see the same listing page, so its HTML is kept per process and
answered again as long as the database holds the data it was rendered from. Every write of
what a page shows (listing, reuse, status update, organisation) adds a change-log row in
the same transaction, so the key includes the highest change-log id and the number of rows
among the last WINDOW ids, read with one index-only query per request. SQLite commits in id
order; on PostgreSQL a transaction may take a smaller id and commit later, which the count
catches (unless it stays open while WINDOW later changes commit: service writes are short).

A cached page is therefore not served stale; under a steady stream of writes it simply misses. Only
anonymous requests without flashed messages are cached (signed-in pages show actions,
forms and CSRF tokens of the viewer). PAGE_CACHE_ENTRIES (0 switches it off) bounds the
memory: pages are about 20 to 40 KB each.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app, session
from flask_login import current_user
from sqlalchemy.orm import Session

from ...core.caching import LockedLRU
from ...services.changelog import data_version

EXTENSION = "marktplatz_page_cache"


def init_app(app: Flask) -> None:
    """Create the app's page cache (PAGE_CACHE_ENTRIES pages)."""
    # Per app: a database replaced under the same URL (tests, a restore into a fresh
    # database) starts again with the same ids and versions.
    app.extensions[EXTENSION] = LockedLRU(app.config["PAGE_CACHE_ENTRIES"])


def cached_page(db: Session, name: str, render: Callable[[], tuple[str, int]]) -> tuple[str, int]:
    """Return render() for the page called name, from the cache when the viewer is anonymous.

    render returns (html, status); only status 200 is kept.
    """
    cache: LockedLRU = current_app.extensions[EXTENSION]
    if cache.maxsize <= 0 or current_user.is_authenticated or session.get("_flashes"):
        return render()
    key = (name, data_version(db))
    page = cache.get(key)
    if page is not None:
        return page
    page = render()
    if page[1] == 200:
        cache.put(key, page)
    return page
