"""Rate limits hold across worker processes (issue 13 item 9): the sqlitefile:// store.

With flask-limiter's memory:// store every gunicorn worker counted on its own, so a limit
of N let about N x workers through. The store in core/ratelimit_store.py is one SQLite file
per host, the default outside tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import requests
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from marktplatz import create_app
from marktplatz.core.ratelimit_store import SqliteFileStorage
from tests.live_server import gunicorn


def _hit(uri: str, times: int) -> int:
    limiter = FixedWindowRateLimiter(storage_from_string(uri))
    item = parse("150/minute")
    return sum(1 for _ in range(times) if limiter.hit(item, "client-1"))


def test_two_processes_share_one_count(tmp_path):
    """Two processes hit one limit of 150 a minute 100 times each: exactly 150 pass."""
    uri = f"sqlitefile://{tmp_path / 'limits.sqlite'}"
    storage_from_string(uri)  # creates the file
    # Two fresh interpreters, as gunicorn workers are. Plain subprocesses rather than a
    # multiprocessing pool: a spawn pool leaves its resource tracker running after the test.
    code = "import sys; from tests.test_ratelimit_store import _hit; print(_hit(sys.argv[1], 100))"
    procs = [subprocess.Popen([sys.executable, "-c", code, uri], stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    passed = [int(proc.communicate(timeout=120)[0]) for proc in procs]
    assert sum(passed) == 150
    assert storage_from_string(uri).get("LIMITER/client-1/150/1/minute") == 200  # every hit counted


def test_the_store_keeps_windows_and_forgets_them(tmp_path):
    store = SqliteFileStorage(f"sqlitefile://{tmp_path / 'w.sqlite'}")
    assert store.incr("k", 60) == 1 and store.incr("k", 60, 2) == 3 and store.get("k") == 3
    assert store.get_expiry("k") > 0 and store.check()
    assert store.incr("short", 0) == 1 and store.get("short") == 0  # a window of 0 s is over at once
    store.clear("k")
    assert store.get("k") == 0 and store.reset() >= 0


def test_outside_tests_the_default_store_is_the_instance_file(tmp_path, monkeypatch):
    monkeypatch.setenv("MARKTPLATZ_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "x"})
    assert app.config["RATELIMIT_STORAGE_URI"] == f"sqlitefile://{tmp_path / 'instance' / 'ratelimits.sqlite'}"
    assert create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "x",
                       "TESTING": True}).config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_a_limit_holds_across_two_gunicorn_workers(app, tmp_path):
    """SEARCH_RATELIMIT 12/minute on a server with 2 workers: exactly 12 of 40 parallel searches pass."""
    with gunicorn(app.config["DATABASE_URL"], str(tmp_path / "live"), workers=2, ratelimit=True,
                  extra_env={"MARKTPLATZ_SEARCH_RATELIMIT": "12/minute"}, index_follower=False) as server:
        def search(i: int) -> int:
            return requests.get(f"{server.url}/eintraege", params={"q": f"hund{i % 3}"}, timeout=30).status_code

        with ThreadPoolExecutor(8) as pool:  # with memory:// (one count per worker) 24 passed here
            codes = list(pool.map(search, range(40)))
        assert codes.count(200) == 12 and codes.count(429) == 28, codes
        assert os.path.exists(os.path.join(tmp_path, "live", "instance", "ratelimits.sqlite"))
