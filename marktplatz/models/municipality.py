"""Organisations: municipalities, Kreise and municipal IT service providers."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .base import Base, utcnow

if TYPE_CHECKING:
    from .network import NetworkMembership

AGS_RE = re.compile(r"^(0[1-9]|1[0-6])\d{6}$")
ARS_RE = re.compile(r"^(0[1-9]|1[0-6])\d{10}$")

ORG_KINDS = {
    "gemeinde": "Gemeinde",
    "stadt": "Stadt",
    "kreis": "Landkreis / Kreis",
    "it_dienstleister": "Kommunaler IT-Dienstleister / Zweckverband",
}


def valid_ags(value: str) -> bool:
    """Tell whether value is a well-formed 8-digit AGS with a real Land code."""
    return bool(AGS_RE.match(value or ""))


class Organisation(Base):
    """A municipality, a Kreis or a municipal IT service provider."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(primary_key=True)
    # URL key: the AGS for Gemeinden, the 5-digit Kreisschlüssel for Kreise, a slug otherwise.
    key: Mapped[str] = mapped_column(String(40), unique=True)
    ags: Mapped[str | None] = mapped_column(String(8), unique=True)
    ars: Mapped[str | None] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    type_label: Mapped[str | None] = mapped_column(String(60))
    land_code: Mapped[str | None] = mapped_column(String(2), index=True)
    land: Mapped[str | None] = mapped_column(String(40))
    kreis_key: Mapped[str | None] = mapped_column(String(5), index=True)
    kreis: Mapped[str | None] = mapped_column(String(120))
    population: Mapped[int | None] = mapped_column(Integer)
    area_km2: Mapped[float | None] = mapped_column(Float)
    postcode: Mapped[str | None] = mapped_column(String(5))
    website: Mapped[str | None] = mapped_column(String(300))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    memberships: Mapped[list[NetworkMembership]] = relationship(
        back_populates="organisation", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("ix_organisation_land_kind", "land_code", "kind"),)

    @validates("ags")
    def _check_ags(self, _key: str, value: str | None) -> str | None:
        if value is not None and not valid_ags(value):
            raise ValueError(f"Ungültiger AGS {value!r}: 8 Ziffern mit Landesschlüssel 01–16")
        return value

    @validates("ars")
    def _check_ars(self, _key: str, value: str | None) -> str | None:
        if value is not None and not ARS_RE.match(value):
            raise ValueError(f"Ungültiger ARS {value!r}: 12 Ziffern")
        return value

    @property
    def kind_label(self) -> str:
        """Return the German label of the kind."""
        return self.type_label or ORG_KINDS.get(self.kind, self.kind)

    @property
    def network_ids(self) -> list[int]:
        """Return the ids of the networks this organisation belongs to."""
        return [m.network_id for m in self.memberships]


class Land(Base):
    """A German Bundesland (reference data)."""

    __tablename__ = "land"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    short: Mapped[str] = mapped_column(String(2))
    name: Mapped[str] = mapped_column(String(40))
