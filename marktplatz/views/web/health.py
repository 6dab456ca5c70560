"""GET /healthz: a small JSON status for load balancers and monitoring."""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select, text

from ...core.db import get_session
from ...models import ChangeLog, SearchState, WebhookDelivery, utcnow

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


def _change_log() -> dict[str, Any]:
    """Report the newest change-log id and how far each follower (kv_state position) lags."""
    session = get_session()
    head = session.scalar(select(func.max(ChangeLog.id))) or 0
    followers: dict[str, int] = {}
    for key, value in session.execute(select(SearchState.key, SearchState.value)):
        try:
            position = int(str(value).strip())
        except ValueError:
            continue
        followers[key] = max(0, head - position)
    return {"head": head, "lag": followers}


def _index() -> dict[str, Any] | None:
    """Report the search index directory when the search package exists."""
    if importlib.util.find_spec("marktplatz.search") is None:
        return None
    path = current_app.config.get("INDEX_DIR") or ""
    exists = os.path.isdir(path)
    return {
        "exists": exists,
        "writable": exists and os.access(path, os.W_OK),
        "files": len(os.listdir(path)) if exists else 0,
    }


@bp.route("/healthz")
def healthz():
    """Return the health of database, queue, change log and index (503 if the DB is down)."""
    body: dict[str, Any] = {"status": "ok"}
    try:
        body["database"] = _database()
        body["queue"] = _queue()
        body["change_log"] = _change_log()
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
    index = _index()
    if index is not None:
        body["index"] = index
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp

