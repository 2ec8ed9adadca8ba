"""the group list's (project, state, key) indexes end with the group id

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 00:30:00

A list page is ordered by its key, then the id (so pages never skip or repeat a
group). On PostgreSQL an index entry's ties are in table order, not id order: a
page after a cursor on a common count (every group seen 1,000 times) read and
sorted every group of that count in each (project, state) arm, ~120 ms at 1 M
groups. With the id in the index the page is a range of it. (SQLite orders ties
by rowid, which is the id, already; the indexes are the same on both backends.)
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_KEYS = ("last_seen", "count")


def upgrade() -> None:
    for key in _KEYS:
        name = f"ix_error_groups_project_state_{key}"
        op.drop_index(name, table_name="error_groups")
        op.create_index(name, "error_groups", ["project_id", "state", key, "id"])


def downgrade() -> None:
    for key in _KEYS:
        name = f"ix_error_groups_project_state_{key}"
        op.drop_index(name, table_name="error_groups")
        op.create_index(name, "error_groups", ["project_id", "state", key])
