"""A group's history: occurrences per day and version, kept exact by the ingest fold.

:class:`HistoryHook` runs inside each fold's transaction and adds the batch's
reports to ``group_day_counts`` (one pre-aggregated upsert per (group, day,
version), in key order so concurrent batches never deadlock).
:func:`load_history` reads the last days of one group for the group page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from syncengine.store.batch_fold import GroupFold
from syncengine.store.database import Database
from syncengine.store.tables import GroupDayCount

__all__ = ["DayCount", "HistoryHook", "HistoryRepository", "load_history"]

_EPOCH = date(1970, 1, 1)
_CHUNK = 500


@dataclass(frozen=True, kw_only=True, slots=True)
class DayCount:
    """One day of a group: how many reports, and how many per version ("" = none)."""

    day: date
    count: int
    versions: dict[str, int] = field(default_factory=dict)


def _day_number(moment: datetime) -> int:
    return (moment.astimezone(UTC).date() - _EPOCH).days


class HistoryHook:
    """Fold hook: count each batch's reports per (group, day, version)."""

    async def __call__(self, conn: AsyncConnection, groups: list[GroupFold], now: datetime) -> None:
        counts: Counter[tuple[int, int, str]] = Counter()
        for group in groups:
            for report in group.reports:
                version = (report.version or "")[:128]
                counts[(group.group_id, _day_number(report.timestamp), version)] += 1
        if not counts:
            return
        dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        rows = [
            {"group_id": gid, "day": day, "version": version, "count": n}
            for (gid, day, version), n in sorted(counts.items())
        ]
        for start in range(0, len(rows), _CHUNK):
            statement = dialect_insert(GroupDayCount).values(rows[start : start + _CHUNK])
            await conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["group_id", "day", "version"],
                    set_={"count": GroupDayCount.count + statement.excluded.count},
                )
            )


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
