"""Counts for metrics and readiness: groups by state and regressions, per project."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from syncengine.store.database import Database
from syncengine.store.tables import ErrorGroup, Project

__all__ = ["GroupStats", "group_stats"]


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupStats:
    """How many groups a project has in one state, and their regressions."""

    project: str
    state: str
    groups: int
    regressions: int


async def group_stats(db: Database) -> list[GroupStats]:
    """One row per (project, state) that has groups."""
    query = (
        select(
            Project.slug,
            ErrorGroup.state,
            func.count(),
            func.coalesce(func.sum(ErrorGroup.regression_count), 0),
        )
        .join(Project, Project.id == ErrorGroup.project_id)
        .group_by(Project.slug, ErrorGroup.state)
    )
    async with db.session() as session:
        rows = await session.execute(query)
        return [
            GroupStats(project=slug, state=state, groups=int(n), regressions=int(r))
            for slug, state, n, r in rows
        ]
