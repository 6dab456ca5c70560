"""Fault injection against a real gunicorn: killed workers and a database outage.

(a) SIGKILL of workers while clients write: every acknowledged write is in the database.
    The write is a password change through the real form (the most meaningful form-backed
    write on this branch; switch to listing writes once the listing forms exist).
(b) The database becomes unreachable (a TCP proxy in front of PostgreSQL is cut; the shared
    server itself is never stopped): clean 503 pages with a German message while it is
    down, full recovery afterwards without restarting the app.
"""

from __future__ import annotations

import logging
import os
import random
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from werkzeug.security import check_password_hash

from marktplatz.models import User

from . import factories as f
from .conftest import IN_CI, PG_URL
from .live_server import free_port, gunicorn

log = logging.getLogger("faults")
pytestmark = pytest.mark.slow

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Writer:
    """One client that keeps changing its own password and remembers what was acknowledged."""

    email: str
    acked: str
    base: str
    pending: str | None = None
    attempted: int = 0
    acknowledged: int = 0
    unknown: int = 0
    errors: list[str] = field(default_factory=list)
    http: requests.Session = field(default_factory=requests.Session)

    def login(self, password: str) -> bool:
        """Sign in through the form; return whether it worked."""
        self.http = requests.Session()
        page = self.http.get(self.base + "/anmelden", timeout=10).text
        token = TOKEN_RE.search(page).group(1)
        resp = self.http.post(self.base + "/anmelden", allow_redirects=False, timeout=10,
                              data={"email": self.email, "password": password, "csrf_token": token})
        return resp.status_code == 302

    def resync(self) -> None:
        """After an unknown outcome, find out which password the server kept."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                for candidate in (self.pending, self.acked):
                    if candidate and self.login(candidate):
                        if candidate == self.pending:
                            self.acked = candidate  # the unacknowledged write did happen
                        self.pending = None
                        return
                self.errors.append("neither the pending nor the acknowledged password works")
                return
            except (requests.RequestException, AttributeError):
                time.sleep(0.3)  # the worker died again; try once more
        self.errors.append("could not sign in again within 60 s")

    def step(self, n: int) -> None:
        """Change the password once."""
        new = f"{self.acked[:10]}-{n:05d}-neu"
        self.attempted += 1
        self.pending = new
        try:
            page = self.http.get(self.base + "/konto/passwort", timeout=10)
            token = TOKEN_RE.search(page.text).group(1)
            resp = self.http.post(
                self.base + "/konto/passwort", allow_redirects=False, timeout=10,
                data={"current_password": self.acked, "new_password": new, "repeat_password": new,
                      "csrf_token": token},
            )
        except (requests.RequestException, AttributeError):
            self.unknown += 1
            self.resync()
            return
        if resp.status_code == 302:
            self.acked, self.pending = new, None
            self.acknowledged += 1
        elif resp.status_code >= 500 or resp.status_code in (400, 502, 503):
            self.unknown += 1
            self.resync()
        else:
            self.errors.append(f"unexpected {resp.status_code}")


def test_sigkill_of_workers_loses_no_acknowledged_write(app, session, tmp_path, backend):
    """Kill a random worker every 2.5 s while 6 clients write for 20 s: nothing acknowledged is lost."""
    users = [f.user(session, "officer", f.FREIBURG, email=f"writer{i}@example.org") for i in range(6)]
    session.commit()
    url = app.config["DATABASE_URL"]
    stop = threading.Event()
    kills = 0
    with gunicorn(url, str(tmp_path / "live"), workers=3, threads=2) as server:
        writers = [Writer(u.email, f.PASSWORD, server.url) for u in users]
        for w in writers:
            assert w.login(w.acked)

        def run(w: Writer) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                w.step(n)

        threads = [threading.Thread(target=run, args=(w,)) for w in writers]
        for t in threads:
            t.start()
        started = time.monotonic()
        rng = random.Random(8)
        while time.monotonic() - started < 20:
            time.sleep(2.5)
            pids = server.worker_pids()
            if pids:
                victim = rng.choice(pids)
                try:
                    os.kill(victim, signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert server.proc.poll() is None, "gunicorn master died"
    engine = create_engine(url)
    lost = 0
    try:
        with engine.connect() as conn:
            for w in writers:
                stored = conn.execute(select(User.password_hash).where(User.email == w.email)).scalar()
                if not check_password_hash(stored, w.acked):
                    lost += 1
    finally:
        engine.dispose()
    attempted = sum(w.attempted for w in writers)
    acked = sum(w.acknowledged for w in writers)
    unknown = sum(w.unknown for w in writers)
    summary = (f"[{backend}] SIGKILL: {kills} workers killed, {attempted} writes attempted, "
               f"{acked} acknowledged, {unknown} cut off (outcome checked), {lost} lost")
    print(summary)
    log.warning(summary)
    assert kills >= 6
    assert acked > 0
    assert [e for w in writers for e in w.errors] == []
    assert lost == 0


class TcpProxy:
    """Forward a local port to PostgreSQL; cut() drops every connection and refuses new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.up = threading.Event()
        self.up.set()
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks.update({client, upstream})
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            with self._lock:
                self._socks.discard(src)
                self._socks.discard(dst)

    def cut(self) -> None:
        """Make the database unreachable: close every connection, refuse new ones."""
        self.up.clear()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore(self) -> None:
        """Make the database reachable again."""
        self.up.set()

    def close(self) -> None:
        """Stop the proxy."""
        self._closed = True
        self.cut()
        self._listener.close()


