"""Suggested reuses: names a listing's publiccode.yml lists under usedBy, awaiting the named municipality.

Kept apart from Reuse on purpose: nothing that counts or shows declared reuse reads this
table, so a suggestion cannot be counted by accident. It becomes a declared Reuse only when
an officer of the named municipality confirms it (services/reuse_suggestions.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

if TYPE_CHECKING:
    from .listing import Listing
    from .municipality import Organisation

#: suggested: matched, waiting for the municipality; dismissed: it said no (never suggested
#: again); confirmed: it declared the reuse; unmatched: no single municipality has that name.
SUGGESTION_STATES = {
    "suggested": "Vorgeschlagen",
    "dismissed": "Abgelehnt",
    "confirmed": "Bestätigt",
    "unmatched": "Nicht zugeordnet",
}
SOURCES = {"publiccode.yml": "publiccode.yml (usedBy)"}


class ReuseSuggestion(Base):
    """One usedBy name of a listing: matched to a municipality (a suggestion) or kept as written."""

    __tablename__ = "reuse_suggestion"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    # None for a name that matched no municipality, or several (state "unmatched").
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(30), default="publiccode.yml")
    name: Mapped[str] = mapped_column(String(200))  # as the file writes it
    state: Mapped[str] = mapped_column(String(12), default="suggested")
    # How many municipalities carry the name: 0 unknown, 2 or more ambiguous (state unmatched).
    candidates: Mapped[int] = mapped_column(Integer, default=1)
    position: Mapped[int] = mapped_column(Integer, default=0)  # order in the file
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    listing: Mapped[Listing] = relationship()
    organisation: Mapped[Organisation | None] = relationship()

    __table_args__ = (
        UniqueConstraint("listing_id", "organisation_id"),
        CheckConstraint("state IN ('suggested', 'dismissed', 'confirmed', 'unmatched')", name="suggestion_state"),
        CheckConstraint("(organisation_id IS NULL) = (state = 'unmatched')", name="suggestion_matched"),
    )

    @property
    def state_label(self) -> str:
        """Return the German label of the state."""
        return SUGGESTION_STATES.get(self.state, self.state)
