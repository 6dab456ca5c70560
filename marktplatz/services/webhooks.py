"""Signed webhooks per municipality, queued in the database and delivered by the worker.

Events are derived from the audit events the services record: a ``before_flush`` hook turns
each relevant new AuditEvent into WebhookDelivery rows, so the delivery is written in the
SAME transaction as the change it announces (nothing is lost if the process dies after
commit, and nothing is announced for a change that rolled back).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..core import outbound
from ..models import (
    AuditEvent,
    Listing,
    ListingStatus,
    Organisation,
    Reuse,
    StatusUpdate,
    User,
    Webhook,
    WebhookDelivery,
    utcnow,
)
from ..permissions import visible_duplicate_of
from . import audit
from .common import flush, require
from .errors import Conflict, Invalid, NotFound

log = logging.getLogger(__name__)

EVENTS = {
    "listing.published": "Eintrag veröffentlicht",
    "listing.updated": "Eintrag geändert",
    "listing.archived": "Eintrag archiviert",
    "reuse.declared": "Nachnutzung erklärt",
    "reuse.stage_changed": "Nachnutzung: neue Stufe",
    "status_update.created": "Neuer Projektstand",
}
# audit action -> webhook event
AUDIT_TO_EVENT = {
    "listing.approved": "listing.published",
    "listing.published": "listing.published",  # without review, where the networks allow it
    "listing.updated": "listing.updated",
    "listing.archived": "listing.archived",
    "listing.marked_duplicate": "listing.archived",
    "reuse.declared": "reuse.declared",
    "reuse.moved": "reuse.declared",
    "reuse.stage_changed": "reuse.stage_changed",
    "listing.status_posted": "status_update.created",
}
MAX_BACKOFF = timedelta(hours=6)
MANUAL_TIMEOUT = 5.0  # seconds: a Testzustellung or a resend by hand


def _cfg(config: Mapping[str, Any], key: str) -> int:
    return int(config[key])  # defaults and checks: config.py


# ---------------------------------------------------------------- management


def _policy(policy: outbound.Policy | None) -> outbound.Policy:
    if policy is not None:
        return policy
    try:
        from flask import current_app

        return outbound.Policy.from_config(current_app.config)
    except RuntimeError:  # outside an app: the strict defaults
        return outbound.Policy()


def _validate_url(url: str, policy: outbound.Policy) -> str:
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:  # "http://[::1", a port out of range
        parts, host = urlsplit(""), None
    if parts.scheme not in ("http", "https") or not host or len(url) > 500:
        raise Invalid({"url": ["Bitte eine vollständige http- oder https-Adresse angeben."]})
    if parts.username or parts.password:
        raise Invalid({"url": ["Zugangsdaten gehören nicht in die Adresse."]})
    try:
        # The same policy as at delivery, so a target that can never be reached is refused now.
        outbound.check_url(url, policy)
    except outbound.OutboundRefused as err:
        raise Invalid({"url": [str(err)]}) from err
    return url


def list_webhooks(session: Session, user: User, organisation: Organisation) -> list[Webhook]:
    """Return the webhooks of organisation."""
    require(user, "organisation.manage_webhooks", organisation)
    return list(session.scalars(
        select(Webhook).where(Webhook.organisation_id == organisation.id).order_by(Webhook.id)))


def get_webhook(session: Session, user: User, webhook_id: int) -> Webhook:
    """Return a webhook the user may manage or raise NotFound."""
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound("Diesen Webhook gibt es nicht.")
    org = session.get(Organisation, hook.organisation_id)
    from ..permissions import can

    if not can(user, "organisation.manage_webhooks", org):
        raise NotFound("Diesen Webhook gibt es nicht.")
    return hook


def create_webhook(session: Session, user: User, organisation: Organisation, url: str, secret: str = "",
                   policy: outbound.Policy | None = None) -> Webhook:
    """Register a webhook URL with a secret (generated when empty) for organisation.

    The URL is checked against the outbound policy (the app's, unless one is given).
    """
    require(user, "organisation.manage_webhooks", organisation)
    url = _validate_url(url, _policy(policy))
    secret = (secret or "").strip() or secrets.token_urlsafe(32)
    if len(secret) < 16 or len(secret) > 200:
        raise Invalid({"secret": ["Das Geheimnis muss 16 bis 200 Zeichen lang sein (leer lassen: wird erzeugt)."]})
    hook = Webhook(organisation_id=organisation.id, url=url, secret=secret, created_by_id=user.id)
    session.add(hook)
    session.flush()
    audit.record(session, user, "webhook.created", hook, url=url)
    flush(session)
    log.info("webhook %s created for organisation %s", hook.id, organisation.id)
    return hook


def set_active(session: Session, user: User, hook: Webhook, active: bool) -> Webhook:
    """Switch a webhook on (resetting its failure count) or off."""
    get_webhook(session, user, hook.id)
    hook.active = active
    if active:
        hook.consecutive_failures = 0
        hook.disabled_at = None
    else:
        hook.disabled_at = utcnow()
    audit.record(session, user, "webhook.enabled" if active else "webhook.disabled", hook)
    flush(session)
    return hook


def delete_webhook(session: Session, user: User, hook: Webhook) -> None:
    """Delete a webhook and its delivery log."""
    get_webhook(session, user, hook.id)
    audit.record(session, user, "webhook.deleted", hook, url=hook.url)
    session.delete(hook)
    flush(session)


def deliveries(session: Session, hook: Webhook, limit: int = 50) -> list[WebhookDelivery]:
    """Return the newest deliveries of hook (the delivery log)."""
    return list(session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)
        .order_by(WebhookDelivery.id.desc()).limit(limit)))


def test_delivery(session: Session, user: User, hook: Webhook,
                  config: Mapping[str, Any]) -> WebhookDelivery:
    """Send a test event ("ping") to hook now and record the outcome in its delivery log.

    A manual send neither counts toward switching the webhook off nor is retried; it works
    on a switched-off webhook too, so a receiver can be checked before switching it on.
    """
    get_webhook(session, user, hook.id)
    body = json.dumps({"event": "ping", "occurred_at": utcnow().isoformat(),
                       "message": "Testnachricht vom Marktplatz"}, ensure_ascii=False)
    row = WebhookDelivery(webhook_id=hook.id, event="ping", payload=body, status="failed")
    session.add(row)
    session.flush()
    _manual_send(session, hook, row, config)
    audit.record(session, user, "webhook.tested", hook, delivery_id=row.id,
                 status_code=row.last_status_code, ok=row.status == "delivered")
    flush(session)
    return row


def redeliver(session: Session, user: User, hook: Webhook, delivery_id: int,
              config: Mapping[str, Any]) -> WebhookDelivery:
    """Send a failed delivery of hook again now, by hand, and record the outcome.

    Only a delivery the worker has given up on ("failed") can be sent by hand: a pending
    one is the worker's, and sending it here as well could deliver it twice.
    """
    get_webhook(session, user, hook.id)
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.webhook_id != hook.id:
        raise NotFound("Diese Zustellung gibt es nicht.")
    if row.status != "failed":
        raise Conflict("Nur fehlgeschlagene Zustellungen können erneut gesendet werden.")
    _manual_send(session, hook, row, config)
    audit.record(session, user, "webhook.redelivered", hook, delivery_id=row.id,
                 status_code=row.last_status_code, ok=row.status == "delivered")
    flush(session)
    return row


def _manual_send(session: Session, hook: Webhook, row: WebhookDelivery, config: Mapping[str, Any]) -> None:
    policy = outbound.Policy.from_config(config)
    # The officer waits for the answer in the browser: keep that wait short.
    policy.timeout = min(policy.timeout, MANUAL_TIMEOUT)
    code, error, duration_ms = _send(hook, row, policy)
    row.attempts += 1
    row.last_status_code = code
    row.last_error = error
    row.last_duration_ms = duration_ms
    if error is None:
        row.status = "delivered"
        row.delivered_at = utcnow()
        hook.consecutive_failures = 0
    else:
        row.status = "failed"
    log.info("webhook %s: manual delivery %s %s", hook.id, row.id, "ok" if error is None else "failed")


# ---------------------------------------------------------------- enqueueing


def _listing_json(listing: Listing, base_url: str) -> dict[str, Any]:
    from ..schemas.listing import webhook_values

    return {
        "id": listing.id, "slug": listing.slug, **webhook_values(listing), "status": listing.status,
        "url": f"{base_url.rstrip('/')}/eintraege/{listing.slug}",
        "organisation": {"key": listing.organisation.key, "name": listing.organisation.name},
        "updated_at": listing.updated_at.isoformat() if listing.updated_at else None,
        # Receivers are systems outside the platform: they learn only of a public survivor.
        "duplicate_of": getattr(visible_duplicate_of(None, listing), "id", None),
    }


def build_payload(session: Session, ev: AuditEvent, name: str, listing: Listing, base_url: str) -> dict[str, Any]:
    """Return the JSON body for one event."""
    data: dict[str, Any] = {"event": name, "occurred_at": (ev.created_at or utcnow()).isoformat(),
                            "listing": _listing_json(listing, base_url)}
    if ev.object_type == "reuse" and ev.object_id:
        reuse = session.get(Reuse, ev.object_id)
        if reuse is not None:
            data["reuse"] = {"id": reuse.id, "stage": reuse.stage,
                             "organisation": {"key": reuse.organisation.key, "name": reuse.organisation.name},
                             "from_stage": (ev.details or {}).get("from_stage")}
    upd_id = (ev.details or {}).get("status_update_id")
    if upd_id:
        upd = session.get(StatusUpdate, upd_id)
        if upd is not None:
            data["status_update"] = {"id": upd.id, "title": upd.title, "body": upd.body, "phase": upd.phase}
    return data


def before_flush(session: Session, _ctx: Any, _instances: Any) -> None:
    """Queue a delivery for each new audit event a webhook subscribes to (a before_flush listener)."""
    events = [o for o in session.new if isinstance(o, AuditEvent) and o.action in AUDIT_TO_EVENT]
    if not events:
        return
    with session.no_autoflush:
        for ev in events:
            _enqueue_for(session, ev)


def _enqueue_for(session: Session, ev: AuditEvent) -> None:
    if ev.listing_id is None:
        return
    listing = session.get(Listing, ev.listing_id)
    if listing is None:
        return
    name = AUDIT_TO_EVENT[ev.action]
    if name == "listing.updated" and listing.status != ListingStatus.PUBLISHED.value:
        return
    hooks = list(session.scalars(select(Webhook).where(
        Webhook.organisation_id == listing.organisation_id, Webhook.active.is_(True))))
    if not hooks:
        return
    base_url = _base_url()
    body = json.dumps(build_payload(session, ev, name, listing, base_url), ensure_ascii=False,
                      separators=(",", ":"))
    for hook in hooks:
        session.add(WebhookDelivery(webhook_id=hook.id, event=name, payload=body))


def _base_url() -> str:
    try:
        from flask import current_app

        return current_app.config.get("BASE_URL") or ""
    except RuntimeError:
        return ""


# ---------------------------------------------------------------- delivery


def sign(secret: str, timestamp: str, body: str) -> str:
    """Return the signature header value: sha256=HMAC-SHA256(secret, f"{timestamp}.{body}")."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: str, signature: str, tolerance: int = 300,
           now: float | None = None) -> bool:
    """Check a signature and that the timestamp is recent (what a receiver should do)."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Return the wait before the next attempt after the given number of failed attempts."""
    return min(timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def claim_due(session: Session, config: Mapping[str, Any], limit: int = 20,
              now: datetime | None = None) -> list[int]:
    """Lease due deliveries to this worker and return their ids (never to two workers)."""
    now = now or utcnow()
    q = (
        select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
               Webhook.active.is_(True))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True, of=WebhookDelivery)
    rows = session.execute(q).all()
    lease_until = now + timedelta(seconds=_cfg(config, "WEBHOOK_LEASE_SECONDS"))
    claimed = []
    for row_id, due in rows:
        # The guarded update makes the lease safe on SQLite too, which has no SKIP LOCKED:
        # a second worker that read the same row finds next_attempt_at already moved.
        res = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row_id, WebhookDelivery.status == "pending",
                   WebhookDelivery.next_attempt_at == due)
            .values(next_attempt_at=lease_until)
        )
        if res.rowcount == 1:
            claimed.append(row_id)
    session.flush()
    return claimed


