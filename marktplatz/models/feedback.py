"""Feedback on accessibility sent through the form of the accessibility statement (BITV 2.0)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class AccessibilityFeedback(Base):
    """One message about a barrier on the platform, kept for the operator to answer."""

    __tablename__ = "accessibility_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    page: Mapped[str] = mapped_column(String(500), default="")
    message: Mapped[str] = mapped_column(Text)
    # When the e-mail to the operator went out; None when no mail could be sent.
    emailed_at: Mapped[datetime | None]
