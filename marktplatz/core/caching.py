"""One thread-safe LRU for the per-process caches (rendered Markdown, pages, similar listings).

cachetools' LRUCache does the bookkeeping (bounded by entries, or by bytes with getsizeof);
it is not thread-safe, so every access holds a lock. Hits and misses are counted for tests
and for anyone measuring a cache.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache


class LockedLRU:
    """A bounded LRU shared by the threads of a worker.

    maxsize counts entries, or whatever getsizeof returns per value (e.g. len for bytes of
    text). A value bigger than largest (default: the whole budget) is not kept, so a few
    huge values cannot push everything else out.
    """

    def __init__(self, maxsize: int, getsizeof: Callable[[Any], int] | None = None,
                 largest: int | None = None) -> None:
        self.maxsize = maxsize
        self.largest = maxsize if largest is None else largest
        self._sizeof = getsizeof
        self._data: LRUCache = LRUCache(maxsize=max(1, maxsize), getsizeof=getsizeof)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Any) -> Any:
        """Return the value stored under key (a hit), or None (a miss)."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
            else:
                self.hits += 1
            return value

    def put(self, key: Any, value: Any) -> None:
        """Store value under key, dropping the least recently used values beyond maxsize."""
        size = self._sizeof(value) if self._sizeof else 1
        if self.maxsize <= 0 or size > self.largest:
            return
        with self._lock:
            self._data[key] = value

    def __len__(self) -> int:
        return len(self._data)

    @property
    def size(self) -> int:
        """The current total of getsizeof over the values (their count without getsizeof)."""
        return int(self._data.currsize)


def app_cache(name: str, maxsize: int) -> LockedLRU:
    """Return the current app's LRU called name, created on first use.

    Per app, not per module: a database replaced under the same URL (tests, a restore into
    a fresh database) starts again with the same ids and versions.
    """
    from flask import current_app

    caches = current_app.extensions.setdefault("marktplatz_caches", {})
    cache = caches.get(name)
    if cache is None:
        cache = caches.setdefault(name, LockedLRU(maxsize))
    return cache
