"""when each group's first and last version were seen

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:30:00

A group's first version is the version of its earliest report that carried one,
and its last version that of its latest. Without these times a fold could only
compare a batch's first and last seen (of any report, versioned or not) with the
group's: a batch holding an early report without a version and a later one with
version 2.0 made 2.0 the first version of a group first seen in 1.0. Existing
groups take their first and last seen, which is what the old comparison assumed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both backends (SQLite has ADD and DROP COLUMN): a batch-mode
# rebuild of the table would copy every group and drop its search triggers (0016).


def upgrade() -> None:
    op.add_column("error_groups", sa.Column("first_version_at", sa.DateTime(timezone=True)))
    op.add_column("error_groups", sa.Column("last_version_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE error_groups SET first_version_at = first_seen WHERE first_version IS NOT NULL"
    )
    op.execute("UPDATE error_groups SET last_version_at = last_seen WHERE last_version IS NOT NULL")


def downgrade() -> None:
    op.drop_column("error_groups", "last_version_at")
    op.drop_column("error_groups", "first_version_at")
