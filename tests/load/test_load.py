"""Load test: real gunicorn (4 workers), concurrent API writers and web/API readers for ~40 s.

Runs on PostgreSQL when MARKTPLATZ_TEST_DATABASE_URL is set (always under CI), otherwise on
SQLite so a local ``make test`` covers it too. Writers are threads using write tokens of three
municipalities (created through services.tokens) to POST new listings and PUT / PATCH their
own listings; readers hit the search page, the listing pages and the read API. Afterwards:
zero 5xx, every acknowledged write is in the database (title and version of the last
acknowledged response) and in the search index (queried through search.search_listings).
Set MARKTPLATZ_LOAD_SECONDS to run longer.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests
from sqlalchemy import select

from marktplatz import search
from marktplatz.models import Listing
from marktplatz.services import tokens
from tests import factories as f
from tests.conftest import PG_URL
from tests.live_server import gunicorn

log = logging.getLogger("load")
pytestmark = pytest.mark.slow

LOAD_BACKEND = "postgresql" if PG_URL else "sqlite"
SECONDS = float(os.environ.get("MARKTPLATZ_LOAD_SECONDS", "25"))
WORD = "Lastprobe"  # in every title written by the load, so one search finds them all
MUNICIPALITIES = (f.FREIBURG, f.MANNHEIM, f.KARLSRUHE)


@dataclass
class Stats:
    """Counters and latencies shared by all client threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    attempted: int = 0
    acknowledged: int = 0
    refused: list[str] = field(default_factory=list)  # 4xx answers to writes (should be none)
    reads: int = 0
    server_errors: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    write_ms: list[float] = field(default_factory=list)
    read_ms: list[float] = field(default_factory=list)
    # listing id -> (title, version) of the last acknowledged write
    acked: dict[int, tuple[str, int]] = field(default_factory=dict)


def percentile(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank) of values, 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def _client() -> requests.Session:
    """A session that opens one connection per request.

    gunicorn closes an idle keep-alive connection after 2 s; a reader that alternates two
    sessions under load sends on such a connection now and then and gets a reset, which a
    browser would silently retry. With one connection per request, a reset is a server fault.
    """
    http = requests.Session()
    http.headers["Connection"] = "close"
    return http


def _timed(http: requests.Session, method: str, url: str, **kw) -> tuple[requests.Response | None, float, str]:
    t0 = time.perf_counter()
    try:
        resp = http.request(method, url, timeout=90, **kw)
    except requests.RequestException as err:
        return None, (time.perf_counter() - t0) * 1000, repr(err)
    return resp, (time.perf_counter() - t0) * 1000, ""


def writer(base: str, secret: str, name: str, stats: Stats, stop: threading.Event, seed: int) -> None:
    """Create listings and update this writer's own listings until stop is set."""
    rng = random.Random(seed)
    http = _client()
    http.headers["Authorization"] = f"Bearer {secret}"
    mine: dict[int, dict] = {}  # id -> last acknowledged body
    for n in itertools.count(1):
        if stop.is_set():
            return
        title = f"{WORD} {name} Nummer {n}"
        if not mine or rng.random() < 0.4:
            method, url = "POST", base + "/api/v1/listings"
            kw = {"json": f.listing_data(title=title)}
        else:
            lid = rng.choice(sorted(mine))
            if rng.random() < 0.5:
                body = f.listing_data(title=title, summary=f"Stand {n} nach einer Änderung unter Last.")
                method, url, kw = "PUT", f"{base}/api/v1/listings/{lid}", {"json": body}
            else:
                method, url = "PATCH", f"{base}/api/v1/listings/{lid}"
                kw = {"data": f'{{"title": "{title}"}}',
                      "headers": {"Content-Type": "application/merge-patch+json"}}
        resp, ms, err = _timed(http, method, url, **kw)
        with stats.lock:
            stats.attempted += 1
            stats.write_ms.append(ms)
            if resp is None:
                stats.transport_errors.append(f"{method} {url}: {err}")
            elif resp.status_code >= 500:
                stats.server_errors.append(f"{method} {url}: {resp.status_code} {resp.text[:200]}")
            elif resp.status_code in (200, 201):
                body = resp.json()
                stats.acknowledged += 1
                stats.acked[body["id"]] = (body["title"], body["version"])
                mine[body["id"]] = body
            else:
                stats.refused.append(f"{method} {url}: {resp.status_code} {resp.text[:200]}")


