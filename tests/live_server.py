"""Start a real gunicorn on a free port for browser, API, fault and load tests (always stopped).

One launcher for every test that needs a real server: `gunicorn()` runs marktplatz.wsgi:app
either with explicit command-line flags or with the production `gunicorn.conf.py` (configured
through GUNICORN_* variables), waits until a readiness path answers 200, writes gunicorn's and
the app's output to a log file, and on exit stops the server's whole process group (see `_stop`).

Each server runs in a session of its own; `STARTED_SESSIONS` records them so the session-end
check in tests/conftest.py can tell whether any of their processes outlived the test.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
START_SECONDS = 60
STOP_SECONDS = 30
# Session ids (= the leader's pid) of every server process group started by this process.
STARTED_SESSIONS: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that is free right now (bind to port 0 and release it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def copy_sqlite(src_url: str, dest: Path) -> str:
    """Copy a SQLite database consistently (backup API) and return the new URL."""
    src = sqlite3.connect(src_url.removeprefix("sqlite:///"))
    dst = sqlite3.connect(str(dest))
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return "sqlite:///" + str(dest)


def app_env(database_url: str, tmp: str | Path, extra_env: dict[str, str] | None = None,
            ratelimit: bool = False) -> dict[str, str]:
    """Return the environment of an app process that works in tmp (instance, index, mail below it).

    The parent's MARKTPLATZ_* variables are left out so a developer's shell cannot leak into
    the server; rate limiting is switched off unless ratelimit is true; extra_env comes last.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKTPLATZ_")}
    env.update({
        "MARKTPLATZ_DATABASE_URL": database_url,
        "MARKTPLATZ_SECRET_KEY": "live-test-secret",
        "MARKTPLATZ_INSTANCE_PATH": os.path.join(tmp, "instance"),
        "MARKTPLATZ_INDEX_DIR": os.path.join(tmp, "index"),
        "MARKTPLATZ_MAIL_DIR": os.path.join(tmp, "mail"),
    })
    if not ratelimit:
        env["MARKTPLATZ_RATELIMIT_ENABLED"] = "false"
    env.update(extra_env or {})
    return env


class Gunicorn:
    """A running gunicorn master with its workers."""

    def __init__(self, proc: subprocess.Popen, port: int, log_path: str, env: dict[str, str]) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.env = env

    def worker_pids(self) -> list[int]:
        """Return the pids of the current worker processes."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True, check=False).stdout
        return [int(x) for x in out.split()]

    def log(self) -> str:
        """Return what gunicorn and the app wrote so far (also readable after the server stopped)."""
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()


# Every gunicorn would otherwise listen on (and on exit remove) the same control socket,
# ~/.gunicorn/gunicorn.ctl, including those of test runs beside this one.
NO_CONTROL_SOCKET = ["--no-control-socket"]


def _command(port: int, workers: int, threads: int | None, production_config: bool) -> tuple[list[str], dict]:
    """Return the gunicorn command line and the GUNICORN_* variables gunicorn.conf.py reads."""
    if production_config:
        settings = {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": str(workers),
                    "GUNICORN_ACCESSLOG": os.devnull}
        if threads is not None:
            settings["GUNICORN_THREADS"] = str(threads)
        return [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
                *NO_CONTROL_SOCKET, "marktplatz.wsgi:app"], settings
    return [sys.executable, "-m", "gunicorn", "--config", "/dev/null", *NO_CONTROL_SOCKET, "-b", f"127.0.0.1:{port}",
            "-w", str(workers), "--threads", str(2 if threads is None else threads), "-k", "gthread",
            "--timeout", "30", "--graceful-timeout", "5", "marktplatz.wsgi:app"], {}


def _wait_ready(server: Gunicorn, ready_path: str) -> None:
    """Poll ready_path until it answers 200; fail early if gunicorn exits."""
    deadline = time.monotonic() + START_SECONDS
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError("gunicorn exited early:\n" + server.log()[-3000:])
        try:
            if requests.get(server.url + ready_path, timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not answer within {START_SECONDS} s:\n" + server.log()[-3000:])
        time.sleep(0.2)


def living_processes() -> dict[int, tuple[int, int]]:
    """Return {pid: (parent pid, process group)} of every living (not zombie) process."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:  # the process has just gone
            continue
        if fields[0] not in ("Z", "X"):
            found[int(entry)] = (int(fields[1]), int(fields[2]))
    return found


def group_members(pgid: int) -> list[int]:
    """Return the pids of the living processes in process group pgid."""
    return [pid for pid, (_ppid, group) in living_processes().items() if group == pgid]


def kill_group(pgid: int, timeout: float = 10) -> None:
    """SIGKILL every process of group pgid and wait until none is left."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"process group {pgid} survived SIGKILL: {group_members(pgid)}")
        time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server: SIGTERM to the master, then SIGKILL to whatever is left of its group.

    The master stops its workers gracefully. The group is killed even when the master has
    already exited: processes a worker forked (Whoosh's multiprocessing index writers, which
    inherit the worker's SIGTERM handler) would otherwise survive their worker and master.
    """
    try:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                pass
    finally:
        kill_group(proc.pid)
        proc.wait(timeout=10)


def _commit_test_session() -> None:
    from flask import g, has_app_context

    if has_app_context() and g.get("db_session") is not None:
        g.db_session.commit()


@contextmanager
def gunicorn(database_url: str, tmp: str | Path, *, workers: int = 2, threads: int | None = None,
             extra_env: dict[str, str] | None = None, production_config: bool = False,
             ready_path: str = "/anmelden", ratelimit: bool = False,
             log_path: str | Path | None = None, index_follower: bool = True) -> Iterator[Gunicorn]:
    """Run gunicorn for marktplatz.wsgi:app on a free 127.0.0.1 port; stop it on exit.

    The app gets `app_env(database_url, tmp, ...)` plus MARKTPLATZ_BASE_URL (the server's own
    URL). production_config: use gunicorn.conf.py with GUNICORN_BIND/WORKERS (THREADS only when
    threads is given) and GUNICORN_ACCESSLOG=/dev/null unless extra_env sets it; otherwise
    explicit flags (gthread, `threads` default 2, timeout 30 s, graceful timeout 5 s).
    The server is ready when GET ready_path answers 200. Output goes to log_path
    (default tmp/gunicorn-<port>.log). index_follower: also run `marktplatz search follow`
    (the worker's index follower, as `make run` does; same environment and log).

    What the calling test wrote in its app context is committed first: the server's
    workers read committed data only, as every other request does.
    """
    _commit_test_session()
    port = free_port()
    os.makedirs(tmp, exist_ok=True)
    command, settings = _command(port, workers, threads, production_config)
    env = app_env(database_url, tmp, {"MARKTPLATZ_BASE_URL": f"http://127.0.0.1:{port}", **settings,
                                      **(extra_env or {})}, ratelimit=ratelimit)
    log_path = str(log_path or os.path.join(tmp, f"gunicorn-{port}.log"))
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        STARTED_SESSIONS.add(proc.pid)
        server = Gunicorn(proc, port, log_path, env)
        follower = subprocess.Popen([str(Path(sys.executable).parent / "marktplatz"), "search", "follow"], cwd=ROOT,
                                    env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True) if index_follower else None
        if follower is not None:
            STARTED_SESSIONS.add(follower.pid)
        try:
            _wait_ready(server, ready_path)
            yield server
        finally:
            _stop(proc)
            if follower is not None:
                _stop(follower)
