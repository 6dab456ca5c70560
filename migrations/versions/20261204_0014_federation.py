"""federation: the instances this one follows; listings and reuses mirrored from them

Revision ID: 0014federation
Revises: 0013listingbrowse
Create Date: 2026-12-04 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from marktplatz.models.base import UTCDateTime

revision: str = "0014federation"
down_revision: str | None = "0013listingbrowse"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MIRRORED = ("listing", "reuse")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "federation_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("interval_minutes", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_run_at", UTCDateTime(), nullable=True),
        sa.Column("last_ok_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_skipped", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_source")),
        sa.UniqueConstraint("url", name=op.f("uq_federation_source_url")),
    )
    for table in MIRRORED:
        with op.batch_alter_table(table, reflect_kwargs={"resolve_fks": False}) as batch:
            batch.add_column(sa.Column("origin_id", sa.Integer(), nullable=True))
            batch.add_column(sa.Column("origin_remote_id", sa.Integer(), nullable=True))
            if table == "listing":
                batch.add_column(sa.Column("origin_url", sa.String(length=500), nullable=True))
            batch.create_foreign_key(op.f(f"fk_{table}_origin_id_federation_source"), "federation_source",
                                     ["origin_id"], ["id"])
            batch.create_unique_constraint(op.f(f"uq_{table}_origin_id_origin_remote_id"), ["origin_id", "origin_remote_id"])
            batch.create_index(op.f(f"ix_{table}_origin_id"), ["origin_id"])


def downgrade() -> None:
    """Revert this revision."""
    for table in MIRRORED:
        with op.batch_alter_table(table, reflect_kwargs={"resolve_fks": False}) as batch:
            batch.drop_index(op.f(f"ix_{table}_origin_id"))
            batch.drop_constraint(op.f(f"uq_{table}_origin_id_origin_remote_id"), type_="unique")
            batch.drop_constraint(op.f(f"fk_{table}_origin_id_federation_source"), type_="foreignkey")
            if table == "listing":
                batch.drop_column("origin_url")
            batch.drop_column("origin_remote_id")
            batch.drop_column("origin_id")
    op.drop_table("federation_source")