def _send(hook: Webhook, delivery: WebhookDelivery,
          policy: outbound.Policy) -> tuple[int | None, str | None, int]:
    """POST one delivery; return (status code, German error or None, milliseconds taken)."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Marktplatz-Webhooks/1",
        "X-Marktplatz-Event": delivery.event,
        "X-Marktplatz-Delivery": str(delivery.id),
        "X-Marktplatz-Timestamp": timestamp,
        "X-Marktplatz-Signature": sign(hook.secret, timestamp, delivery.payload),
    }
    error: str | None = None
    code: int | None = None
    started = time.monotonic()
    try:
        resp = outbound.request("POST", hook.url, policy, data=delivery.payload.encode("utf-8"),
                                headers=headers)
        code = resp.status_code
        if not 200 <= code < 300:
            error = f"Der Empfänger antwortete mit HTTP {code}."
    except Exception as err:  # noqa: BLE001 - any network failure is a failed attempt
        error = outbound.failure_reason(err, policy)
    return code, error, round((time.monotonic() - started) * 1000)


def attempt(session: Session, delivery_id: int, config: Mapping[str, Any]) -> WebhookDelivery:
    """Send one delivery, record the outcome, schedule a retry or disable the webhook."""
    delivery = session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    hook = session.get(Webhook, delivery.webhook_id)
    assert hook is not None
    code, error, duration_ms = _send(hook, delivery, outbound.Policy.from_config(config))
    delivery.last_duration_ms = duration_ms
    now = utcnow()
    delivery.attempts += 1
    delivery.last_status_code = code
    delivery.last_error = error
    if error is None:
        delivery.status = "delivered"
        delivery.delivered_at = now
        hook.consecutive_failures = 0
        log.info("webhook delivery %s delivered (HTTP %s)", delivery.id, code)
    else:
        hook.consecutive_failures += 1
        if delivery.attempts >= _cfg(config, "WEBHOOK_MAX_ATTEMPTS"):
            delivery.status = "failed"
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts, _cfg(config, "WEBHOOK_RETRY_BASE"))
        log.warning("webhook delivery %s failed (attempt %s): %s", delivery.id, delivery.attempts, error)
    disabled = False
    if hook.active and hook.consecutive_failures >= _cfg(config, "WEBHOOK_MAX_FAILURES"):
        hook.active = False
        hook.disabled_at = now
        disabled = True
        log.warning("webhook %s disabled after %s consecutive failures", hook.id, hook.consecutive_failures)
    if disabled:  # the municipality's officers are notified of this event
        audit.record(session, None, "webhook.auto_disabled", hook, failures=hook.consecutive_failures)
    session.flush()
    return delivery


def deliver_due(session: Session, config: Mapping[str, Any], limit: int = 20,
                after_each: Callable[[], None] = lambda: None) -> int:
    """Deliver every due delivery once; return how many attempts were made.

    after_each is the job boundary: the worker commits there, after the lease and after each
    attempt, so a delivery is never sent twice and no outcome is lost.
    """
    claimed = claim_due(session, config, limit)
    after_each()
    for delivery_id in claimed:
        attempt(session, delivery_id, config)
        after_each()
    return len(claimed)

