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

from . import changelog, lengths, notify, webhooks

LISTENERS = (
    ("before_flush", lengths.before_flush),  # first: nothing follows from a refused write
    ("before_flush", webhooks.before_flush),
    ("after_flush", changelog.after_flush),
    ("after_flush", notify.after_flush),
    ("after_flush_postexec", notify.after_flush_postexec),
    ("after_soft_rollback", notify.forget_pending),
)

_MARK = "_marktplatz_events_registered"


def register(session_factory: sessionmaker) -> None:
    """Attach the event listeners to every session the factory makes (idempotent).

    Idempotence is a mark on the factory's own session class, not ``event.contains``:
    SQLAlchemy's event registry is keyed by ``id()`` of the target, and once an earlier
    factory's class has been collected a new one can get the same id while the stale key
    remains, so ``contains`` answered True for a factory without listeners. The app then
    wrote no change log, no notifications and no webhooks (seen as flaky search tests,
    about one app in 300).
    """
    target = session_factory.class_
    if target.__dict__.get(_MARK):
        return
    for name, listener in LISTENERS:
        event.listen(session_factory, name, listener)
    setattr(target, _MARK, True)
