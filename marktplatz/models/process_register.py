"""Process registers (Prozessregister): a municipality's processes with case numbers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

if TYPE_CHECKING:
    from .catalogue import OzgLeistung
    from .listing import Listing
    from .municipality import Organisation

#: Who may read a register (permissions/visibility.py turns these into labels).
REGISTER_VISIBILITIES = {
    "private": "Nur die eigene Kommune",
    "network": "Mitglieder der eigenen Netzwerke",
    "public": "Öffentlich",
}

#: The current channel of a process, from least to most digital.
CHANNELS = {
    "analog": "Nur analog",
    "pdf": "PDF-Formular",
    "online_form": "Online-Formular",
    "end_to_end": "Ende-zu-Ende online",
    "appointment": "Online-Termin und Beratung",
}
#: Channels that count as "not yet online" (a PDF form is still processed on paper).
NOT_ONLINE = frozenset({"analog", "pdf"})

PRIORITIES = {1: "1 – sehr hoch", 2: "2 – hoch", 3: "3 – mittel", 4: "4 – niedrig", 5: "5 – sehr niedrig"}


class ProcessRegister(Base):
    """The process register of one municipality and who may read it."""

    __tablename__ = "process_register"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), unique=True
    )
    visibility: Mapped[str] = mapped_column(String(20), default="private")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship()
    entries: Mapped[list[ProcessEntry]] = relationship(
        back_populates="register", cascade="all, delete-orphan", order_by="ProcessEntry.process_key"
    )

    __table_args__ = (
        CheckConstraint("visibility IN ('private', 'network', 'public')", name="register_visibility"),
    )

    @property
    def visibility_label(self) -> str:
        """Return the German label of the visibility."""
        return REGISTER_VISIBILITIES.get(self.visibility, self.visibility)


class ProcessEntry(Base):
    """One process of a register, keyed by the municipality's own process key."""

    __tablename__ = "process_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[int] = mapped_column(ForeignKey("process_register.id", ondelete="CASCADE"), index=True)
    process_key: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(300))
    # Always set: taken from the LeiKa key's OZG-Leistung when only the key is given.
    ozg_id: Mapped[int] = mapped_column(ForeignKey("ozg_leistung.id"), index=True)
    leika_key: Mapped[str | None] = mapped_column(ForeignKey("leika_leistung.key"))
    unit: Mapped[str] = mapped_column(String(200), default="")
    cases: Mapped[int | None] = mapped_column(Integer)
    cases_year: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(20), default="analog")
    solution_listing_id: Mapped[int | None] = mapped_column(ForeignKey("listing.id", ondelete="SET NULL"))
    solution_text: Mapped[str] = mapped_column(String(300), default="")
    own_statute: Mapped[bool] = mapped_column(Boolean, default=False)
    statute_ref: Mapped[str] = mapped_column(String(300), default="")
    priority: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    register: Mapped[ProcessRegister] = relationship(back_populates="entries")
    ozg: Mapped[OzgLeistung] = relationship()
    solution_listing: Mapped[Listing | None] = relationship()

    __table_args__ = (
        UniqueConstraint("register_id", "process_key", name="uq_process_entry_key"),
        CheckConstraint("cases IS NULL OR cases >= 0", name="process_cases_nonnegative"),
        CheckConstraint("priority IS NULL OR priority BETWEEN 1 AND 5", name="process_priority_range"),
        CheckConstraint(
            "channel IN ('analog', 'pdf', 'online_form', 'end_to_end', 'appointment')",
            name="process_channel",
        ),
    )

    @property
    def channel_label(self) -> str:
        """Return the German label of the channel."""
        return CHANNELS.get(self.channel, self.channel)

    @property
    def not_online(self) -> bool:
        """Tell whether the process is still handled analog (or by PDF form)."""
        return self.channel in NOT_ONLINE

    @property
    def has_solution(self) -> bool:
        """Tell whether a solution in use is named (a listing or free text)."""
        return self.solution_listing_id is not None or bool(self.solution_text.strip())
