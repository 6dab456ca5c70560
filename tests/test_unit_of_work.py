"""One unit of work per request, CLI command or worker job, and one event path.

Services change and flush; the edge commits once. Notifications and webhook deliveries are
written from the audit events of the change, in its transaction: when any of it fails, the
whole change is rolled back.
"""

from __future__ import annotations

import contextvars
import pathlib
import re

import pytest
from flask import redirect
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from marktplatz.core.db import get_session
from marktplatz.models import AuditEvent, Listing, ListingStatus, Notification, WebhookDelivery
from marktplatz.services import changelog, events, listings, notify, webhooks
from marktplatz.services.errors import Invalid

from . import factories as f

ROOT = pathlib.Path(__file__).resolve().parent.parent / "marktplatz"


@pytest.fixture
def people(session):
    net = f.network(session, "uow", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    return coord, owner


def _status(app, listing_id: int) -> str:
    """Read the committed status with a session of its own."""
    with Session(app.extensions["sqlalchemy_engine"]) as other:
        return other.get(Listing, listing_id).status


def _count(app, model) -> int:
    with Session(app.extensions["sqlalchemy_engine"]) as other:
        return other.scalar(select(func.count()).select_from(model))


def test_services_only_flush_and_the_edge_commits():
    """No service, search or permission module commits: the request, CLI command or job does."""
    offenders = []
    for layer in ("services", "permissions", "models", "schemas"):
        for path in (ROOT / layer).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for n, line in enumerate(text.splitlines(), 1):
                if re.search(r"\bsession\.commit\(\)|\bcommit\(session\)", line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_event_listeners_are_attached_by_create_app_only(app):
    factory = app.extensions["sqlalchemy_sessionmaker"]
    for name, listener in (("after_flush", notify.after_flush), ("after_flush", changelog.after_flush),
                           ("before_flush", webhooks.before_flush)):
        assert event.contains(factory, name, listener)
        assert not event.contains(Session, name, listener)  # nothing at import time
    bare = sessionmaker()()
    assert notify.after_flush not in list(bare.dispatch.after_flush)


def _listeners(factory) -> list:
    s = factory()
    try:
        return [fn for name in dict.fromkeys(n for n, _ in events.LISTENERS) for fn in getattr(s.dispatch, name)]
    finally:
        s.close()


def test_every_new_session_factory_gets_its_listeners_even_if_the_event_registry_is_stale(monkeypatch):
    """SQLAlchemy's registry is keyed by id(); a new factory class can reuse a dead one's id,
    and event.contains then says True for a factory without listeners (the app wrote no
    change log). Registration must not trust it: here contains always answers True."""
    from sqlalchemy import create_engine

    monkeypatch.setattr(event, "contains", lambda *a, **k: True)
    factory = sessionmaker(bind=create_engine("sqlite://"))
    events.register(factory)
    events.register(factory)  # idempotent: each listener once
    attached = _listeners(factory)
    for _name, listener in events.LISTENERS:
        assert attached.count(listener) == 1, listener


def test_notifications_come_from_the_audit_event_in_the_same_transaction(session, people):
    coord, owner = people
    item = f.listing(session, owner)
    listings.submit_for_review(session, owner, item)
    # Flushed, not committed: the notification is part of the same unit of work.
    note = session.scalar(select(Notification).where(Notification.user_id == coord.id))
    assert note is not None and note.kind == "review_requested" and note.listing_id == item.id
    session.rollback()
    assert session.scalar(select(Notification).where(Notification.user_id == coord.id)) is None
    assert session.get(Listing, item.id).status == ListingStatus.DRAFT


def test_a_failing_notification_write_rolls_back_the_whole_request(app, client, auth, session, people, monkeypatch):
    coord, owner = people
    item = f.listing(session, owner)

    def broken(sess, ev):  # a notification the database refuses (no recipient)
        sess.add(Notification(user_id=None, kind="review_requested", message="x", listing_id=ev.listing_id))

    monkeypatch.setitem(notify.ON_EVENT, "listing.submitted", broken)
    audits = _count(app, AuditEvent)
    auth.login(owner.email)
    resp = client.post(f"/eintraege/{item.slug}/einreichen")
    assert resp.status_code == 409  # the service's flush writes the listener's rows too and is refused
    assert _status(app, item.id) == ListingStatus.DRAFT
    assert _count(app, AuditEvent) == audits  # the audit event went with it
    assert _count(app, Notification) == 0


def test_a_failing_webhook_write_rolls_back_the_whole_change(app, session, people, monkeypatch):
    coord, owner = people
    item = f.listing(session, owner)
    listings.submit_for_review(session, owner, item)
    session.commit()
    hook = webhooks.create_webhook(session, owner, owner.organisation, "https://example.org/h", "s" * 32)
    session.commit()

    def broken(sess, ev):
        sess.add(WebhookDelivery(webhook_id=hook.id, event=None, payload=None))

    monkeypatch.setattr(webhooks, "_enqueue_for", broken)
    from marktplatz.services import moderation

    with pytest.raises(Exception):  # noqa: B017 - whatever the database says, nothing stays
        moderation.approve(session, coord, item)
        session.commit()
    session.rollback()
    assert _status(app, item.id) == ListingStatus.IN_REVIEW
    assert _count(app, WebhookDelivery) == 0
    assert _count(app, Notification) == 1  # only the earlier "waits for review"


def test_a_caught_domain_error_rolls_back_what_was_flushed_before_it(app, client, session, people):
    """A view that catches a domain error and redirects does not commit the half-done change."""
    _coord, owner = people
    item = f.listing(session, owner)

    def half_done():
        s = get_session()
        s.get(Listing, item.id).title = "Halb geändert"
        s.flush()
        try:
            raise Invalid({"title": ["Test"]})
        except Invalid:
            return redirect("/")

    def complete():
        s = get_session()
        s.get(Listing, item.id).title = "Ganz geändert"
        s.flush()
        return redirect("/")

    app.add_url_rule("/_uow/half", "uow_half", half_done, methods=["POST"])
    app.add_url_rule("/_uow/complete", "uow_complete", complete, methods=["POST"])
    assert client.post("/_uow/half").status_code == 302
    with Session(app.extensions["sqlalchemy_engine"]) as other:
        assert other.get(Listing, item.id).title == item.title
    assert client.post("/_uow/complete").status_code == 302
    with Session(app.extensions["sqlalchemy_engine"]) as other:
        assert other.get(Listing, item.id).title == "Ganz geändert"


def test_a_failed_login_is_counted_although_the_answer_is_422(app, client, session, people):
    _coord, owner = people
    resp = client.post("/anmelden", data={"email": owner.email, "password": "wrong-password"})
    assert resp.status_code == 422
    from marktplatz.models import LoginThrottle

    with Session(app.extensions["sqlalchemy_engine"]) as other:
        assert [row.failures for row in other.scalars(select(LoginThrottle))] == [1, 1]  # address, client


def test_a_cli_command_commits_when_it_ends_and_rolls_back_when_it_fails(app, runner, session):
    from marktplatz.models import User

    # Each command in a context of its own, as on the command line (not the test's app context).
    ok = contextvars.Context().run(runner.invoke, args=["user", "create", "--email", "neu@example.org", "--name", "Neu", "--role", "admin"],
                                   input="correct-horse-1\ncorrect-horse-1\n")
    assert ok.exit_code == 0, ok.output
    with Session(app.extensions["sqlalchemy_engine"]) as other:
        assert other.scalar(select(func.count(User.id)).where(User.email == "neu@example.org")) == 1
    again = contextvars.Context().run(runner.invoke, args=["user", "create", "--email", "neu@example.org", "--name", "Neu", "--role", "admin"],
                                      input="correct-horse-1\ncorrect-horse-1\n")
    assert again.exit_code != 0
    with Session(app.extensions["sqlalchemy_engine"]) as other:
        assert other.scalar(select(func.count(User.id)).where(User.email == "neu@example.org")) == 1
