"""Cooperation networks, their members, coordinators, join requests and invitations."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

if TYPE_CHECKING:
    from .municipality import Organisation
    from .user import User


class Network(Base):
    """A cooperation network of municipalities (ANDI, a Landkreis network, a Zweckverband)."""

    __tablename__ = "network"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    website: Mapped[str | None] = mapped_column(String(300))
    # The network's publishing policy: its members may publish their own listings without a
    # coordinator's review (permissions/roles.py: the "self_publisher" relation).
    direct_publish: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Archived networks stay readable but take no new members and leave the overview.
    archived_at: Mapped[datetime | None]

    memberships: Mapped[list[NetworkMembership]] = relationship(
        back_populates="network", cascade="all, delete-orphan"
    )
    coordinators: Mapped[list[NetworkCoordinator]] = relationship(
        back_populates="network", cascade="all, delete-orphan"
    )


class NetworkMembership(Base):
    """A municipality's membership in a network."""

    __tablename__ = "network_membership"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("network.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    network: Mapped[Network] = relationship(back_populates="memberships")
    organisation: Mapped[Organisation] = relationship(back_populates="memberships")

    __table_args__ = (UniqueConstraint("network_id", "organisation_id"),)


class NetworkCoordinator(Base):
    """A user who coordinates (moderates) a network."""

    __tablename__ = "network_coordinator"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("network.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    appointed_at: Mapped[datetime] = mapped_column(default=utcnow)

    network: Mapped[Network] = relationship(back_populates="coordinators")
    user: Mapped[User] = relationship(back_populates="coordinations")

    __table_args__ = (UniqueConstraint("network_id", "user_id"),)


class JoinRequest(Base):
    """An officer's request that their municipality join a network."""

    __tablename__ = "join_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("network.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"))
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending|approved|declined
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    network: Mapped[Network] = relationship()
    organisation: Mapped[Organisation] = relationship()


class NetworkInvitation(Base):
    """A coordinator's invitation of a municipality into a network, until its officer decides.

    Membership needs the municipality's consent: an invitation adds nothing until an
    officer of the invited municipality accepts it.
    """

    __tablename__ = "network_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("network.id", ondelete="CASCADE"), index=True)
    organisation_id: Mapped[int] = mapped_column(
        ForeignKey("organisation.id", ondelete="CASCADE"), index=True
    )
    invited_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    message: Mapped[str] = mapped_column(Text, default="")
    # pending|accepted|declined|withdrawn
    status: Mapped[str] = mapped_column(String(20), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    network: Mapped[Network] = relationship()
    organisation: Mapped[Organisation] = relationship()
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
