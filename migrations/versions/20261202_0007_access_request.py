"""access_request: "Zugang beantragen" requests until their address is confirmed and decided

Revision ID: 0007access
Revises: 0006feedback
Create Date: 2026-12-02 13:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import marktplatz.models.base

revision: str = "0007access"
down_revision: str | None = "0006feedback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "access_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", marktplatz.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("confirmed_at", marktplatz.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", marktplatz.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user_account.id"],
                                name=op.f("fk_access_request_decided_by_id_user_account"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"],
                                name=op.f("fk_access_request_organisation_id_organisation"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"],
                                name=op.f("fk_access_request_user_id_user_account"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_request")),
    )
    op.create_index(op.f("ix_access_request_created_at"), "access_request", ["created_at"])
    op.create_index(op.f("ix_access_request_email"), "access_request", ["email"])
    op.create_index(op.f("ix_access_request_organisation_id"), "access_request", ["organisation_id"])
    op.create_index(op.f("ix_access_request_status"), "access_request", ["status"])


def downgrade() -> None:
    """Revert this revision."""
    for column in ("status", "organisation_id", "email", "created_at"):
        op.drop_index(op.f(f"ix_access_request_{column}"), table_name="access_request")
    op.drop_table("access_request")