@pytest.mark.skipif(not PG_URL and not IN_CI, reason="needs MARKTPLATZ_TEST_DATABASE_URL")
def test_database_outage_gives_503_and_recovers(database_urls, tmp_path):
    """While PostgreSQL is unreachable pages answer 503 in German; afterwards all works again."""
    real = make_url(database_urls["postgresql"])
    proxy = TcpProxy((real.host or "127.0.0.1", real.port or 5432))
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    timeline: list[str] = []
    try:
        with gunicorn(proxied, str(tmp_path / "live"), workers=2, threads=2) as server:
            def probe(path: str = "/") -> int:
                try:
                    return requests.get(server.url + path, timeout=15).status_code
                except requests.RequestException as err:
                    return -1 if err else -1

            for _ in range(10):  # warm the connection pools of both workers
                assert probe("/eintraege") == 200
            proxy.cut()
            t0 = time.monotonic()
            down_codes = []
            for i in range(20):
                path = ("/", "/eintraege", "/healthz", "/anmelden")[i % 4]
                resp = requests.get(server.url + path, timeout=15)
                down_codes.append(resp.status_code)
                if path != "/anmelden":  # the sign-in form needs no database
                    assert resp.status_code == 503, (path, resp.status_code)
                    assert resp.headers.get("Retry-After")
                    if path != "/healthz":
                        assert "Datenbank ist gerade nicht erreichbar" in resp.text
            timeline.append(f"outage: {len(down_codes)} requests in {time.monotonic() - t0:.1f}s, "
                            f"codes {sorted(set(down_codes))}")
            proxy.restore()
            t1 = time.monotonic()
            recovered = None
            while time.monotonic() - t1 < 30:
                if all(probe(p) == 200 for p in ("/", "/eintraege", "/healthz")):
                    recovered = time.monotonic() - t1
                    break
                time.sleep(0.2)
            assert recovered is not None, "no recovery within 30 s"
            codes = [probe(p) for p in ("/", "/eintraege", "/healthz") * 10]
            assert codes == [200] * 30
            timeline.append(f"recovered {recovered:.2f}s after the database came back, "
                            "30 follow-up requests all 200, app not restarted")
            assert "Traceback" not in server.log()
    finally:
        proxy.close()
    for line in timeline:
        print("DB outage:", line)
        log.warning("DB outage: %s", line)
