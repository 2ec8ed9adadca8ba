"""per-day, per-version occurrence counts of each group (its history)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 13:06:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_day_counts",
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["error_groups.id"],
            name=op.f("fk_group_day_counts_group_id_error_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "day", "version", name=op.f("pk_group_day_counts")),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("group_day_counts")
