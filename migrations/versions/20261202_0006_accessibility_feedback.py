"""accessibility_feedback: messages from the feedback form of the accessibility statement

Revision ID: 0006feedback
Revises: 0005throttle
Create Date: 2026-12-02 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marktplatz.models.base

revision: str = "0006feedback"
down_revision: str | None = "0005throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "accessibility_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", marktplatz.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("page", sa.String(length=500), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("emailed_at", marktplatz.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accessibility_feedback")),
    )
    op.create_index(op.f("ix_accessibility_feedback_created_at"), "accessibility_feedback", ["created_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_accessibility_feedback_created_at"), table_name="accessibility_feedback")
    op.drop_table("accessibility_feedback")
