"""error_groups.version_problem: why a resolved group's report versions cannot be ordered

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("error_groups") as batch:
        batch.add_column(sa.Column("version_problem", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("error_groups") as batch:
        batch.drop_column("version_problem")
