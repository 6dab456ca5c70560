"""Listings (Dienst, Komponente, Projekt) and what hangs off them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

if TYPE_CHECKING:
    from .catalogue import LeikaLeistung, OzgLeistung
    from .federation import FederationSource
    from .municipality import Organisation
    from .user import User

KINDS = {"dienst": "Dienst", "komponente": "Komponente", "projekt": "Projekt"}


class ListingStatus(StrEnum):
    """The states of a listing's lifecycle; the transitions are in services/lifecycle.py."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    PUBLISHED = "published"
    CHANGES_REQUESTED = "changes_requested"
    REJECTED = "rejected"
    ARCHIVED = "archived"

    @property
    def label(self) -> str:
        """Return the German label of the state."""
        return STATUSES[self.value]


STATUSES = {
    ListingStatus.DRAFT.value: "Entwurf",
    ListingStatus.IN_REVIEW.value: "In Prüfung",
    ListingStatus.PUBLISHED.value: "Veröffentlicht",
    ListingStatus.CHANGES_REQUESTED.value: "Änderungen erbeten",
    ListingStatus.REJECTED.value: "Abgelehnt",
    ListingStatus.ARCHIVED.value: "Archiviert",
}
VISIBILITIES = {"public": "Öffentlich", "network": "Nur Mitglieder der Netzwerke"}
PHASES = {
    "idea": "Idee",
    "planned": "Geplant",
    "in_progress": "In Umsetzung",
    "live": "In Betrieb",
    "stopped": "Eingestellt",
}
REIFEGRAD_MODELS = {"1.1": 4, "2.0": 7}
COST_MODELS = {
    "free": "Kostenfrei",
    "cost_sharing": "Kostenteilung",
    "license_fee": "Lizenz- oder Nutzungsentgelt",
    "on_request": "Auf Anfrage",
}
MAINTENANCE = {
    "active": "Aktiv weiterentwickelt",
    "maintained": "Gepflegt",
    "unmaintained": "Nicht gepflegt",
    "archived": "Archiviert",
}

listing_ozg = Table(
    "listing_ozg",
    Base.metadata,
    Column("listing_id", ForeignKey("listing.id", ondelete="CASCADE"), primary_key=True),
    Column("ozg_id", ForeignKey("ozg_leistung.id"), primary_key=True, index=True),
)

listing_leika = Table(
    "listing_leika",
    Base.metadata,
    Column("listing_id", ForeignKey("listing.id", ondelete="CASCADE"), primary_key=True),
    Column("leika_id", ForeignKey("leika_leistung.id"), primary_key=True, index=True),
)


class Listing(Base):
    """A service, component or project published by its owner municipality."""

    __tablename__ = "listing"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(220), unique=True)
    summary: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=ListingStatus.DRAFT.value, index=True)
    # The state an archived listing came from: restore returns to it, and only a listing
    # archived from "published" stays readable (services/lifecycle.py, permissions/visibility.py).
    archived_from: Mapped[str | None] = mapped_column(String(20))
    visibility: Mapped[str] = mapped_column(String(10), default="public")
    phase: Mapped[str | None] = mapped_column(String(20))
    reifegrad: Mapped[int | None] = mapped_column(Integer)
    reifegrad_model: Mapped[str | None] = mapped_column(String(3))
    licence: Mapped[str | None] = mapped_column(String(80))
    repository_url: Mapped[str | None] = mapped_column(String(500))
    website_url: Mapped[str | None] = mapped_column(String(500))
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    reuse_offered: Mapped[bool] = mapped_column(Boolean, default=False)
    reuse_terms: Mapped[str] = mapped_column(Text, default="")
    cost_model: Mapped[str | None] = mapped_column(String(20))
    platform: Mapped[str | None] = mapped_column(String(200))
    technologies: Mapped[str | None] = mapped_column(String(300))
    maintenance: Mapped[str | None] = mapped_column(String(20))
    looking_for_partners: Mapped[bool] = mapped_column(Boolean, default=False)
    partners: Mapped[str] = mapped_column(Text, default="")
    external_id: Mapped[str | None] = mapped_column(String(200))
    # A listing mirrored from another instance (services/federation.py): read-only here,
    # kept by the mirror; origin_remote_id is its id there, origin_url its page there.
    origin_id: Mapped[int | None] = mapped_column(ForeignKey("federation_source.id"), index=True)
    origin_remote_id: Mapped[int | None] = mapped_column(Integer)
    origin_url: Mapped[str | None] = mapped_column(String(500))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("listing.id", ondelete="SET NULL"))
    duplicate_override_reason: Mapped[str | None] = mapped_column(Text)
    review_comment: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    submitted_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    ozg_leistungen: Mapped[list[OzgLeistung]] = relationship(
        secondary=listing_ozg, order_by="OzgLeistung.id"
    )
    leika_leistungen: Mapped[list[LeikaLeistung]] = relationship(
        secondary=listing_leika, order_by="LeikaLeistung.key"
    )
    tag_rows: Mapped[list[ListingTag]] = relationship(
        cascade="all, delete-orphan", order_by="ListingTag.tag"
    )
    status_updates: Mapped[list[StatusUpdate]] = relationship(
        back_populates="listing", cascade="all, delete-orphan", order_by="StatusUpdate.created_at.desc()"
    )
    reuses: Mapped[list[Reuse]] = relationship(
        back_populates="listing", cascade="all, delete-orphan", order_by="Reuse.created_at"
    )
    duplicate_of: Mapped[Listing | None] = relationship(remote_side=[id])
    created_by: Mapped[User | None] = relationship()
    origin: Mapped[FederationSource | None] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("organisation_id", "external_id"),
        UniqueConstraint("origin_id", "origin_remote_id"),
        CheckConstraint(
            "reifegrad IS NULL OR (reifegrad_model = '1.1' AND reifegrad BETWEEN 0 AND 4) "
            "OR (reifegrad_model = '2.0' AND reifegrad BETWEEN 0 AND 7)",
            name="reifegrad_range",
        ),
        # Browsing: a page of the newest visible listings in index order, and their count
        # from the index alone (migration 0013).
        Index("ix_listing_browse", "status", "visibility", "published_at", "id", "archived_from"),
    )

    @property
    def is_mirrored(self) -> bool:
        """Tell whether the listing is mirrored from another instance (read-only here)."""
        return self.origin_id is not None

    @property
    def tags(self) -> list[str]:
        """Return the tags as plain strings."""
        return [t.tag for t in self.tag_rows]

    @property
    def kind_label(self) -> str:
        """Return the German label of the kind."""
        return KINDS.get(self.kind, self.kind)

    @property
    def status_label(self) -> str:
        """Return the German label of the lifecycle state."""
        return STATUSES.get(self.status, self.status)

    @property
    def archived_from_label(self) -> str:
        """Return the German label of the state an archived listing came from."""
        return STATUSES.get(self.archived_from or "", "")

    @property
    def is_published(self) -> bool:
        """Tell whether the listing is currently published (for badges)."""
        return self.status == ListingStatus.PUBLISHED

    @property
    def needs_owner_action(self) -> bool:
        """Tell whether the coordination sent the listing back (changes requested, rejected)."""
        return self.status in (ListingStatus.CHANGES_REQUESTED, ListingStatus.REJECTED)

    @property
    def phase_label(self) -> str:
        """Return the German label of the phase, or an empty string."""
        return PHASES.get(self.phase or "", "")

    @property
    def cost_model_label(self) -> str:
        """Return the German label of the cost model, or an empty string."""
        return COST_MODELS.get(self.cost_model or "", "")

    @property
    def active_reuse_count(self) -> int:
        """Count reuses that are not discontinued."""
        return sum(1 for r in self.reuses if r.stage != "discontinued")


