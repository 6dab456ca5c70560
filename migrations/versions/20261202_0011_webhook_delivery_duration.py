"""webhook_delivery.last_duration_ms: the response time of the last attempt (issue 18 item 4)

The delivery log shows status codes and response times; the time of an attempt was not
stored anywhere.

Revision ID: 0011deliveryduration
Revises: 0010historytxid
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011deliveryduration"
down_revision: str | None = "0010historytxid"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("webhook_delivery", sa.Column("last_duration_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    # SQLite (3.35+) drops a plain column in place; batch mode would rebuild the table.
    op.execute("ALTER TABLE webhook_delivery DROP COLUMN last_duration_ms")
