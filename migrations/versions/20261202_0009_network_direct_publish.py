"""network.direct_publish: a network's members may publish without review (issue 18 item 2)

Revision ID: 0009directpublish
Revises: 0008netarchive
Create Date: 2026-12-02 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009directpublish"
down_revision: str | None = "0008netarchive"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("network", sa.Column("direct_publish", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))


def downgrade() -> None:
    """Revert this revision."""
    # SQLite (3.35+) drops a plain column in place; batch mode would rebuild the table.
    op.execute("ALTER TABLE network DROP COLUMN direct_publish")
