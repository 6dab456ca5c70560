"""change_log: rows imported before txid 0 marked history get it (issue 18 item 3)

On PostgreSQL every change the application writes carries its transaction id; only rows
restored by `marktplatz import` before this fix have none, and the change feed
(`txid < horizon`) and the search follower (`txid >= xmin`) skipped them. They are history:
txid 0 (services/backup.py: history_txid). SQLite orders by id alone: nothing to do.

Revision ID: 0010historytxid
Revises: 0009directpublish
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010historytxid"
down_revision: str | None = "0009directpublish"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE change_log SET txid = 0 WHERE txid IS NULL")


def downgrade() -> None:
    """Revert this revision (nothing to undo: txid 0 is read as NULL was meant)."""
