"""Retention: deleting what is no longer needed (finished outbox work, old minute counts)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from syncengine.store.database import Database
from syncengine.store.outbox import State, state_in
from syncengine.store.tables import GroupMinuteCount, OutboxItem

__all__ = ["RetentionRepository"]


class RetentionRepository:
    """Deletes done outbox items and per-minute counts past their use."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def purge(self, *, done_before: datetime, minute_before: int) -> tuple[int, int]:
        """Delete done items last updated before ``done_before`` and per-minute counts of
        minutes before ``minute_before`` (epoch minutes), in one transaction.

        Dead items stay until an operator acts. Returns (outbox items, minute counts).
        """
        async with self._db.session() as session:
            outbox = await session.execute(
                delete(OutboxItem).where(
                    state_in(OutboxItem.state, (State.DONE,)), OutboxItem.updated_at < done_before
                )
            )
            counts = await session.execute(
                delete(GroupMinuteCount).where(GroupMinuteCount.minute < minute_before)
            )
            return (
                int(outbox.rowcount),  # type: ignore[attr-defined]
                int(counts.rowcount),  # type: ignore[attr-defined]
            )
