"""index for listing a project's groups by count (dashboard and API sort)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:35:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_error_groups_project_count", "error_groups", ["project_id", "count"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_error_groups_project_count", table_name="error_groups")