def reader(base: str, secret: str, slugs: list[str], stats: Stats, stop: threading.Event, seed: int) -> None:
    """Read search, list and detail pages and the read API until stop is set."""
    rng = random.Random(seed)
    http = _client()
    api = _client()
    api.headers["Authorization"] = f"Bearer {secret}"
    paths = [
        (http, f"/suche?q={WORD}"), (http, "/suche?q=Hundesteuer"), (http, "/suche?q=Freiburg"),
        (http, "/eintraege"), (http, "/eintraege?seite=2"), (http, "/api/v1/listings"),
        (api, "/api/v1/listings?limit=50"), (api, "/api/v1/changes?limit=100"),
    ]
    while not stop.is_set():
        if rng.random() < 0.25:
            client, path = http, f"/eintraege/{rng.choice(slugs)}"
        else:
            client, path = rng.choice(paths)
        resp, ms, err = _timed(client, "GET", base + path)
        with stats.lock:
            stats.reads += 1
            stats.read_ms.append(ms)
            if resp is None:
                stats.transport_errors.append(f"GET {path}: {err}")
            elif resp.status_code >= 500:
                stats.server_errors.append(f"GET {path}: {resp.status_code}")
            elif resp.status_code != 200:
                stats.refused.append(f"GET {path}: {resp.status_code}")


def indexed_titles(user) -> dict[int, str]:
    """Return listing id -> indexed title of every listing the load wrote (via search)."""
    out: dict[int, str] = {}
    page = 1
    while True:
        result = search.search_listings(user, WORD, page=page, per_page=100)
        out.update({h.listing_id: h.title for h in result.hits})
        if page >= result.pages:
            return out
        page += 1


@pytest.mark.parametrize("backend", [LOAD_BACKEND])
def test_load_keeps_every_acknowledged_write(app, session, backend, tmp_path):
    """4 workers, 6 API writers of 3 municipalities, 4 readers: no 5xx, nothing acknowledged is lost."""
    admin = f.user(session, "admin", ags=None)
    secrets = {}
    read_secret = ""
    for ags in MUNICIPALITIES:
        officer = f.user(session, "officer", ags)
        _tok, secrets[ags] = tokens.create_token(session, officer, officer.organisation, "Last", ["read", "write"])
        if not read_secret:
            _tok, read_secret = tokens.create_token(session, officer, officer.organisation, "Lesen", ["read"])
        # Published listings so the detail pages have something to show.
        for _ in range(3):
            f.listing(session, officer, publish_by=admin)
    slugs = list(session.scalars(select(Listing.slug).where(Listing.status == "published")))
    session.commit()

    stats = Stats()
    stop = threading.Event()
    env = {"MARKTPLATZ_INDEX_DIR": app.config["INDEX_DIR"]}
    with gunicorn(app.config["DATABASE_URL"], str(tmp_path / "live"), workers=4, threads=2,
                  extra_env=env) as server:
        threads = []
        for i, ags in enumerate(MUNICIPALITIES):
            for k in range(2):
                name = f"{ags[-4:]}-{k}"
                threads.append(threading.Thread(target=writer, args=(server.url, secrets[ags], name, stats,
                                                                     stop, 100 * i + k)))
        for i in range(4):
            threads.append(threading.Thread(target=reader, args=(server.url, read_secret, slugs, stats, stop,
                                                                 1000 + i)))
        t0 = time.monotonic()
        for t in threads:
            t.start()
        stop.wait(SECONDS)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        elapsed = time.monotonic() - t0
        assert not any(t.is_alive() for t in threads), "a client thread hung"
        assert server.proc.poll() is None, "gunicorn master died"
        server_log = server.log()

    # Database: every acknowledged write is there with the acknowledged title and version.
    session.expire_all()
    stored = {row.id: (row.title, row.version) for row in session.execute(
        select(Listing.id, Listing.title, Listing.version).where(Listing.id.in_(list(stats.acked)))
    )}
    lost_db = {lid: want for lid, want in stats.acked.items() if stored.get(lid) != want}

    # Search index: catch up (as the worker's next round would) and find each listing's last title.
    t1 = time.monotonic()
    search.catch_up()
    indexed = indexed_titles(admin)
    lost_index = {lid: title for lid, (title, _v) in stats.acked.items() if indexed.get(lid) != title}
    catch_up_s = time.monotonic() - t1

    figures = (
        f"[{backend}] load {elapsed:.0f}s, 4 workers x 2 threads, 6 writers / 4 readers: "
        f"writes attempted {stats.attempted}, acknowledged {stats.acknowledged}, "
        f"listings {len(stats.acked)} kept in DB {len(stats.acked) - len(lost_db)} "
        f"and in index {len(stats.acked) - len(lost_index)} (checked in {catch_up_s:.1f}s); "
        f"reads {stats.reads}; 5xx {len(stats.server_errors)}; transport errors "
        f"{len(stats.transport_errors)}; other non-2xx {len(stats.refused)}; "
        f"write p50/p95 {percentile(stats.write_ms, 50):.0f}/{percentile(stats.write_ms, 95):.0f} ms, "
        f"read p50/p95 {percentile(stats.read_ms, 50):.0f}/{percentile(stats.read_ms, 95):.0f} ms"
    )
    print(figures)
    log.warning(figures)
    assert stats.server_errors == []
    assert stats.transport_errors == []
    assert stats.refused == []
    assert stats.acknowledged >= 50, "the load produced too few writes to mean anything"
    assert stats.reads >= SECONDS, "the readers barely got through"
    assert lost_db == {}
    assert lost_index == {}
    assert "Traceback" not in server_log
