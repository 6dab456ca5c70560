"""Requests for access ("Zugang beantragen") by people of a municipality without an account."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

if TYPE_CHECKING:
    from .municipality import Organisation
    from .user import User

ACCESS_STATUSES = {
    "unconfirmed": "E-Mail-Adresse noch nicht bestätigt",
    "pending": "Wartet auf Entscheidung",
    "approved": "Angenommen",
    "refused": "Abgelehnt",
}


class AccessRequest(Base):
    """One person's request for an account for a municipality, until someone decides."""

    __tablename__ = "access_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    role: Mapped[str] = mapped_column(String(20), default="officer")
    message: Mapped[str] = mapped_column(Text, default="")
    # unconfirmed -> pending (address confirmed) -> approved | refused
    status: Mapped[str] = mapped_column(String(20), default="unconfirmed", index=True)
    confirmed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    organisation: Mapped[Organisation] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def status_label(self) -> str:
        """Return the German label of the status."""
        return ACCESS_STATUSES.get(self.status, self.status)

    @property
    def email_domain(self) -> str:
        """Return the domain of the address (after the @), lower case."""
        return self.email.rsplit("@", 1)[-1].lower()
