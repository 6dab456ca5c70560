"""Start a real gunicorn server on a free 127.0.0.1 port over a copy of a prepared SQLite DB."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests


def free_port() -> int:
    """Return a port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_sqlite(src_url: str, dest: Path) -> str:
    """Copy a SQLite database consistently (backup API) and return the new URL."""
    src = sqlite3.connect(src_url.removeprefix("sqlite:///"))
    dst = sqlite3.connect(str(dest))
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
    return "sqlite:///" + str(dest)


@contextmanager
def gunicorn(db_url: str, instance: Path, workers: int = 2, extra_env: dict[str, str] | None = None):
    """Run gunicorn for marktplatz.wsgi:app and yield its base URL; always stop it."""
    port = free_port()
    env = {
        **os.environ,
        "MARKTPLATZ_DATABASE_URL": db_url,
        "MARKTPLATZ_SECRET_KEY": "test-secret",
        "MARKTPLATZ_INSTANCE_PATH": str(instance),
        "MARKTPLATZ_BASE_URL": f"http://127.0.0.1:{port}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_ACCESSLOG": os.devnull,
        **(extra_env or {}),
    }
    root = Path(__file__).resolve().parent.parent
    log = open(instance / "gunicorn.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py"), "marktplatz.wsgi:app"],
        env=env, cwd=str(root), stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/api/v1/openapi.json", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start: " + (instance / "gunicorn.log").read_text()[-2000:])
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
