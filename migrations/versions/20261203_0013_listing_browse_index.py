"""listing: one index for browsing (state, visibility, then publication order)

Replaces ix_listing_status_visibility, its prefix. With published_at and id next, a page of
the newest visible listings is read in index order instead of sorting every visible row
(SQLite sorted all 96,000 at 100,000 listings for each browse page); with archived_from
last, counting the visible listings reads the index alone.

Revision ID: 0013listingbrowse
Revises: 0012processregister
Create Date: 2026-12-03 08:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013listingbrowse"
down_revision: str | None = "0012processregister"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["status", "visibility", "published_at", "id", "archived_from"]


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_listing_browse", "listing", COLUMNS)
    op.drop_index("ix_listing_status_visibility", table_name="listing")


def downgrade() -> None:
    """Revert this revision."""
    op.create_index("ix_listing_status_visibility", "listing", ["status", "visibility"])
    op.drop_index("ix_listing_browse", table_name="listing")
