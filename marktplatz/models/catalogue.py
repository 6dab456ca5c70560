"""The OZG catalogue: Themenfelder, Lebenslagen, OZG-Leistungen and LeiKa-Leistungen."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base


class Themenfeld(Base):
    """One of the 14 OZG Themenfelder."""

    __tablename__ = "themenfeld"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(120))


class Lebenslage(Base):
    """A Lebens- or Unternehmenslage within a Themenfeld."""

    __tablename__ = "lebenslage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    themenfeld_id: Mapped[int] = mapped_column(ForeignKey("themenfeld.id"), index=True)

    themenfeld: Mapped[Themenfeld] = relationship()


class OzgLeistung(Base):
    """An OZG-Leistung identified by its OZG-ID."""

    __tablename__ = "ozg_leistung"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # OZG-ID
    name: Mapped[str] = mapped_column(String(300), index=True)
    lebenslage_id: Mapped[int] = mapped_column(ForeignKey("lebenslage.id"), index=True)
    themenfeld_id: Mapped[int] = mapped_column(ForeignKey("themenfeld.id"), index=True)

    lebenslage: Mapped[Lebenslage] = relationship()
    themenfeld: Mapped[Themenfeld] = relationship()
    leika: Mapped[list[LeikaLeistung]] = relationship(
        back_populates="ozg", order_by="LeikaLeistung.key"
    )


class LeikaLeistung(Base):
    """A Leistung of the LeiKa with its 14-digit key, mapped to an OZG-Leistung."""

    __tablename__ = "leika_leistung"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(14), unique=True)
    name: Mapped[str] = mapped_column(String(400))
    leika_type: Mapped[str | None] = mapped_column(String(20))
    ozg_id: Mapped[int] = mapped_column(ForeignKey("ozg_leistung.id"), index=True)
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    sdg_relevant: Mapped[bool] = mapped_column(default=False)

    ozg: Mapped[OzgLeistung] = relationship(back_populates="leika")
