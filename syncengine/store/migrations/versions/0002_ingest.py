"""ingest: interned attribute names, compact attribute counts, slotted samples

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:45:00

``attribute_counts`` and ``samples`` are re-created rather than altered: until this
revision nothing wrote to them (the ingest path arrives with it), and the new
shapes (integer attribute ids, a ``WITHOUT ROWID`` count table on SQLite,
sample slots) cannot be reached by ALTER on SQLite anyway.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.drop_table("attribute_counts")
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_index("ix_samples_group_kind")
    op.drop_table("samples")

    op.create_table(
        "attribute_names",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attribute_names")),
        sa.UniqueConstraint("name", name=op.f("uq_attribute_names_name")),
    )
    op.create_table(
        "attribute_counts",
        sa.Column("group_id", _ID, nullable=False),
        sa.Column("attribute_id", _ID, nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attribute_id"],
            ["attribute_names.id"],
            name=op.f("fk_attribute_counts_attribute_id_attribute_names"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["error_groups.id"],
            name=op.f("fk_attribute_counts_group_id_error_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "group_id", "attribute_id", "value", name=op.f("pk_attribute_counts")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "samples",
        sa.Column("id", _ID, nullable=False),
        sa.Column("group_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["error_groups.id"],
            name=op.f("fk_samples_group_id_error_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_samples")),
        sa.UniqueConstraint("group_id", "kind", "slot", name=op.f("uq_samples_group_id_kind_slot")),
    )


def downgrade() -> None:
    op.drop_table("samples")
    op.drop_table("attribute_counts")
    op.drop_table("attribute_names")
    op.create_table(
        "attribute_counts",
        sa.Column("group_id", _ID, nullable=False),
        sa.Column("attribute", sa.String(length=128), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["error_groups.id"],
            name=op.f("fk_attribute_counts_group_id_error_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "attribute", "value", name=op.f("pk_attribute_counts")),
    )
    op.create_table(
        "samples",
        sa.Column("id", _ID, nullable=False),
        sa.Column("group_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["error_groups.id"],
            name=op.f("fk_samples_group_id_error_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_samples")),
    )
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.create_index(
            "ix_samples_group_kind", ["group_id", "kind", "received_at"], unique=False
        )
