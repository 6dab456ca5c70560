"""Federation: another Marktplatz instance this one follows, and what it mirrors from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class FederationSource(Base):
    """A remote instance whose public listings and reuses are mirrored here (services/federation.py).

    ``cursor`` is the remote change feed's position after the last page applied; it is
    saved in the same transaction as that page, so a pull resumes exactly where the last
    one ended, whatever stopped it.
    """

    __tablename__ = "federation_source"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500), unique=True)  # base URL, without /api/v1
    name: Mapped[str] = mapped_column(String(200))  # shown as "aus <name>"
    interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    cursor: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the last pull skipped, e.g. "2 Einträge: Kommune 09162000 unbekannt" (German, for operators).
    last_skipped: Mapped[str | None] = mapped_column(Text)
