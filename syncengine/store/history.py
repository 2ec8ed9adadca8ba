"""A group's history: occurrences per day and version, kept exact by the ingest fold.

:class:`HistoryHook` runs inside each fold's transaction and adds the batch's
reports to ``group_day_counts`` (one pre-aggregated upsert per (group, day,
version), in key order so concurrent batches never deadlock).
:func:`load_history` reads the last days of one group for the group page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from syncengine.store.batch_fold import GroupFold
from syncengine.store.database import Database, SyncConnection
from syncengine.store.pg_copy import Stage, upsert_rows
from syncengine.store.tables import GroupDayCount

__all__ = ["DayCount", "HistoryHook", "HistoryRepository", "load_history"]

_EPOCH = date(1970, 1, 1)
_UPSERT = """
INSERT INTO group_day_counts (group_id, day, version, count) VALUES (?, ?, ?, ?)
ON CONFLICT (group_id, day, version) DO UPDATE SET
  count = group_day_counts.count + excluded.count"""
_STAGE = Stage(
    "fold_days",
    "group_id bigint, day bigint, version text, count bigint",
    ("int8", "int8", "text", "int8"),
    _UPSERT.replace("VALUES (?, ?, ?, ?)", "SELECT * FROM fold_days"),
)


@dataclass(frozen=True, kw_only=True, slots=True)
class DayCount:
    """One day of a group: how many reports, and how many per version ("" = none)."""

    day: date
    count: int
    versions: dict[str, int] = field(default_factory=dict)


class HistoryHook:
    """Fold hook: add each batch's reports per (group, day, version) to the history.

    The fold counts them while it folds (``GroupFold.days``), so this writes the
    pre-aggregated rows without another pass over the reports: one driver-level
    ``executemany`` on SQLite, one COPY and one upsert on PostgreSQL.
    """

    def __call__(self, conn: SyncConnection, groups: list[GroupFold], now: datetime) -> None:
        rows = [
            (group.group_id, day, version, n)
            for group in groups
            for (day, version), n in group.days.items()
        ]
        rows.sort()  # one lock order for concurrent batches
        upsert_rows(conn, _UPSERT, _STAGE, rows)


async def load_history(db: Database, group_id: int, *, days: int, today: date) -> list[DayCount]:
    """The group's last ``days`` days up to ``today``, oldest first, days without reports as 0."""
    first = today - timedelta(days=days - 1)
    query = select(GroupDayCount.day, GroupDayCount.version, GroupDayCount.count).where(
        GroupDayCount.group_id == group_id, GroupDayCount.day >= (first - _EPOCH).days
    )
    by_day: dict[int, dict[str, int]] = {}
    async with db.session() as session:
        for day, version, count in await session.execute(query):
            by_day.setdefault(int(day), {})[version] = int(count)
    history = []
    for offset in range(days):
        current = first + timedelta(days=offset)
        versions = by_day.get((current - _EPOCH).days, {})
        history.append(DayCount(day=current, count=sum(versions.values()), versions=versions))
    return history


class HistoryRepository:
    """Reads groups' histories (the group page and the group API)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def for_group(self, group_id: int, *, days: int, today: date) -> list[DayCount]:
        """As :func:`load_history`."""
        return await load_history(self._db, group_id, days=days, today=today)
