"""GET /healthz: a small JSON status for load balancers and monitoring."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select, text

from ... import search
from ...core.db import get_session
from ...models import ChangeLog, WebhookDelivery, utcnow

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


def _database() -> dict[str, Any]:
    started = time.monotonic()
    session = get_session()
    session.execute(text("SELECT 1"))
    return {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def _queue() -> dict[str, Any]:
    session = get_session()
    pending, oldest = session.execute(
        select(func.count(WebhookDelivery.id), func.min(WebhookDelivery.next_attempt_at)).where(
            WebhookDelivery.status == "pending"
        )
    ).one()
    age = None
    if oldest is not None:
        age = max(0, int((utcnow() - oldest).total_seconds()))
    return {"webhook_pending": int(pending or 0), "oldest_due_seconds": age}


def _change_log(lag: dict[str, Any]) -> dict[str, Any]:
    """Report the newest change-log id and how many of its rows the search index lacks."""
    head = get_session().scalar(select(func.max(ChangeLog.id))) or 0
    return {"head": head, "lag": {"search_index": lag["rows"]}}


def _index(lag: dict[str, Any]) -> dict[str, Any]:
    """Report the search index directory, its lag behind the change log and the worker.

    lag_rows: committed change-log rows the index has not applied (None: no usable index);
    lag_seconds: age of the oldest of them; worker_seen_seconds: since `marktplatz worker`
    last finished a round (None: never), large while the worker is down.
    """
    path = current_app.config.get("INDEX_DIR") or ""
    exists = os.path.isdir(path)
    return {
        "exists": exists,
        "writable": exists and os.access(path, os.W_OK),
        "files": len(os.listdir(path)) if exists else 0,
        "lag_rows": lag["rows"],
        "lag_seconds": lag["seconds"],
        "worker_seen_seconds": lag["worker_seen_seconds"],
    }


@bp.route("/healthz")
def healthz():
    """Return the health of database, queue, change log and index (503 if the DB is down)."""
    body: dict[str, Any] = {"status": "ok"}
    try:
        body["database"] = _database()
        body["queue"] = _queue()
        lag = search.index_lag()
        body["change_log"] = _change_log(lag)
    except Exception as err:  # noqa: BLE001 - any database failure means "unhealthy"
        try:
            get_session().rollback()
        except Exception:  # noqa: BLE001
            pass
        log.error("health check: database unavailable: %s", type(err).__name__)
        body["status"] = "unavailable"
        body["database"] = {"ok": False, "error": type(err).__name__}
        resp = jsonify(body)
        resp.status_code = 503
        resp.headers["Retry-After"] = "30"
        resp.headers["Cache-Control"] = "no-store"
        return resp
    body["index"] = _index(lag)
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp

