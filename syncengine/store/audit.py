"""Reading the audit log (entries are written by the repositories that make the changes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from syncengine.store.database import Database
from syncengine.store.tables import AuditLog

__all__ = ["AuditEntry", "AuditRepository"]


@dataclass(frozen=True, kw_only=True, slots=True)
class AuditEntry:
    """Who did what, when."""

    id: int
    project_id: int | None
    group_id: int | None
    actor: str
    action: str
    detail: dict[str, Any]
    created_at: datetime


class AuditRepository:
    """Recent audit entries, newest first."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def recent(
        self, *, project_id: int | None = None, action_prefix: str = "", limit: int = 20
    ) -> list[AuditEntry]:
        """The newest ``limit`` entries, optionally of one project and one kind of action."""
        query = select(AuditLog)
        if project_id is not None:
            query = query.where(AuditLog.project_id == project_id)
        if action_prefix:
            query = query.where(AuditLog.action.startswith(action_prefix, autoescape=True))
        async with self._db.session() as session:
            rows = await session.scalars(
                query.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)
            )
            return [
                AuditEntry(
                    id=row.id,
                    project_id=row.project_id,
                    group_id=row.group_id,
                    actor=row.actor,
                    action=row.action,
                    detail=dict(row.detail),
                    created_at=row.created_at,
                )
                for row in rows
            ]
