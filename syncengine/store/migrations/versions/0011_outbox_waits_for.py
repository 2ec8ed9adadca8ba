"""outbox claim in O(batch): waits_for and partial indexes (ready items, unfinished per subject)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 11:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# Spelled out here (not imported) so the migration stays what it was when written.
UNFINISHED = "state IN ('pending', 'running', 'dead')"
READY = "state IN ('pending', 'running') AND waits_for IS NULL"


def _partial(name: str, columns: list[str], where: str) -> None:
    op.create_index(
        name,
        "outbox",
        columns,
        sqlite_where=sa.text(where),
        postgresql_where=sa.text(where),
    )


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("waits_for", sa.BigInteger().with_variant(sa.Integer(), "sqlite"))
        )
    _partial("ix_outbox_group_unfinished", ["group_id", "id"], UNFINISHED)
    _partial("ix_outbox_support_unfinished", ["support_request_id", "id"], UNFINISHED)
    # Each unfinished item waits behind the nearest earlier unfinished item of its subject.
    for subject in ("group_id", "support_request_id"):
        op.execute(
            f"UPDATE outbox SET waits_for = (SELECT max(e.id) FROM outbox AS e"  # noqa: S608 - constants
            f" WHERE e.{subject} = outbox.{subject} AND e.id < outbox.id AND e.{UNFINISHED})"
            f" WHERE {subject} IS NOT NULL AND {UNFINISHED} AND waits_for IS NULL"
        )
    _partial("ix_outbox_ready", ["next_attempt_at", "id"], READY)
    _partial("ix_outbox_waits_for", ["waits_for"], "waits_for IS NOT NULL")
    # An index led by the state would tempt SQLite (no statistics) away from the ready one
    # into sorting every due item; retention and depth get partial ones instead.
    op.drop_index("ix_outbox_state_next_attempt", table_name="outbox")
    _partial("ix_outbox_done_updated", ["updated_at"], "state = 'done'")
    _partial("ix_outbox_unfinished_state", ["state", "created_at"], UNFINISHED)


def downgrade() -> None:
    op.create_index("ix_outbox_state_next_attempt", "outbox", ["state", "next_attempt_at"])
    for name in (
        "ix_outbox_unfinished_state",
        "ix_outbox_done_updated",
        "ix_outbox_waits_for",
        "ix_outbox_ready",
        "ix_outbox_support_unfinished",
        "ix_outbox_group_unfinished",
    ):
        op.drop_index(name, table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("waits_for")
