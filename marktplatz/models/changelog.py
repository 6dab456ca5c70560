"""The change log the change feed and the search worker read, and small key/value state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, BigId, utcnow


class ChangeLog(Base):
    """An ordered record of every change to a listing, reuse or organisation.

    Written in the same transaction as the change (see services/changelog.py). Readers
    (search replication, API change feed) page by ``id``. On PostgreSQL ``txid`` holds the
    writing transaction id so readers can hold back rows of transactions that may still
    commit with smaller ids.
    """

    __tablename__ = "change_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(20))  # listing|reuse|organisation
    entity_id: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(10))  # created|updated|archived|deleted
    organisation_id: Mapped[int | None] = mapped_column(Integer)
    listing_id: Mapped[int | None] = mapped_column(Integer)
    txid: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_change_log_entity", "entity_type", "entity_id"),
        # Keyset order of the API change feed (services/changes.py).
        Index("ix_change_log_txid_id", "txid", "id"),
    )


class SearchState(Base):
    """Key/value state; "search.wrote.<user id>" holds the change-log position of a user's last
    write, so that user's searches show it (read-your-writes, see marktplatz.search)."""

    __tablename__ = "kv_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
