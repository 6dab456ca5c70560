"""E-mail: daily or weekly digests of unread notifications, via SMTP or into a folder."""

from __future__ import annotations

import logging
import os
import smtplib
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..models import Notification, User, utcnow
from . import notify

log = logging.getLogger(__name__)

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
# A digest may go out slightly early so a worker tick a few minutes off does not skip a day.
SLACK = timedelta(minutes=30)


def send_message(config: Mapping[str, Any], msg: EmailMessage) -> str:
    """Send msg via SMTP when SMTP_HOST is set, else write it as .eml into MAIL_DIR; return where."""
    if not msg["From"]:
        msg["From"] = config.get("MAIL_FROM") or "marktplatz@localhost"
    host = config.get("SMTP_HOST")
    if host:
        port = int(config.get("SMTP_PORT") or 25)
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            if config.get("SMTP_STARTTLS"):
                smtp.starttls()
            if config.get("SMTP_USER"):
                smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
            smtp.send_message(msg)
        return f"smtp://{host}:{port}"
    folder = config.get("MAIL_DIR") or "mail"
    os.makedirs(folder, exist_ok=True)
    name = f"{utcnow().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
    path = os.path.join(folder, name)
    with open(path, "wb") as fh:
        fh.write(bytes(msg))
    return path


def due_users(session: Session, now: datetime | None = None) -> list[User]:
    """Return the users whose digest period has passed and who have something new."""
    now = now or utcnow()
    users = session.scalars(
        select(User).where(User.active.is_(True), User.digest.in_(tuple(PERIODS)))
        .where(select(Notification.id).where(
            Notification.user_id == User.id, Notification.read_at.is_(None),
            Notification.emailed_at.is_(None)).exists())
        .order_by(User.id)
    )
    return [u for u in users
            if u.digest_sent_at is None or u.digest_sent_at + PERIODS[u.digest] - SLACK <= now]


def new_message(to: str, subject: str) -> EmailMessage:
    """Return a plain e-mail to the given address(es) with subject, date and message id set."""
    msg = EmailMessage()
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = make_msgid(domain="marktplatz")
    return msg


def build_digest(user: User, notes: list[Notification], base_url: str) -> EmailMessage:
    """Compose the digest e-mail (plain text) for user."""
    period = "heute" if user.digest == "daily" else "in dieser Woche"
    msg = new_message(user.email, f"Marktplatz: {len(notes)} Neuigkeiten {period}")
    lines = [f"Guten Tag {user.name},", "", f"das ist neu für Sie {period}:", ""]
    base = base_url.rstrip("/")
    for note in notes:
        lines.append(f"- {note.message}")
        if note.link:
            lines.append(f"  {base}{note.link}")
    lines += ["", f"Alle Benachrichtigungen: {base}/benachrichtigungen",
              f"Wie oft Sie E-Mails bekommen, stellen Sie hier ein: {base}/konto/benachrichtigungen", ""]
    msg.set_content("\n".join(lines))
    return msg


def _claim(session: Session, user_id: int, expected: datetime | None, new: datetime | None) -> bool:
    """Move the user's digest_sent_at from expected to new, if it still is expected; tell whether it did.

    The compare-and-set is what makes a digest go out once when several workers run (one
    per app node): the second one's UPDATE waits for the first one's commit, then matches
    no row.
    """
    still = User.digest_sent_at.is_(None) if expected is None else User.digest_sent_at == expected
    done = session.execute(update(User).where(User.id == user_id, still).values(digest_sent_at=new)
                           .execution_options(synchronize_session=False)).rowcount == 1
    if done:
        user = session.get(User, user_id)
        if user is not None:
            set_committed_value(user, "digest_sent_at", new)  # the loaded object follows the row
    return done


def send_digests(session: Session, config: Mapping[str, Any], now: datetime | None = None,
                 after_each: Callable[[], None] = lambda: None) -> int:
    """Send every due digest; mark its notifications as e-mailed; return how many were sent.

    after_each is the job boundary: the worker commits there after every user, so a digest
    that went out is never sent again when a later one fails.
    """
    now = now or utcnow()
    sent = 0
    for user in due_users(session, now):
        notes = list(session.scalars(
            select(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None),
                                       Notification.emailed_at.is_(None))
            .order_by(Notification.created_at, Notification.id).limit(50)))
        shown = notify.readable(session, user, notes)
        if not shown:
            for note in notes:
                note.emailed_at = now
            session.flush()
            after_each()
            continue
        before = user.digest_sent_at
        if not _claim(session, user.id, before, now):
            continue  # another worker (a second app node) sends this one
        after_each()
        msg = build_digest(user, shown, config.get("BASE_URL") or "")
        try:
            where = send_message(config, msg)
        except (OSError, smtplib.SMTPException) as err:
            log.error("digest for user %s not sent: %s", user.id, type(err).__name__)
            _claim(session, user.id, now, before)  # hand it back for the next tick
            after_each()
            break  # the mail server is down; try again on the next tick
        for note in notes:
            note.emailed_at = now
        session.flush()
        after_each()
        log.info("digest with %s notifications sent to user %s (%s)", len(shown), user.id,
                 "smtp" if where.startswith("smtp") else "file")
        sent += 1
    return sent
