"""Legal pages (Impressum, Datenschutz, Barrierefreiheit) and the accessibility feedback."""

from __future__ import annotations

import logging
import os
import re
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import AccessibilityFeedback, User, utcnow
from ..permissions import can
from . import audit
from .common import flush
from .errors import Forbidden, Invalid, NotFound
from .mail import new_message, send_message

log = logging.getLogger(__name__)

PAGES = {"impressum": "Impressum", "datenschutz": "Datenschutzerklärung",
         "barrierefreiheit": "Erklärung zur Barrierefreiheit"}
EXAMPLE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "legal")
EMAIL_RE = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
LIMITS = {"name": 200, "email": 254, "page": 500, "message": 5000}


@dataclass(frozen=True)
class LegalPage:
    """The text of one legal page and whether it is the shipped example."""

    name: str
    title: str
    markdown: str
    example: bool


def legal_page(config: Mapping[str, Any], name: str) -> LegalPage:
    """Return the operator's text of a legal page (or the shipped example if no folder is set)."""
    if name not in PAGES:
        raise NotFound("Diese Seite gibt es nicht.")
    folder = config.get("LEGAL_DIR") or ""
    example = not folder
    path = os.path.join(folder or EXAMPLE_DIR, f"{name}.md")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as err:
        log.error("legal page %s not readable from %s: %s", name, path, type(err).__name__)
        raise NotFound(f"Der Betreiber hat die Seite „{PAGES[name]}“ noch nicht hinterlegt.") from None
    return LegalPage(name, PAGES[name], text, example)


def _clean(data: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(data.get(key) or "").strip() for key in LIMITS}


def submit_feedback(session: Session, config: Mapping[str, Any], actor: Any,
                    data: Mapping[str, Any]) -> AccessibilityFeedback:
    """Store a message about a barrier, audit it and e-mail it to the operator.

    The message is kept even when the mail cannot be sent (admins read it on the platform).
    """
    values = _clean(data)
    errors: dict[str, list[str]] = {}
    if len(values["message"]) < 10:
        errors["message"] = ["Bitte beschreiben Sie die Barriere in mindestens 10 Zeichen."]
    if values["email"] and not EMAIL_RE.match(values["email"]):
        errors["email"] = ["Bitte eine gültige E-Mail-Adresse angeben, z. B. name@kommune.de, oder das Feld leer lassen."]
    for key, limit in LIMITS.items():
        if len(values[key]) > limit and key not in errors:
            errors[key] = [f"Bitte höchstens {limit} Zeichen."]
    if any("\x00" in v for v in values.values()):
        errors.setdefault("message", []).append("Die Eingabe enthält unzulässige Zeichen.")
    if errors:
        raise Invalid(errors)
    item = AccessibilityFeedback(**values)
    session.add(item)
    flush(session)
    audit.record(session, actor if getattr(actor, "is_authenticated", False) else None,
                 "accessibility_feedback.submit", item)
    recipients = feedback_recipients(session, config)
    if recipients:
        msg = _feedback_mail(item, recipients, config.get("BASE_URL") or "")
        try:
            send_message(config, msg)
        except (OSError, smtplib.SMTPException) as err:
            log.error("accessibility feedback %s not e-mailed: %s", item.id, type(err).__name__)
        else:
            item.emailed_at = utcnow()
    else:
        log.warning("accessibility feedback %s: nobody to e-mail (no FEEDBACK_MAIL_TO, no admin)", item.id)
    flush(session)
    return item


def feedback_recipients(session: Session, config: Mapping[str, Any]) -> list[str]:
    """Return who gets the feedback by e-mail: FEEDBACK_MAIL_TO, else every active admin."""
    configured = [a.strip() for a in str(config.get("FEEDBACK_MAIL_TO") or "").split(",") if a.strip()]
    if configured:
        return configured
    return list(session.scalars(select(User.email).where(User.role == "admin", User.active.is_(True))
                                .order_by(User.id)))


def _feedback_mail(item: AccessibilityFeedback, recipients: list[str], base_url: str) -> EmailMessage:
    msg = new_message(", ".join(recipients), f"Marktplatz: Rückmeldung zur Barrierefreiheit Nr. {item.id}")
    if item.email:
        msg["Reply-To"] = item.email
    lines = ["Über die Erklärung zur Barrierefreiheit ist eine Rückmeldung eingegangen.", "",
             f"Name: {item.name or '(nicht angegeben)'}",
             f"E-Mail: {item.email or '(nicht angegeben)'}",
             f"Betroffene Seite: {item.page or '(nicht angegeben)'}", "", "Nachricht:", item.message, "",
             "Nach BITV 2.0 ist eine Antwort innerhalb angemessener Frist nötig.",
             f"Alle Rückmeldungen: {base_url.rstrip('/')}/barrierefreiheit/rueckmeldungen", ""]
    msg.set_content("\n".join(lines))
    return msg


def list_feedback(session: Session, user: Any, limit: int = 200) -> tuple[list[AccessibilityFeedback], int]:
    """Return the newest feedback messages and how many there are (admins only)."""
    if not can(user, "feedback.view"):
        raise Forbidden("Nur Plattform-Admins sehen die Rückmeldungen.")
    total = session.scalar(select(func.count(AccessibilityFeedback.id))) or 0
    items = list(session.scalars(select(AccessibilityFeedback)
                                 .order_by(AccessibilityFeedback.created_at.desc(), AccessibilityFeedback.id.desc())
                                 .limit(limit)))
    return items, total
