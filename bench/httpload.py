"""HTTP benchmarks: gunicorn as configured for production, wrk as load generator."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> int:
    """Poll url every 50 ms until gunicorn answers; return the HTTP status of that first answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                resp.read()
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"gunicorn did not answer on {url}")


@contextmanager
def gunicorn(app_path: str, env_extra: dict[str, str], log_path: str, timing: dict[str, Any] | None = None):
    """Run gunicorn with gunicorn.conf.py (2 workers, gthread) on a free port; yield its base URL and pid.

    timing, when given, receives first_response_s: seconds from starting the gunicorn process
    until its first answer to GET / (imports, app creation, worker fork, the first request).
    """
    port = free_port()
    env = dict(os.environ)
    env.update(env_extra)
    env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
    env.setdefault("GUNICORN_WORKERS", "2")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [os.path.join(BIN, "gunicorn"), "-c", os.path.join(ROOT, "gunicorn.conf.py"), app_path],
            cwd=ROOT, env=env, stdout=log, stderr=log,
        )
        base = f"http://127.0.0.1:{port}"
        started = time.perf_counter()
        try:
            status = _wait_ready(base + "/", proc)
            if timing is not None:
                timing["first_response_s"] = round(time.perf_counter() - started, 3)
                timing["first_status"] = status
            yield base, proc.pid
        finally:
            if proc.poll() is None:
                # Quick shutdown (QUIT): requests a slow endpoint left queued are dropped
                # instead of being worked off for up to graceful_timeout; the figures were
                # taken before this point.
                proc.send_signal(signal.SIGQUIT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@contextmanager
def marktplatz_worker(env: dict[str, str], log: Any):
    """Run `marktplatz worker` (index follower, webhooks, digests) beside a server; yield its process."""
    proc = subprocess.Popen([os.path.join(BIN, "marktplatz"), "worker"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def worker_pids(master: int) -> list[int]:
    """Return the pids of the gunicorn workers of a master process."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("PPid:"):
                        if int(line.split()[1]) == master:
                            pids.append(int(entry))
                        break
        except OSError:
            continue
    return sorted(pids)


def rss_mb(pid: int) -> float:
    """Return the resident set size of a process in MiB (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wrk_available() -> bool:
    """Tell whether the wrk load generator is installed."""
    return shutil.which("wrk") is not None


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(value: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", value.strip())
    if not m:
        return float("nan")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wire_path(path: str) -> str:
    """Return path as it goes on the wire: non-ASCII characters percent-encoded as UTF-8."""
    return quote(path, safe="/?=&+%:;,@!$'()*~-._")


def rotation_script(paths: list[str]) -> str:
    """Return the wrk Lua script that rotates over paths.

    Only ASCII goes into it: json.dumps writes "Müll" as "M\\u00fcll", an escape LuaJIT
    refuses, and wrk then drops the whole script and requests "/" every time. Until this was
    found every search-page figure measured the start page.
    """
    listed = ",".join(f'"{wire_path(p)}"' for p in paths)  # quote() encodes " and \\ too
    return ("local paths = {" + listed + "}\n"
            "local i = 0\n"
            "request = function()\n  i = i % #paths + 1\n  return wrk.format(nil, paths[i])\nend\n")


def wrk(base: str, paths: list[str], seconds: int, connections: int, work_dir: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Load base with wrk, rotating over paths; return req/s, latency p50/p99 and errors."""
    script = os.path.join(work_dir, "paths.lua")
    with open(script, "w", encoding="ascii") as fh:
        fh.write(rotation_script(paths))
    cmd = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s", "-s", script]
    for k, v in (headers or {}).items():
        cmd += ["-H", f"{k}: {v}"]
    done = subprocess.run(cmd + [base], capture_output=True, text=True, timeout=seconds + 60)
    if script in done.stderr:  # a script wrk could not run: it would load "/" instead, silently
        raise RuntimeError(f"wrk refused its rotation script: {done.stderr.strip()}")
    out = done.stdout
    result: dict[str, Any] = {"paths": len(paths), "connections": connections, "seconds": seconds,
                              "loadavg_before": round(os.getloadavg()[0], 2)}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        result[f"p{pct}_ms"] = round(_ms(m.group(1)), 2) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"(\d+) requests in", out)
    result["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors:.*", out)
    result["socket_errors"] = m.group(0) if m else ""
    m = re.search(r"timeout (\d+)", result["socket_errors"])
    result["timeouts"] = int(m.group(1)) if m else 0
    if not result["requests"]:
        # No request completed in the window: wrk prints zero latencies, which would read as fast.
        for pct in ("50", "90", "99"):
            result[f"p{pct}_ms"] = None
        result["note"] = f"no request completed within {seconds} s"
    return result


def get_json(url: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, Any, float]:
    """GET url; return status, decoded JSON (or None) and seconds taken."""
    req = urllib.request.Request(url, headers={"Accept": "application/json", **(headers or {})})
    return _send_json(req, timeout)


def post_json(url: str, payload: Any, headers: dict[str, str]) -> tuple[int, Any, float]:
    """POST JSON; return status, decoded JSON (or None) and seconds taken."""
    data = json.dumps(payload).encode()
    req = urllib.request.Request(
        url, data=data, method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json", **headers},
    )
    return _send_json(req, 120)


def _send_json(req: urllib.request.Request, timeout: float) -> tuple[int, Any, float]:
    """Send req; return status, decoded JSON (or None) and seconds taken (HTTP errors too)."""
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body, status = resp.read(), resp.status
    except urllib.error.HTTPError as err:
        body, status = err.read(), err.code
    took = time.perf_counter() - start
    try:
        return status, json.loads(body or b"null"), took
    except ValueError:
        return status, None, took


def _items(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        for key in ("items", "data", "changes", "results"):
            if isinstance(doc.get(key), list):
                return doc[key]
    return []


def _next_link(doc: Any, base: str) -> str | None:
    if not isinstance(doc, dict):
        return None
    links = doc.get("links") if isinstance(doc.get("links"), dict) else {}
    nxt = links.get("next") or doc.get("next")
    if isinstance(nxt, dict):
        nxt = nxt.get("href")
    if not nxt:
        return None
    return nxt if nxt.startswith("http") else base + nxt


def change_feed(base: str, path: str, max_seconds: float) -> dict[str, Any]:
    """Walk the whole change feed via links.next, then time the first and the last page."""
    first = None
    for candidate in (f"{path}?limit=500", f"{path}?page_size=500", path):
        status, doc, _ = get_json(base + candidate)
        if status == 200 and _items(doc):
            first = candidate
            break
    if first is None:
        return {"available": False, "note": f"{path} answered no items"}
    url: str | None = base + first
    pages, changes, last_url, start = 0, 0, url, time.perf_counter()
    page_times: list[float] = []
    while url and time.perf_counter() - start < max_seconds:
        status, doc, took = get_json(url)
        if status != 200:
            return {"available": False, "note": f"page {pages + 1} answered {status}"}
        items = _items(doc)
        if not items:
            break
        pages += 1
        changes += len(items)
        page_times.append(took)
        last_url = url
        url = _next_link(doc, base)
    walk = time.perf_counter() - start
    complete = url is None or not url
    first_times = [get_json(base + first)[2] for _ in range(20)]
    last_times = [get_json(last_url)[2] for _ in range(20)]
    f_ms, l_ms = statistics.median(first_times) * 1000, statistics.median(last_times) * 1000
    return {
        "available": True,
        "page_size": len(_items(get_json(base + first)[1])),
        "pages_walked": pages,
        "changes_pulled": changes,
        "walk_complete": complete,
        "changes_per_second": round(changes / walk, 1) if walk else None,
        "first_page_ms": round(f_ms, 2),
        "last_page_ms": round(l_ms, 2),
        "last_over_first": round(l_ms / f_ms, 2) if f_ms else None,
    }


def sync_upsert(base: str, path: str, token: str, batches: int, batch_size: int = 500) -> dict[str, Any]:
    """POST batches of new listings (keyed by external_id) and measure listings upserted per second."""
    from .dataset import LICENCES

    headers = {"Authorization": f"Bearer {token}"}
    stamp = int(time.time())
    times, statuses, sent = [], [], 0
    first_batch: list[dict[str, Any]] = []
    for b in range(batches):
        items = [
            {
                "external_id": f"bench-{stamp}-{b}-{i}",
                "kind": "komponente" if i % 3 else "dienst",
                "title": f"Synchronisierter Eintrag {b}-{i} Hundesteuer Anmeldung",
                "summary": "Über die API synchronisiert (Benchmark).",
                "description": "Ein Eintrag aus dem Fachportal der Kommune, per Bulk-Sync übertragen.",
                "tags": ["sync", "benchmark"],
                "licence": LICENCES[i % len(LICENCES)] if i % 3 else None,
            }
            for i in range(batch_size)
        ]
        if b == 0:
            first_batch = items
        for body in ({"items": items}, items):
            status, doc, took = post_json(base + path, body, headers)
            if status not in (400, 415, 422) or body is items:
                break
        statuses.append(status)
        if status >= 300:
            return {"available": True, "ok": False, "status": status, "body": str(doc)[:500]}
        times.append(took)
        sent += batch_size
    status, _doc, again = post_json(base + path, {"items": first_batch}, headers)
    return {
        "available": True,
        "ok": True,
        "batches": batches,
        "batch_size": batch_size,
        "listings_per_second": round(sent / sum(times), 1),
        "batch_p50_s": round(statistics.median(times), 3),
        "unchanged_resend_per_second": round(batch_size / again, 1) if status < 300 else None,
    }


def login_cookie(base: str, email: str, password: str) -> str:
    """Sign in through the real login form (GET for the CSRF token, POST); return a Cookie header.

    Raises when the form does not redirect away from the login page, so a benchmark of a
    signed-in page never measures the login redirect instead.
    """
    import requests

    with requests.Session() as s:
        page = s.get(base + "/anmelden", timeout=30)
        m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        data = {"email": email, "password": password}
        if m:
            data["csrf_token"] = m.group(1)
        resp = s.post(base + "/anmelden", data=data, allow_redirects=False, timeout=30)
        if resp.status_code not in (302, 303) or "/anmelden" in resp.headers.get("Location", ""):
            raise RuntimeError(f"login failed: {resp.status_code} {resp.headers.get('Location')}")
        return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


def check_page(base: str, path: str, headers: dict[str, str] | None = None) -> int:
    """GET path without following redirects; return the status (200 expected)."""
    import requests

    return requests.get(base + path, headers=headers or {}, allow_redirects=False, timeout=60).status_code


class HealthPoller:
    """Sample /healthz every interval seconds in a thread: (seconds since start, index lag_rows)."""

    def __init__(self, base: str, interval: float = 0.1) -> None:
        import threading

        self.base, self.interval = base, interval
        self.samples: list[tuple[float, Any]] = []
        self._stop = threading.Event()
        self.started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            status, doc, _took = get_json(self.base + "/healthz", timeout=10)
            lag = ((doc or {}).get("index") or {}).get("lag_rows") if status == 200 else None
            self.samples.append((time.perf_counter() - self.started, lag))
            self._stop.wait(self.interval)

    def wait_caught_up(self, after: float, timeout: float) -> float | None:
        """Wait until a sample taken after `after` (seconds since start) shows lag 0; return its time."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for t, lag in list(self.samples):
                if t >= after and lag == 0:
                    return t
            time.sleep(self.interval / 2)
        return None

    def stop(self) -> None:
        """End the sampling thread."""
        self._stop.set()
        self._thread.join(15)
