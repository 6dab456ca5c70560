"""login_throttle: sign-in backoff per e-mail address and per client address

Revision ID: 0005throttle
Revises: 0004invitation
Create Date: 2026-12-02 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marktplatz.models.base

revision: str = "0005throttle"
down_revision: str | None = "0004invitation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("wait_until", marktplatz.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", marktplatz.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("login_throttle")
