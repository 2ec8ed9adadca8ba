"""issue_links: the impact last written to the issue, and when its back-link was added

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issue_links") as batch:
        batch.add_column(sa.Column("impact_written", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("impact_written_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("backlinked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("issue_links") as batch:
        batch.drop_column("backlinked_at")
        batch.drop_column("impact_written_at")
        batch.drop_column("impact_written")
