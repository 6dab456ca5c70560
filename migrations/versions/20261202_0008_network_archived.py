"""network.archived_at: admins archive a network instead of deleting one that has members

Revision ID: 0008netarchive
Revises: 0007access
Create Date: 2026-12-02 13:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marktplatz.models.base

revision: str = "0008netarchive"
down_revision: str | None = "0007access"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("network", sa.Column("archived_at", marktplatz.models.base.UTCDateTime(timezone=True),
                                       nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    # SQLite (3.35+) drops a plain column in place; batch mode would rebuild the table.
    op.execute("ALTER TABLE network DROP COLUMN archived_at")