class ListingTag(Base):
    """A free tag on a listing."""

    __tablename__ = "listing_tag"

    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)


class StatusUpdate(Base):
    """An entry in a listing's status timeline."""

    __tablename__ = "status_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    phase: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="status_updates")
    author: Mapped[User | None] = relationship()


REUSE_STAGES = {
    "interested": "Interessiert",
    "evaluating": "In Prüfung",
    "pilot": "Pilot",
    "production": "Im Betrieb",
    "discontinued": "Eingestellt",
}


class Reuse(Base):
    """A municipality's declared reuse (Nachnutzung) of a listing, owned by the reuser."""

    __tablename__ = "reuse"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    stage: Mapped[str] = mapped_column(String(20), default="interested")
    reason: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    contact_name: Mapped[str | None] = mapped_column(String(200))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A reuse mirrored with its listing from another instance (read-only here).
    origin_id: Mapped[int | None] = mapped_column(ForeignKey("federation_source.id"), index=True)
    origin_remote_id: Mapped[int | None] = mapped_column(Integer)

    listing: Mapped[Listing] = relationship(back_populates="reuses")
    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)
    history: Mapped[list[ReuseStageChange]] = relationship(
        back_populates="reuse", cascade="all, delete-orphan", order_by="ReuseStageChange.changed_at"
    )

    __table_args__ = (UniqueConstraint("listing_id", "organisation_id"),
                      UniqueConstraint("origin_id", "origin_remote_id"))

    @property
    def stage_label(self) -> str:
        """Return the German label of the stage."""
        return REUSE_STAGES.get(self.stage, self.stage)


class ReuseStageChange(Base):
    """One step in the history of a reuse."""

    __tablename__ = "reuse_stage_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    reuse_id: Mapped[int] = mapped_column(ForeignKey("reuse.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)

    reuse: Mapped[Reuse] = relationship(back_populates="history")

    @property
    def to_label(self) -> str:
        """Return the German label of the new stage."""
        return REUSE_STAGES.get(self.to_stage, self.to_stage)


class Follow(Base):
    """A user following a listing."""

    __tablename__ = "follow"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("listing.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OzgFollow(Base):
    """A user following an OZG-Leistung (new listings for it are notified)."""

    __tablename__ = "ozg_follow"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    ozg_id: Mapped[int] = mapped_column(ForeignKey("ozg_leistung.id"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


FLAG_REASONS = {
    "outdated": "Veraltet",
    "wrong": "Fehlerhaft",
    "duplicate": "Doppelter Eintrag",
    "inappropriate": "Unangemessen",
}


class Flag(Base):
    """A report on a listing, queued for the coordinators."""

    __tablename__ = "flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listing.id", ondelete="CASCADE"), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="")
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("listing.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|resolved|dismissed
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    listing: Mapped[Listing] = relationship(foreign_keys=[listing_id])
    duplicate_of: Mapped[Listing | None] = relationship(foreign_keys=[duplicate_of_id])
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id])
