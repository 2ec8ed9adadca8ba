"""The audit log: who changed what, when (switches, conflicts, operator actions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from syncengine.store.database import Database
from syncengine.store.tables import AuditLog

__all__ = ["AuditRepository"]


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

    async def for_group(self, group_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
        """A group's audit trail, newest first."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(AuditLog)
                .where(AuditLog.group_id == group_id)
                .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
                .limit(limit)
            )
            return [
                {"actor": r.actor, "action": r.action, "detail": r.detail, "at": r.created_at}
                for r in rows
            ]
