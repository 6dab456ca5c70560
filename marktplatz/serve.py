"""Serve the app with gunicorn plus the background processes it needs (used by `make run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    """Start gunicorn (and registered background workers); stop them all together."""
    bin_dir = os.path.dirname(sys.executable)
    procs: list[subprocess.Popen] = []
    # Background workers (webhook delivery, e-mail digests) run as `marktplatz worker` when
    # that command exists; it is added by the notifications feature.
    worker = os.path.join(bin_dir, "marktplatz")
    check = subprocess.run([worker, "worker", "--help"], capture_output=True, cwd=ROOT)
    if check.returncode == 0:
        procs.append(subprocess.Popen([worker, "worker"], cwd=ROOT))
    print("\nMarktplatz läuft auf http://127.0.0.1:5000 (Beenden mit Strg+C)\n", flush=True)
    gunicorn = subprocess.Popen(
        [os.path.join(bin_dir, "gunicorn"), "-c", os.path.join(ROOT, "gunicorn.conf.py"), "marktplatz.wsgi:app"],
        cwd=ROOT,
    )
    procs.append(gunicorn)

    def _stop(*_args: object) -> None:
        for p in procs:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        return gunicorn.wait()
    finally:
        _stop()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


if __name__ == "__main__":
    sys.exit(main())
