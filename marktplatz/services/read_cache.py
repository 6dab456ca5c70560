"""Shared pieces of the read services: the short-lived per-visibility cache of aggregates."""

from __future__ import annotations

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


def _viewer_key(user: Any) -> Any:
    return viewer_scope(user)


def _cached(name: str, session: Session, user: Any, compute: Any) -> Any:
    """Return compute() from a short per-process cache keyed by name and visibility class."""
    import time

    from flask import current_app

    ttl = float(current_app.config.get("STATS_CACHE_SECONDS", STATS_TTL))
    if ttl <= 0:
        return compute()
    key = (name, str(session.get_bind().url), _viewer_key(user))
    now = time.monotonic()
    hit = _stats_cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    value = compute()
    if len(_stats_cache) > 1000:
        _stats_cache.clear()
    _stats_cache[key] = (now + ttl, value)
    return value


PUBLISHED = Listing.status == ListingStatus.PUBLISHED.value
ONLINE_REUSE_STAGES = ("production", "pilot")
