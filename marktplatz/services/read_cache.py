"""Shared pieces of the read services: the short-lived per-visibility cache of aggregates."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.orm import Session

from ..models import (
    Listing,
    ListingStatus,
)
from ..permissions import viewer_scope

# Aggregates shown on every start and browse page are cached briefly per visibility class:
# at 100,000 listings they cost hundreds of milliseconds, and a number that is up to
# STATS_TTL seconds old is fine for "key numbers".
STATS_TTL = 30.0
_stats_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
_computing: dict[tuple[Any, ...], threading.Lock] = {}  # the keys being computed, one thread each
_computing_guard = threading.Lock()


def _viewer_key(user: Any) -> Any:
    return viewer_scope(user)


def _cached(name: str, session: Session, user: Any, compute: Any) -> Any:
    """Return compute() from a short per-process cache keyed by name and visibility class.

    One thread computes a value at a time. While it does, the other request threads keep
    the expired value if there is one, or wait for the new one: at 100,000 listings each
    computation takes a few hundred milliseconds, and the eight threads of two workers all
    computing the same aggregate at once held the browse and search pages up for seconds
    (a quarter of a search page worker's time under load, py-spy).
    """
    import time

    from flask import current_app

    ttl = float(current_app.config.get("STATS_CACHE_SECONDS", STATS_TTL))
    if ttl <= 0:
        return compute()
    key = (name, str(session.get_bind().url), _viewer_key(user))
    hit = _stats_cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    with _computing_guard:
        lock = _computing.setdefault(key, threading.Lock())
    if not lock.acquire(blocking=hit is None):
        return hit[1]  # expired, and another thread is computing the new value: the old one meanwhile
    try:
        fresh = _stats_cache.get(key)
        if fresh is not None and fresh[0] > time.monotonic():
            return fresh[1]  # computed by the thread this one waited for
        value = compute()
        if len(_stats_cache) > 1000:
            _stats_cache.clear()
        _stats_cache[key] = (time.monotonic() + ttl, value)
        return value
    finally:
        with _computing_guard:  # threads waiting on it hold it already; later ones find the value
            if _computing.get(key) is lock:
                del _computing[key]
        lock.release()


PUBLISHED = Listing.status == ListingStatus.PUBLISHED.value
ONLINE_REUSE_STAGES = ("production", "pilot")
