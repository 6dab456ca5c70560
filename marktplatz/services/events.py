"""The one event path: a change's own rows, written in its transaction, drive what follows.

Services record what happened as audit events and the change log records what changed,
both in the transaction of the change. The listeners registered here turn them into
webhook deliveries, notifications (and the change-log rows the search index, the change feed
and the page cache follow) before the transaction commits, so a change and everything it announces
commit or roll back together. ``create_app`` registers them on the app's session factory;
nothing is attached at import time.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import sessionmaker

from . import changelog, notify, webhooks


def register(session_factory: sessionmaker) -> None:
    """Attach the event listeners to every session the factory makes (idempotent)."""
    for name, listener in (
        ("before_flush", webhooks.before_flush),
        ("after_flush", changelog.after_flush),
        ("after_flush", notify.after_flush),
        ("after_flush_postexec", notify.after_flush_postexec),
        ("after_soft_rollback", notify.forget_pending),
    ):
        if not event.contains(session_factory, name, listener):
            event.listen(session_factory, name, listener)
