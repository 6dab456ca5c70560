"""A rate-limit store shared by every worker process of one host: a small SQLite file.

flask-limiter's ``memory://`` store lives in each process, so with 2 gunicorn workers a limit
of 20 per minute let about 40 through. limits ships stores for Redis, Memcached and MongoDB
(across hosts) but none that a single host has without another server; this is that one,
registered with limits under the scheme ``sqlitefile`` (``sqlitefile:///path/to/file``).

It implements the fixed-window strategy (flask-limiter's default): one row per key with
its count and the end of its window. Every increment is one short write transaction
(BEGIN IMMEDIATE), so parallel workers never lose a count. Expired rows are purged now and
then. Several hosts need a shared store instead: set ``MARKTPLATZ_RATELIMIT_STORAGE_URI`` to
``redis://host:6379`` (and install the ``redis`` package).
"""

from __future__ import annotations

import os
import random
import sqlite3
import time

from limits.storage import Storage

SCHEME = "sqlitefile"
PURGE_EVERY = 500  # increments, on average, between purges of expired windows


class SqliteFileStorage(Storage):
    """limits storage in a SQLite file (fixed window), safe across processes of one host."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: float | str | bool) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        path = uri.split("://", 1)[1]
        if not path or path == "/":
            raise ValueError("sqlitefile:// needs a file path, e.g. sqlitefile:///var/lib/marktplatz/ratelimits.sqlite")
        self.path = path
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("CREATE TABLE IF NOT EXISTS window (key TEXT PRIMARY KEY, count INTEGER NOT NULL, "
                        "expires REAL NOT NULL)")

    @property
    def base_exceptions(self) -> type[Exception]:  # noqa: D102
        return sqlite3.Error

    def _connect(self) -> sqlite3.Connection:
        # A connection per call: cheap for a local file, and nothing is shared across fork().
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add amount to key's window (a new window of expiry seconds if none is open); return the count."""
        now = time.time()
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            row = con.execute("SELECT count, expires FROM window WHERE key = ?", (key,)).fetchone()
            if row is None or row[1] <= now:
                count, expires = amount, now + expiry
            else:
                count, expires = row[0] + amount, row[1]
            con.execute("INSERT INTO window (key, count, expires) VALUES (?, ?, ?) ON CONFLICT(key) "
                        "DO UPDATE SET count = excluded.count, expires = excluded.expires", (key, count, expires))
            if random.random() < 1 / PURGE_EVERY:  # noqa: S311 - not security relevant
                con.execute("DELETE FROM window WHERE expires <= ?", (now,))
            con.execute("COMMIT")
            return count
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()

    def get(self, key: str) -> int:
        """Return the count of key's open window (0 when there is none)."""
        con = self._connect()
        try:
            row = con.execute("SELECT count FROM window WHERE key = ? AND expires > ?", (key, time.time())).fetchone()
        finally:
            con.close()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        """Return when key's window ends (now when there is none)."""
        con = self._connect()
        try:
            row = con.execute("SELECT expires FROM window WHERE key = ?", (key,)).fetchone()
        finally:
            con.close()
        return float(row[0]) if row and row[0] > time.time() else time.time()

    def check(self) -> bool:
        """Tell whether the file can be read."""
        try:
            con = self._connect()
            try:
                con.execute("SELECT 1 FROM window LIMIT 1")
            finally:
                con.close()
            return True
        except sqlite3.Error:
            return False

    def reset(self) -> int | None:
        """Forget every window; return how many there were."""
        con = self._connect()
        try:
            return con.execute("DELETE FROM window").rowcount
        finally:
            con.close()

    def clear(self, key: str) -> None:
        """Forget key's window."""
        con = self._connect()
        try:
            con.execute("DELETE FROM window WHERE key = ?", (key,))
        finally:
            con.close()
