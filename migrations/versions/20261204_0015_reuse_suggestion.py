"""reuse_suggestion: usedBy names of publiccode.yml, suggested to the named municipality

One row per name a listing's publiccode.yml lists under usedBy: matched to a municipality
or Kreis (suggested, dismissed, confirmed) or kept as written (unmatched). A table of its
own, not rows of reuse, so nothing that counts declared reuse can count a suggestion.

Revision ID: 0015reusesuggestion
Revises: 0014federation
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marktplatz.models.base import UTCDateTime

revision: str = "0015reusesuggestion"
down_revision: str | None = "0014federation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "reuse_suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('suggested', 'dismissed', 'confirmed', 'unmatched')",
                           name=op.f("ck_reuse_suggestion_suggestion_state")),
        sa.CheckConstraint("(organisation_id IS NULL) = (state = 'unmatched')",
                           name=op.f("ck_reuse_suggestion_suggestion_matched")),
        sa.ForeignKeyConstraint(["listing_id"], ["listing.id"],
                                name=op.f("fk_reuse_suggestion_listing_id_listing"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"],
                                name=op.f("fk_reuse_suggestion_organisation_id_organisation"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user_account.id"],
                                name=op.f("fk_reuse_suggestion_decided_by_id_user_account"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reuse_suggestion")),
        sa.UniqueConstraint("listing_id", "organisation_id", name=op.f("uq_reuse_suggestion_listing_id_organisation_id")),
    )
    op.create_index("ix_reuse_suggestion_listing_id", "reuse_suggestion", ["listing_id"])
    op.create_index("ix_reuse_suggestion_organisation_id", "reuse_suggestion", ["organisation_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_reuse_suggestion_organisation_id", table_name="reuse_suggestion")
    op.drop_index("ix_reuse_suggestion_listing_id", table_name="reuse_suggestion")
    op.drop_table("reuse_suggestion")
