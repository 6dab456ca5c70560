"""Signed webhooks: enqueued with the event, delivered by the worker to a real receiver."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from marktplatz.models import AuditEvent, Notification, Webhook, WebhookDelivery, utcnow
from marktplatz.services import listings, reuse, webhooks
from marktplatz.services.errors import Conflict, Forbidden, Invalid, NotFound

from . import factories as f

SECRET = "s3cret-for-tests-0123456789"


class Receiver:
    """A real HTTP server on 127.0.0.1 recording requests; optional redirect target."""

    def __init__(self, status: int = 200, redirect_to: str | None = None) -> None:
        self.requests: list[dict] = []
        self.status = status  # may be changed while it runs
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                outer.requests.append({"headers": dict(self.headers), "body": body, "path": self.path})
                if redirect_to:
                    self.send_response(307)
                    self.send_header("Location", redirect_to)
                    self.end_headers()
                    return
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *_exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def world(session):
    net = f.network(session, "n1", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    return coord, owner


def _hook(session, owner, url, secret=SECRET):
    return webhooks.create_webhook(session, owner, owner.organisation, url, secret)


def _allow(app, value="127.0.0.1"):
    app.config["OUTBOUND_ALLOWLIST"] = value


def test_events_are_enqueued_in_the_same_transaction(session, world):
    coord, owner = world
    _hook(session, owner, "https://example.org/hook")
    item = f.listing(session, owner, publish_by=coord)
    listings.update_listing(session, owner, item, {"summary": "Geänderte Kurzbeschreibung hier."}, None, partial=True)
    listings.post_status_update(session, owner, item, {"title": "Neuer Stand", "body": ""})
    reuser = f.user(session, "officer", f.LEMGO)
    r = reuse.declare_reuse(session, reuser, item, {"stage": "interested"})
    reuse.change_reuse_stage(session, reuser, r, {"stage": "pilot"})
    listings.archive_listing(session, owner, item, "Ersetzt.")
    events = [d.event for d in session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id))]
    assert events == ["listing.published", "listing.updated", "status_update.created", "reuse.declared",
                      "reuse.stage_changed", "listing.archived"]
    body = json.loads(session.scalars(select(WebhookDelivery)).first().payload)
    assert body["event"] == "listing.published" and body["listing"]["slug"] == item.slug


def test_rolled_back_change_enqueues_nothing(session, world):
    coord, owner = world
    _hook(session, owner, "https://example.org/hook")
    item = f.listing(session, owner)
    listings.submit_for_review(session, owner, item)
    from marktplatz.services import audit

    item.status = "published"
    audit.record(session, coord, "listing.approved", item)
    session.flush()
    assert session.scalar(select(WebhookDelivery)) is not None
    session.rollback()
    assert session.scalar(select(WebhookDelivery)) is None


def test_only_owner_officers_manage_webhooks(session, world):
    coord, owner = world
    with pytest.raises(Forbidden):
        webhooks.create_webhook(session, coord, owner.organisation, "https://example.org/x", SECRET)
    with pytest.raises(Invalid):
        webhooks.create_webhook(session, owner, owner.organisation, "ftp://example.org/x", SECRET)


def test_delivery_to_real_receiver_is_signed(app, session, world):
    coord, owner = world
    _allow(app)
    with Receiver() as rx:
        hook = _hook(session, owner, rx.url)
        f.listing(session, owner, publish_by=coord)
        assert webhooks.deliver_due(session, app.config) == 1
    assert len(rx.requests) == 1
    req = rx.requests[0]
    ts, sig = req["headers"]["X-Marktplatz-Timestamp"], req["headers"]["X-Marktplatz-Signature"]
    import hashlib
    import hmac

    expected = "sha256=" + hmac.new(SECRET.encode(), f"{ts}.{req['body']}".encode(), hashlib.sha256).hexdigest()
    assert sig == expected and abs(time.time() - int(ts)) < 60
    assert webhooks.verify(SECRET, ts, req["body"], sig)
    assert not webhooks.verify(SECRET, str(int(ts) - 3600), req["body"], sig)  # replay refused
    assert json.loads(req["body"])["event"] == "listing.published"
    session.expire_all()
    d = session.scalar(select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id))
    assert d.status == "delivered" and d.attempts == 1 and d.last_status_code == 200


def test_failure_retries_with_exponential_backoff(app, session, world):
    coord, owner = world
    _allow(app)
    with Receiver(status=500) as rx:
        _hook(session, owner, rx.url)
        f.listing(session, owner, publish_by=coord)
        before = utcnow()
        assert webhooks.deliver_due(session, app.config) == 1
        session.expire_all()
        d = session.scalar(select(WebhookDelivery))
        assert d.status == "pending" and d.attempts == 1 and d.last_status_code == 500
        first_wait = d.next_attempt_at - before
        assert timedelta(seconds=25) <= first_wait <= timedelta(seconds=40)
        assert webhooks.deliver_due(session, app.config) == 0  # not due yet
        d.next_attempt_at = utcnow() - timedelta(seconds=1)
        session.commit()
        before = utcnow()
        webhooks.deliver_due(session, app.config)
        session.expire_all()
        d = session.scalar(select(WebhookDelivery))
        assert d.attempts == 2 and timedelta(seconds=55) <= d.next_attempt_at - before <= timedelta(seconds=70)
    assert len(rx.requests) == 2


def test_disabled_after_consecutive_failures_with_notification(app, session, world):
    coord, owner = world
    _allow(app)
    app.config["WEBHOOK_MAX_FAILURES"] = 3
    with Receiver(status=503) as rx:
        hook = _hook(session, owner, rx.url)
        for _ in range(3):
            f.listing(session, owner, publish_by=coord)
        assert webhooks.deliver_due(session, app.config) == 3
    session.expire_all()
    hook = session.get(Webhook, hook.id)
    assert hook.active is False and hook.disabled_at is not None
    notes = session.scalars(select(Notification).where(Notification.user_id == owner.id,
                                                       Notification.kind == "webhook_disabled")).all()
    assert len(notes) == 1
    f.listing(session, owner, publish_by=coord)  # no new deliveries for a disabled hook
    assert webhooks.deliver_due(session, app.config) == 0


@pytest.mark.parametrize("target", [
    "http://127.0.0.1:9/hook",  # loopback without allow-list
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
    "http://10.0.0.1/hook",  # private network
    "http://localhost:9/hook",  # a name that resolves to loopback
    "http://intranet.invalid/hook",  # a name that does not resolve: the same answer
])
def test_internal_targets_are_refused_at_registration(app, session, world, target):
    coord, owner = world
    app.config["OUTBOUND_ALLOWLIST"] = ""
    with pytest.raises(Invalid) as exc:
        _hook(session, owner, target)
    message = exc.value.errors["url"][0]
    assert "öffentlich im Internet erreichbar" in message
    for internal in ("127.0.0", "169.254", "10.0.0", "intern"):
        assert internal not in message
    assert session.scalar(select(Webhook)) is None


def test_registration_form_shows_the_refusal_next_to_the_field(client, auth, session, world):
    coord, owner = world
    auth.login(owner.email)
    resp = client.post("/kommune/webhooks", data={"url": "http://localhost:9/hook", "secret": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'id="url-error"' in html and "öffentlich im Internet erreichbar" in html
    assert "127.0.0.1" not in html
    assert session.scalar(select(Webhook)) is None


def test_targets_refused_at_delivery_are_logged_as_failures(app, session, world):
    """A target allowed at registration but not any more is refused at delivery too."""
    coord, owner = world
    _allow(app)
    _hook(session, owner, "http://127.0.0.1:9/hook")
    app.config["OUTBOUND_ALLOWLIST"] = ""
    f.listing(session, owner, publish_by=coord)
    webhooks.deliver_due(session, app.config)
    session.expire_all()
    d = session.scalar(select(WebhookDelivery))
    assert d.status == "pending" and d.attempts == 1 and d.last_status_code is None
    assert d.last_error.startswith("Abgelehnt") and "127.0.0.1" not in d.last_error


def test_redirect_to_loopback_is_refused(app, session, world):
    coord, owner = world
    _allow(app, "127.0.0.1")  # the receiver is allowed, but not where it redirects to
    with Receiver(redirect_to="http://127.0.0.2:9/internal") as rx:
        _hook(session, owner, rx.url)
        f.listing(session, owner, publish_by=coord)
        webhooks.deliver_due(session, app.config)
    assert len(rx.requests) == 1
    session.expire_all()
    d = session.scalar(select(WebhookDelivery))
    assert d.status == "pending" and d.last_error.startswith("Abgelehnt")


def test_lease_prevents_double_delivery(app, session, world):
    coord, owner = world
    _hook(session, owner, "https://example.org/hook")
    f.listing(session, owner, publish_by=coord)
    first = webhooks.claim_due(session, app.config)
    second = webhooks.claim_due(session, app.config)
    assert len(first) == 1 and second == []


def test_concurrent_workers_claim_disjoint_deliveries(app, session, world, backend):
    """Rows locked by one worker are skipped by another (SKIP LOCKED on PostgreSQL)."""
    from sqlalchemy.orm import Session as OrmSession

    coord, owner = world
    _hook(session, owner, "https://example.org/hook")
    for _ in range(4):
        f.listing(session, owner, publish_by=coord)
    engine = app.extensions["sqlalchemy_engine"]
    with OrmSession(engine) as s1, OrmSession(engine) as s2:
        if backend == "postgresql":
            locked = s1.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id).limit(2)
                                .with_for_update(skip_locked=True)).all()
            claimed = webhooks.claim_due(s2, app.config)
            assert set(locked).isdisjoint(claimed) and len(claimed) == 2
            s1.rollback()
        else:
            first = webhooks.claim_due(s1, app.config, limit=2)
            s1.commit()  # the lease is the worker's first job; it commits before sending
            second = webhooks.claim_due(s2, app.config)
            assert len(first) == 2 and len(second) == 2 and set(first).isdisjoint(second)


def test_worker_command_delivers_once(app, session, world, runner):
    coord, owner = world
    _allow(app)
    with Receiver() as rx:
        _hook(session, owner, rx.url)
        f.listing(session, owner, publish_by=coord)
        result = runner.invoke(args=["worker", "--once"])
        assert result.exit_code == 0, result.output
    assert len(rx.requests) == 1


def test_webhook_pages(client, auth, session, world, app):
    coord, owner = world
    auth.login(owner.email)
    resp = client.post("/kommune/webhooks", data={"url": "https://example.org/hook", "secret": ""})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Geheimnis" in html
    hook = session.scalar(select(Webhook))
    assert len(hook.secret) >= 32
    page = client.get(f"/kommune/webhooks/{hook.id}").get_data(as_text=True)
    assert "Testzustellung" in page and "Noch keine Zustellungen" in page
    auth.logout()
    auth.login(coord.email)
    assert client.get(f"/kommune/webhooks/{hook.id}").status_code == 404


# ---------------------------------------------------------------- Testzustellung, log, resend


def _audits(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()


def test_testzustellung_shows_status_code_and_time(app, client, auth, session, world):
    coord, owner = world
    _allow(app)
    auth.login(owner.email)
    with Receiver() as rx:
        hook = _hook(session, owner, rx.url)
        session.commit()
        resp = client.post(f"/kommune/webhooks/{hook.id}/aktion", data={"action": "test"},
                           follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Testzustellung erfolgreich: HTTP 200 in" in html
    assert len(rx.requests) == 1 and json.loads(rx.requests[0]["body"])["event"] == "ping"
    assert rx.requests[0]["headers"]["X-Marktplatz-Signature"].startswith("sha256=")
    session.expire_all()
    d = session.scalar(select(WebhookDelivery))
    assert d.status == "delivered" and d.last_status_code == 200 and d.last_duration_ms is not None
    assert f"{d.last_duration_ms} ms" in html  # the log shows the response time
    (ev,) = _audits(session, "webhook.tested")
    assert ev.actor_id == owner.id and ev.details["ok"] is True


def test_testzustellung_failure_says_why_and_does_not_count(app, client, auth, session, world):
    coord, owner = world
    _allow(app)
    auth.login(owner.email)
    with Receiver(status=500) as rx:
        hook = _hook(session, owner, rx.url)
        session.commit()
        html = client.post(f"/kommune/webhooks/{hook.id}/aktion", data={"action": "test"},
                           follow_redirects=True).get_data(as_text=True)
    assert "Testzustellung fehlgeschlagen: Der Empfänger antwortete mit HTTP 500." in html
    session.expire_all()
    hook = session.get(Webhook, hook.id)
    assert hook.active and hook.consecutive_failures == 0  # a test never switches a webhook off
    assert session.scalar(select(WebhookDelivery)).status == "failed"


def test_testzustellung_to_a_refused_target_reveals_no_address(app, client, auth, session, world):
    coord, owner = world
    _allow(app)
    hook = _hook(session, owner, "http://127.0.0.1:9/hook")
    session.commit()
    app.config["OUTBOUND_ALLOWLIST"] = ""
    auth.login(owner.email)
    html = client.post(f"/kommune/webhooks/{hook.id}/aktion", data={"action": "test"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Testzustellung fehlgeschlagen: Abgelehnt: Diese Adresse ist nicht erlaubt" in html


def test_unreachable_receiver_gets_a_german_reason(app, session, world):
    coord, owner = world
    _allow(app)
    with Receiver() as rx:
        url = rx.url
    hook = _hook(session, owner, url)  # the receiver has gone: nothing listens on the port
    d = webhooks.test_delivery(session, owner, hook, app.config)
    assert d.status == "failed" and d.last_error == "Nicht erreichbar: Der Empfänger nimmt keine Verbindung an."


def _failed_delivery(app, session, owner, coord, url):
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 1
    hook = _hook(session, owner, url)
    f.listing(session, owner, publish_by=coord)
    webhooks.deliver_due(session, app.config)
    session.commit()
    d = session.scalar(select(WebhookDelivery))
    assert d.status == "failed"
    return hook, d


def test_failed_delivery_can_be_sent_again_by_hand(app, client, auth, session, world):
    coord, owner = world
    _allow(app)
    with Receiver(status=503) as rx:
        hook, d = _failed_delivery(app, session, owner, coord, rx.url)
        auth.login(owner.email)
        page = client.get(f"/kommune/webhooks/{hook.id}").get_data(as_text=True)
        assert "HTTP 503" in page and "Erneut senden" in page and " ms</td>" in page
        rx.status = 200
        resp = client.post(f"/kommune/webhooks/{hook.id}/zustellungen/{d.id}/erneut")
        assert resp.status_code == 302
        html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"Zustellung Nr. {d.id} erfolgreich: HTTP 200" in html
    assert len(rx.requests) == 2 and rx.requests[0]["body"] == rx.requests[1]["body"]
    session.expire_all()
    d = session.get(WebhookDelivery, d.id)
    assert d.status == "delivered" and d.attempts == 2 and d.last_status_code == 200
    (ev,) = _audits(session, "webhook.redelivered")
    assert ev.actor_id == owner.id and ev.details["delivery_id"] == d.id


def test_only_failed_deliveries_are_sent_by_hand(app, client, auth, session, world):
    coord, owner = world
    hook = _hook(session, owner, "https://example.org/hook")
    f.listing(session, owner, publish_by=coord)
    d = session.scalar(select(WebhookDelivery))
    with pytest.raises(Conflict):  # pending: the worker's, sending it here could send it twice
        webhooks.redeliver(session, owner, hook, d.id, app.config)
    session.commit()
    auth.login(owner.email)
    html = client.post(f"/kommune/webhooks/{hook.id}/zustellungen/{d.id}/erneut",
                       follow_redirects=True).get_data(as_text=True)
    assert "Nur fehlgeschlagene Zustellungen" in html
    assert _audits(session, "webhook.redelivered") == []


def test_resend_needs_the_webhook_permission(app, client, auth, session, world):
    coord, owner = world
    _allow(app)
    with Receiver(status=500) as rx:
        hook, d = _failed_delivery(app, session, owner, coord, rx.url)
        other = _hook(session, owner, "https://example.org/other")
        session.commit()
        with pytest.raises(NotFound):
            webhooks.redeliver(session, coord, hook, d.id, app.config)
        with pytest.raises(NotFound):  # a delivery of another webhook
            webhooks.redeliver(session, owner, other, d.id, app.config)
        url = f"/kommune/webhooks/{hook.id}/zustellungen/{d.id}/erneut"
        assert client.post(url).status_code == 302  # anonymous: to the login
        auth.login(coord.email)
        assert client.post(url).status_code == 404
        assert client.post(f"/kommune/webhooks/{hook.id}/aktion", data={"action": "test"}).status_code == 404
        auth.logout()
        auth.login(owner.email)
        assert client.post(f"/kommune/webhooks/{other.id}/zustellungen/{d.id}/erneut").status_code == 404
        assert client.post(f"/kommune/webhooks/{hook.id}/zustellungen/99999/erneut").status_code == 404
    assert len(rx.requests) == 1  # only the worker's attempt


@pytest.mark.parametrize("url", [
    "http://[::1", "http://example.org:99999/x", "http://[fe80::1%25eth0]/", "http://xn--/",
    "http://" + "a" * 64 + ".example.net/", "http://bücher.invalid/", "https://", "javascript:alert(1)",
    "http://0x7f000001/", "http://2130706433/", "http://[::ffff:127.0.0.1]/", "x" * 600,
])
def test_odd_addresses_get_a_field_error_not_a_500(client, auth, session, world, url):
    coord, owner = world
    auth.login(owner.email)
    resp = client.post("/kommune/webhooks", data={"url": url, "secret": ""})
    assert resp.status_code == 422
    assert 'id="url-error"' in resp.get_data(as_text=True)
    assert session.scalar(select(Webhook)) is None


def test_delivery_log_page_has_accessible_controls(app, client, auth, session, world):
    """No JavaScript needed: plain forms; the table has a caption and header cells."""
    coord, owner = world
    _allow(app)
    with Receiver(status=500) as rx:
        hook, d = _failed_delivery(app, session, owner, coord, rx.url)
    auth.login(owner.email)
    html = client.get(f"/kommune/webhooks/{hook.id}").get_data(as_text=True)
    assert "<script" not in html.split("<main", 1)[-1].split("</main>", 1)[0]
    assert "<caption" in html and html.count('<th scope="col">') == 8
    assert f'action="/kommune/webhooks/{hook.id}/zustellungen/{d.id}/erneut"' in html
    assert f'Erneut senden<span class="visually-hidden"> (Zustellung Nr. {d.id})</span>' in html
