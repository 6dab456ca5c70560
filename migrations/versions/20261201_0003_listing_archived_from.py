"""listing.archived_from: the state an archived listing came from (restore, visibility)

Revision ID: 0003lifecycle
Revises: 0002api
Create Date: 2026-12-01 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003lifecycle"
down_revision: str | None = "0002api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("listing", sa.Column("archived_from", sa.String(length=20), nullable=True))
    # Before this revision an archived listing was readable when it had a publication date;
    # an approval is what gave it one, except for drafts marked as duplicates (the bug this
    # revision closes), so an approval in the audit trail is the safer sign.
    op.execute(
        "UPDATE listing SET archived_from = CASE WHEN EXISTS ("
        "SELECT 1 FROM audit_event a WHERE a.listing_id = listing.id "
        "AND a.action = 'listing.approved') THEN 'published' ELSE 'draft' END "
        "WHERE status = 'archived'"
    )
    op.execute(
        "UPDATE listing SET published_at = NULL WHERE status = 'archived' "
        "AND archived_from = 'draft'"
    )


def downgrade() -> None:
    """Revert this revision."""
    # SQLite (3.35+) drops a plain column in place; batch mode would rebuild the table.
    op.execute("ALTER TABLE listing DROP COLUMN archived_from")
