"""when each group's first and last version were seen

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 17:30:00

A group's first version is the version of its earliest report that carried one,
and its last version that of its latest. Without these times a fold could only
compare a batch's first and last seen (of any report, versioned or not) with the
group's: a batch holding an early report without a version and a later one with
version 2.0 made 2.0 the first version of a group first seen in 1.0. The times are
integer milliseconds since the epoch (8 bytes a row, as attribute counts keep
theirs). Existing groups take their first and last seen, which is what the old
comparison assumed.
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


def _epoch_ms(column: str) -> str:
    if op.get_bind().dialect.name == "postgresql":
        return f"CAST(floor(EXTRACT(EPOCH FROM {column}) * 1000) AS BIGINT)"
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds, then the milliseconds.
    return (
        f"(CAST(strftime('%s', {column}) AS INTEGER) * 1000"
        f" + CAST(substr({column}, 21, 3) AS INTEGER))"
    )


def upgrade() -> None:
    op.add_column("error_groups", sa.Column("first_version_ms", sa.BigInteger()))
    op.add_column("error_groups", sa.Column("last_version_ms", sa.BigInteger()))
    op.execute(
        f"UPDATE error_groups SET first_version_ms = {_epoch_ms('first_seen')}"  # noqa: S608
        " WHERE first_version IS NOT NULL"
    )
    op.execute(
        f"UPDATE error_groups SET last_version_ms = {_epoch_ms('last_seen')}"  # noqa: S608
        " WHERE last_version IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_column("error_groups", "last_version_ms")
    op.drop_column("error_groups", "first_version_ms")
