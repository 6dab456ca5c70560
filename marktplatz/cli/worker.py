"""Background worker (`marktplatz worker`, started by `make run` beside gunicorn).

It keeps the search index following the change log (web processes only read the index),
delivers due webhooks and e-mail digests, and pulls the Marktplatz instances this one
follows (services/federation.py) when their interval has passed. The index follower runs in its own thread a
few times a second, so a slow webhook endpoint never holds the index back.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from ..core.db import get_session

log = logging.getLogger(__name__)


def run_once() -> dict[str, int]:
    """Deliver due webhooks, send digests, purge expired unconfirmed access requests and pull
    the followed instances that are due; return what was done."""
    from ..services import access_requests, federation, mail, webhooks

    session = get_session()
    config = current_app.config
    # Each delivery and each digest is a job of its own: commit after each one.
    delivered = webhooks.deliver_due(session, config, after_each=session.commit)
    digests = mail.send_digests(session, config, after_each=session.commit)
    purged = access_requests.purge_unconfirmed(session, config)
    session.commit()
    mirrored = 0
    for source in federation.due_sources(session):  # each page is committed with its cursor
        mirrored += federation.pull(session, source, commit=session.commit).mirrored
    session.close()
    return {"webhooks": delivered, "digests": digests, "access_requests_purged": purged,
            "federation_mirrored": mirrored}


def index_step() -> int:
    """One round of the index follower: rebuild a missing or outdated index, apply new
    change-log rows, mark the worker alive; return how many rows were applied."""
    from .. import search

    return search.worker_step()


def follow_index(app: Flask, stopping: threading.Event, interval: float) -> None:
    """Run index_step every interval seconds until stopping is set (the follower thread)."""
    with app.app_context():
        while not stopping.is_set():
            started = time.monotonic()
            try:
                applied = index_step()
                if applied:
                    log.debug("search index: %d change-log rows applied", applied)
            except Exception:  # noqa: BLE001 - index_step logs its own failures; keep following
                log.exception("search index round failed")
            finally:
                get_session().close()
            stopping.wait(max(0.0, interval - (time.monotonic() - started)))


@click.command("worker")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between webhook/digest rounds.")
@click.option("--once", is_flag=True, help="Do one round (index, webhooks, digests) and exit.")
@with_appcontext
def worker_command(interval: float, once: bool) -> None:
    """Follow the change log into the search index; deliver webhooks and e-mail digests."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    if once:
        applied = index_step()
        done = run_once()
        log.info("round done: %s", {"index_rows": applied, **done})
        return
    stopping = threading.Event()

    def _stop(*_args: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    app = current_app._get_current_object()
    follower = threading.Thread(target=follow_index, args=(app, stopping, float(app.config["SEARCH_POLL_SECONDS"])),
                                name="search-follow", daemon=True)
    follower.start()
    while not stopping.is_set():
        try:
            done = run_once()
            if any(done.values()):
                log.info("round done: %s", done)
        except Exception:  # noqa: BLE001 - a bad round (e.g. database restart) must not end the worker
            log.exception("worker round failed")
            get_session().rollback()
        stopping.wait(interval)
    follower.join(60)
