"""Per-project sync cursors (JQL watermark, last poll, last webhook) and webhook deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from syncengine.errors import StoreConflict
from syncengine.store.database import Database, conflict_insert
from syncengine.store.tables import SyncCursor, WebhookDelivery

__all__ = ["CursorRecord", "CursorRepository"]


@dataclass(frozen=True, kw_only=True, slots=True)
class CursorRecord:
    """Where a project's pull stands."""

    project_id: int
    watermark: datetime | None = None
    last_poll_at: datetime | None = None
    last_webhook_at: datetime | None = None
    last_error: str | None = None


class CursorRepository:
    """Reads and writes sync cursors and remembers handled webhook deliveries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, project_id: int) -> CursorRecord:
        """The project's cursor (empty before the first pull)."""
        async with self._db.session() as session:
            row = await session.get(SyncCursor, project_id)
            if row is None:
                return CursorRecord(project_id=project_id)
            return CursorRecord(
                project_id=project_id,
                watermark=row.watermark,
                last_poll_at=row.last_poll_at,
                last_webhook_at=row.last_webhook_at,
                last_error=row.last_error,
            )

    async def update(self, project_id: int, **values: datetime | str | None) -> None:
        """Set some of watermark, last_poll_at, last_webhook_at, last_error.

        One upsert: processes taking their first webhooks at once each make the row
        none has made yet, and none fails for it.
        """
        async with self._db.connect() as conn:
            statement = conflict_insert(conn, SyncCursor).values(project_id=project_id, **values)
            await conn.execute(
                statement.on_conflict_do_update(index_elements=["project_id"], set_=values)
                if values
                else statement.on_conflict_do_nothing(index_elements=["project_id"])
            )

    async def first_delivery(self, project_id: int, delivery_id: str, *, now: datetime) -> bool:
        """Remember a delivery; False when it was handled before (Jira redelivers)."""
        try:
            async with self._db.session() as session:
                session.add(
                    WebhookDelivery(project_id=project_id, delivery_id=delivery_id, received_at=now)
                )
        except StoreConflict:
            return False
        return True

    async def forget_delivery(self, project_id: int, delivery_id: str) -> None:
        """Undo :meth:`first_delivery` when handling failed, so Jira's retry is handled."""
        async with self._db.session() as session:
            await session.execute(
                delete(WebhookDelivery).where(
                    WebhookDelivery.project_id == project_id,
                    WebhookDelivery.delivery_id == delivery_id,
                )
            )

    async def prune_deliveries(self, *, before: datetime) -> int:
        """Drop delivery ids older than Jira's retry window."""
        async with self._db.session() as session:
            result = await session.execute(
                delete(WebhookDelivery).where(WebhookDelivery.received_at < before)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def seen(self, project_id: int) -> list[str]:
        """Delivery ids remembered for a project (tests and diagnostics)."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(WebhookDelivery.delivery_id).where(WebhookDelivery.project_id == project_id)
            )
            return list(rows)
