"""The Jira request budget of each site, shared by every process (PostgreSQL)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jira_budgets",
        sa.Column("site", sa.String(length=512), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=False),
        sa.Column("near_limit_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("site", name=op.f("pk_jira_budgets")),
    )


def downgrade() -> None:
    op.drop_table("jira_budgets")
