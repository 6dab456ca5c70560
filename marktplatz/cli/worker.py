"""Background worker: delivers due webhooks and sends e-mail digests (`marktplatz worker`)."""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from ..core.db import get_session

log = logging.getLogger(__name__)


def run_once() -> dict[str, int]:
    """Do one round of work in the current app context; return what was done."""
    from ..services import mail, webhooks

    session = get_session()
    config = current_app.config
    # Each delivery and each digest is a job of its own: commit after each one.
    delivered = webhooks.deliver_due(session, config, after_each=session.commit)
    digests = mail.send_digests(session, config, after_each=session.commit)
    session.commit()
    session.close()
    return {"webhooks": delivered, "digests": digests}


@click.command("worker")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="Do one round and exit.")
@with_appcontext
def worker_command(interval: float, once: bool) -> None:
    """Deliver webhooks and send e-mail digests from the database queue."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    stopping = {"flag": False}

    def _stop(*_args: Any) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    while True:
        try:
            done = run_once()
            if any(done.values()):
                log.info("round done: %s", done)
        except Exception:  # noqa: BLE001 - a bad round (e.g. database restart) must not end the worker
            log.exception("worker round failed")
            get_session().rollback()
        if once or stopping["flag"]:
            break
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline and not stopping["flag"]:
            time.sleep(0.2)
        if stopping["flag"]:
            break
