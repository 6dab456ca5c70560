"""process_register, process_entry: each municipality's process register (issue 19)

A register per municipality with its visibility (private, network members, public), and
one row per process: OZG-Leistung/LeiKa key, case numbers with their year, channel,
solution in use, own statute, priority and notes, keyed by the municipality's own key.

Revision ID: 0012processregister
Revises: 0011deliveryduration
Create Date: 2026-12-02 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marktplatz.models.base import UTCDateTime

revision: str = "0012processregister"
down_revision: str | None = "0011deliveryduration"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "process_register",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("visibility", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("visibility IN ('private', 'network', 'public')",
                           name=op.f("ck_process_register_register_visibility")),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"],
                                name=op.f("fk_process_register_organisation_id_organisation"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_register")),
        sa.UniqueConstraint("organisation_id", name=op.f("uq_process_register_organisation_id")),
    )
    op.create_table(
        "process_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register_id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("ozg_id", sa.Integer(), nullable=False),
        sa.Column("leika_key", sa.String(length=14), nullable=True),
        sa.Column("unit", sa.String(length=200), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=True),
        sa.Column("cases_year", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("solution_listing_id", sa.Integer(), nullable=True),
        sa.Column("solution_text", sa.String(length=300), nullable=False),
        sa.Column("own_statute", sa.Boolean(), nullable=False),
        sa.Column("statute_ref", sa.String(length=300), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("cases IS NULL OR cases >= 0", name=op.f("ck_process_entry_process_cases_nonnegative")),
        sa.CheckConstraint("priority IS NULL OR priority BETWEEN 1 AND 5",
                           name=op.f("ck_process_entry_process_priority_range")),
        sa.CheckConstraint("channel IN ('analog', 'pdf', 'online_form', 'end_to_end', 'appointment')",
                           name=op.f("ck_process_entry_process_channel")),
        sa.ForeignKeyConstraint(["register_id"], ["process_register.id"],
                                name=op.f("fk_process_entry_register_id_process_register"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["ozg_id"], ["ozg_leistung.id"], name=op.f("fk_process_entry_ozg_id_ozg_leistung")),
        sa.ForeignKeyConstraint(["leika_key"], ["leika_leistung.key"],
                                name=op.f("fk_process_entry_leika_key_leika_leistung")),
        sa.ForeignKeyConstraint(["solution_listing_id"], ["listing.id"],
                                name=op.f("fk_process_entry_solution_listing_id_listing"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_entry")),
        sa.UniqueConstraint("register_id", "process_key", name="uq_process_entry_key"),
    )
    op.create_index(op.f("ix_process_entry_register_id"), "process_entry", ["register_id"])
    op.create_index(op.f("ix_process_entry_ozg_id"), "process_entry", ["ozg_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_process_entry_ozg_id"), table_name="process_entry")
    op.drop_index(op.f("ix_process_entry_register_id"), table_name="process_entry")
    op.drop_table("process_entry")
    op.drop_table("process_register")
