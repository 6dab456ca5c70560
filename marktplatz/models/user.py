"""User accounts."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from .base import Base, utcnow

if TYPE_CHECKING:
    from .municipality import Organisation
    from .network import NetworkCoordinator

ROLES = {"officer": "Digitalbeauftragte/r", "coordinator": "Netzwerk-Koordination", "admin": "Plattform-Admin"}


class User(UserMixin, Base):
    """A person who signs in: officer, coordinator or admin."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(300))
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL"), index=True
    )
    role: Mapped[str] = mapped_column(String(20), default="officer")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_login_at: Mapped[datetime | None]
    # Unused since sign-in backoff moved to login_throttle (migration 0005); to be dropped.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    digest: Mapped[str] = mapped_column(String(10), default="weekly")  # none|daily|weekly
    digest_sent_at: Mapped[datetime | None]
    session_token: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organisation: Mapped[Organisation | None] = relationship()
    coordinations: Mapped[list[NetworkCoordinator]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    __table_args__ = (Index("uq_user_account_email_lower", func.lower(email), unique=True),)

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    @property
    def is_active(self) -> bool:  # flask-login
        """Tell flask-login whether the account may sign in."""
        return bool(self.active)

    def get_id(self) -> str:
        """Return the session identifier; changes when the password changes."""
        return f"{self.id}:{self.session_token}"

    @property
    def is_admin(self) -> bool:
        """Tell whether the user is a platform admin."""
        return self.role == "admin"

    @property
    def coordinated_network_ids(self) -> set[int]:
        """Return the ids of networks this user coordinates."""
        return {c.network_id for c in self.coordinations}

    @property
    def role_label(self) -> str:
        """Return the German label of the role."""
        return ROLES.get(self.role, self.role)
