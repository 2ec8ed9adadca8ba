"""The audit log: who changed what, when (switches, conflicts, operator actions).

Entries are written inside the transaction of the change they record
(:meth:`AuditRepository.add`), so a change and its audit entry commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

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


def _entry(row: AuditLog) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        project_id=row.project_id,
        group_id=row.group_id,
        actor=row.actor,
        action=row.action,
        detail=dict(row.detail),
        created_at=row.created_at,
    )


class AuditRepository:
    """Appends to and reads the audit log."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @staticmethod
    def add(
        session: AsyncSession,
        *,
        actor: str,
        action: str,
        detail: dict[str, Any],
        now: datetime,
        project_id: int | None = None,
        group_id: int | None = None,
    ) -> None:
        """Append an entry inside the caller's transaction."""
        session.add(
            AuditLog(
                project_id=project_id,
                group_id=group_id,
                actor=actor,
                action=action,
                detail=detail,
                created_at=now,
            )
        )

    async def record(
        self,
        *,
        actor: str,
        action: str,
        detail: dict[str, Any],
        now: datetime,
        project_id: int | None = None,
        group_id: int | None = None,
    ) -> None:
        """Append an entry in a transaction of its own."""
        async with self._db.session() as session:
            self.add(
                session,
                actor=actor,
                action=action,
                detail=detail,
                now=now,
                project_id=project_id,
                group_id=group_id,
            )

    async def _newest(self, query: Select[AuditLog], limit: int) -> list[AuditEntry]:
        async with self._db.session() as session:
            rows = await session.scalars(
                query.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)
            )
            return [_entry(row) for row in rows]

    async def for_group(self, group_id: int, *, limit: int = 100) -> list[AuditEntry]:
        """A group's audit trail, newest first."""
        return await self._newest(select(AuditLog).where(AuditLog.group_id == group_id), limit)

    async def recent(
        self, *, project_id: int | None = None, action_prefix: str = "", limit: int = 20
    ) -> list[AuditEntry]:
        """The newest ``limit`` entries, optionally of one project and one kind of action."""
        query = select(AuditLog)
        if project_id is not None:
            query = query.where(AuditLog.project_id == project_id)
        if action_prefix:
            query = query.where(AuditLog.action.startswith(action_prefix, autoescape=True))
        return await self._newest(query, limit)
