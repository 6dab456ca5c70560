"""Start a real gunicorn on a free port for browser, fault and load tests (always stopped)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

BIN = os.path.dirname(sys.executable)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that is free right now (bind to port 0 and release it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Gunicorn:
    """A running gunicorn master with its workers."""

    def __init__(self, proc: subprocess.Popen, port: int, log_path: str) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    def worker_pids(self) -> list[int]:
        """Return the pids of the current worker processes."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True, check=False).stdout
        return [int(x) for x in out.split()]

    def log(self) -> str:
        """Return what gunicorn and the app wrote so far."""
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()


@contextmanager
def gunicorn(database_url: str, tmp: str, workers: int = 2, threads: int = 2,
             extra_env: dict[str, str] | None = None) -> Iterator[Gunicorn]:
    """Run gunicorn for marktplatz.wsgi:app on a free port; stop it on exit."""
    port = free_port()
    os.makedirs(tmp, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MARKTPLATZ_")}
    env.update({
        "MARKTPLATZ_DATABASE_URL": database_url,
        "MARKTPLATZ_SECRET_KEY": "live-test-secret",
        "MARKTPLATZ_INSTANCE_PATH": os.path.join(tmp, "instance"),
        "MARKTPLATZ_INDEX_DIR": os.path.join(tmp, "index"),
        "MARKTPLATZ_MAIL_DIR": os.path.join(tmp, "mail"),
        "MARKTPLATZ_RATELIMIT_ENABLED": "false",
    })
    env.update(extra_env or {})
    log_path = os.path.join(tmp, f"gunicorn-{port}.log")
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [os.path.join(BIN, "gunicorn"), "--config", "/dev/null", "-b", f"127.0.0.1:{port}",
         "-w", str(workers), "--threads", str(threads), "-k", "gthread", "--timeout", "30",
         "--graceful-timeout", "5", "marktplatz.wsgi:app"],
        cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    server = Gunicorn(proc, port, log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError("gunicorn exited early:\n" + server.log())
            try:
                if requests.get(server.url + "/anmelden", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer within 60 s:\n" + server.log())
            time.sleep(0.2)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        log.close()


def chromium_path() -> str | None:
    """Return the system Chromium if installed."""
    return shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
