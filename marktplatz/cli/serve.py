"""`marktplatz serve`: gunicorn plus the worker, started and stopped together (used by `make run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _address() -> str:
    """Return the address gunicorn.conf.py binds to (GUNICORN_BIND or its default)."""
    namespace: dict[str, object] = {}
    with open(os.path.join(ROOT, "gunicorn.conf.py"), encoding="utf-8") as fh:
        exec(compile(fh.read(), "gunicorn.conf.py", "exec"), namespace)  # noqa: S102 - our own file
    bind = namespace.get("bind", "127.0.0.1:8000")
    bind = bind[0] if isinstance(bind, list) else str(bind)
    return bind if bind.startswith(("unix:", "fd:")) else f"http://{bind}"


def run(print_logins: bool = True) -> int:
    """Start the worker and gunicorn; print where the site is served; stop both together."""
    from ..services.demo import DEMO_PASSWORD
    from .data import DEMO_LOGINS

    bin_dir = os.path.dirname(sys.executable)
    procs: list[subprocess.Popen] = [subprocess.Popen([os.path.join(bin_dir, "marktplatz"), "worker"], cwd=ROOT)]
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
    time.sleep(1.5)  # let gunicorn's start-up lines go first, so the address is the last word
    if gunicorn.poll() is None:
        click.echo(f"\nMarktplatz läuft auf {_address()} (Beenden mit Strg+C)")
        if print_logins:
            click.echo(f"Demo-Zugänge (Passwort für alle: {DEMO_PASSWORD}):")
            for email, role in DEMO_LOGINS:
                click.echo(f"  {email:38s} {role}")
        click.echo("")
    try:
        return gunicorn.wait()
    finally:
        _stop()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


@click.command("serve")
def serve_command() -> None:
    """Serve the app with gunicorn and run the worker beside it."""
    sys.exit(run())


if __name__ == "__main__":
    sys.exit(run())
