"""E-mail digests: sent through a real SMTP server on 127.0.0.1, or written as .eml files."""

from __future__ import annotations

import email
import os
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm.attributes import set_committed_value

from marktplatz.models import Notification, User, utcnow
from marktplatz.services import mail

from . import factories as f
from .live_server import free_port


class Sink:
    """aiosmtpd handler keeping the received messages."""

    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, _server, _session, envelope):  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """Start a real SMTP server on a free port on 127.0.0.1 and stop it afterwards."""
    port = free_port()
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


def _owner_with_news(session, digest="daily"):
    net = f.network(session, "n1", f.FREIBURG, f.MANNHEIM)
    coord = f.user(session, "coordinator", f.MANNHEIM, [net])
    owner = f.user(session, "officer", f.FREIBURG)
    owner.digest = digest
    coord.digest = "none"  # the coordinator's review request is not what these tests look at
    session.commit()
    item = f.listing(session, owner, publish_by=coord)
    return owner, item


def test_daily_digest_via_real_smtp(app, session, smtp_server):
    sink, port = smtp_server
    owner, item = _owner_with_news(session)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    assert mail.send_digests(session, app.config) == 1
    assert len(sink.messages) == 1
    msg = sink.messages[0]
    assert msg["To"] == owner.email and "Neuigkeiten" in msg["Subject"]
    body = msg.get_payload(decode=True).decode("utf-8")
    assert item.title in body and f"/eintraege/{item.slug}" in body
    session.expire_all()
    assert all(n.emailed_at is not None for n in session.scalars(
        select(Notification).where(Notification.user_id == owner.id)))
    # nothing new: no second mail
    assert mail.send_digests(session, app.config) == 0


def test_a_second_worker_with_a_stale_view_does_not_send_the_digest_again(app, session, smtp_server, monkeypatch):
    """Two app nodes each run `marktplatz worker`: the one that read the due list before the
    other sent the digest skips it (compare-and-set of digest_sent_at), new news or not."""
    sink, port = smtp_server
    owner, item = _owner_with_news(session)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    seen = mail.due_users(session)  # worker B reads who is due ...
    assert [u.id for u in seen] == [owner.id]
    assert mail.send_digests(session, app.config) == 1  # ... worker A sends meanwhile
    session.commit()
    session.add(Notification(user_id=owner.id, kind="listing_updated", message="Neu", listing_id=item.id))
    session.commit()
    # Worker B goes on with what it read: for it, the digest was never sent.
    set_committed_value(session.get(User, owner.id), "digest_sent_at", None)
    monkeypatch.setattr(mail, "due_users", lambda _s, _now=None: seen)
    assert mail.send_digests(session, app.config) == 0
    assert len(sink.messages) == 1
    session.expire_all()
    assert session.get(User, owner.id).digest_sent_at is not None


def test_digest_waits_for_its_period(app, session, smtp_server):
    sink, port = smtp_server
    owner, _item = _owner_with_news(session, "weekly")
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    owner.digest_sent_at = utcnow() - timedelta(days=2)
    session.commit()
    assert mail.send_digests(session, app.config) == 0
    assert mail.send_digests(session, app.config, now=utcnow() + timedelta(days=6)) == 1
    assert len(sink.messages) == 1


def test_no_digest_when_user_chose_none_or_read_everything(app, session, smtp_server):
    sink, port = smtp_server
    owner, _item = _owner_with_news(session, "none")
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    assert mail.send_digests(session, app.config) == 0
    owner = session.get(User, owner.id)
    owner.digest = "daily"
    for n in session.scalars(select(Notification).where(Notification.user_id == owner.id)):
        n.read_at = utcnow()
    session.commit()
    assert mail.send_digests(session, app.config) == 0
    assert sink.messages == []


def test_development_writes_eml_files(app, session):
    owner, item = _owner_with_news(session)
    app.config["SMTP_HOST"] = None
    assert mail.send_digests(session, app.config) == 1
    files = os.listdir(app.config["MAIL_DIR"])
    assert len(files) == 1 and files[0].endswith(".eml")
    with open(os.path.join(app.config["MAIL_DIR"], files[0]), "rb") as fh:
        msg = email.message_from_bytes(fh.read())
    assert msg["To"] == owner.email and item.title in msg.get_payload(decode=True).decode("utf-8")


def test_smtp_down_keeps_notifications_for_next_round(app, session):
    port = free_port()  # nothing listens here
    owner, _item = _owner_with_news(session)
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    assert mail.send_digests(session, app.config) == 0
    session.expire_all()
    assert all(n.emailed_at is None for n in session.scalars(
        select(Notification).where(Notification.user_id == owner.id)))
    assert session.get(User, owner.id).digest_sent_at is None  # the claim was handed back
    assert [u.id for u in mail.due_users(session)] == [owner.id]


# Page and form behaviour does not depend on the database; the database tests run on both.
pytestmark = pytest.mark.sqlite_only
