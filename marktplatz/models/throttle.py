"""Failed sign-ins per e-mail address and per client address (login backoff)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class LoginThrottle(Base):
    """Recent failed sign-ins under one key: 'email:<sha256 of the address>' or 'ip:<address>'.

    Keyed by the address as typed, not by the account, so unknown and known addresses
    behave the same. After enough failures each further one opens a growing wait during
    which sign-ins under the key are not checked (services.accounts.authenticate).
    """

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    wait_until: Mapped[datetime | None]
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
