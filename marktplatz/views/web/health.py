"""GET /healthz: a small JSON status for load balancers and monitoring."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from flask import Blueprint, current_app, jsonify, request
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


def _may_see_details() -> bool:
    """Operators see queue, lag and index details: from a loopback address (the host itself, or
    a client behind MARKTPLATZ_TRUSTED_PROXIES) or with MARKTPLATZ_HEALTHZ_TOKEN as bearer token."""
    import hmac
    import ipaddress

    token = current_app.config.get("HEALTHZ_TOKEN") or ""
    sent = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        return True
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


@bp.route("/healthz")
def healthz():
    """Return the health of database, queue, change log and index (503 if the DB is down).

    Anyone else learns only whether the service is up: {"status": "ok" | "unavailable"}.
    """
    if not _may_see_details():
        try:
            get_session().execute(text("SELECT 1"))
            resp = jsonify({"status": "ok"})
        except Exception as err:  # noqa: BLE001 - any database failure means "unhealthy"
            log.error("health check: database unavailable: %s", type(err).__name__)
            resp = jsonify({"status": "unavailable"})
            resp.status_code = 503
            resp.headers["Retry-After"] = "30"
        resp.headers["Cache-Control"] = "no-store"
        return resp
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

