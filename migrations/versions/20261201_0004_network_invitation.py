"""network_invitation: membership by consent (a coordinator invites, an officer accepts)

Revision ID: 0004invitation
Revises: 0003lifecycle
Create Date: 2026-12-01 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marktplatz.models.base

revision: str = "0004invitation"
down_revision: str | None = "0003lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "network_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", marktplatz.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", marktplatz.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user_account.id"],
                                name=op.f("fk_network_invitation_decided_by_id_user_account"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["invited_by_id"], ["user_account.id"],
                                name=op.f("fk_network_invitation_invited_by_id_user_account"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["network_id"], ["network.id"],
                                name=op.f("fk_network_invitation_network_id_network"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"],
                                name=op.f("fk_network_invitation_organisation_id_organisation"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_invitation")),
    )
    with op.batch_alter_table("network_invitation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_network_invitation_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_network_invitation_organisation_id"), ["organisation_id"],
                              unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("network_invitation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_invitation_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_network_invitation_network_id"))
    op.drop_table("network_invitation")
