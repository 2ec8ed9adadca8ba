"""A group's history: exact per-day, per-version counts written by the fold, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from syncengine.store.history import load_history
from tests.integration.lifecycle_harness import Clock, crash, engine, ingest

DAY1 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


async def test_history_counts_reports_per_day_and_version(database_url: str) -> None:
    container, _ = await engine(database_url, Clock(), rules={"enabled": False})
    try:
        accepted = await ingest(
            container,
            [
                crash("h", version="2.2.0", when=DAY1),
                crash("h", version="2.3.0", when=DAY1 + timedelta(hours=2)),
                crash("h", version="2.3.0", when=DAY1 + timedelta(days=1)),
            ],
        )
        await ingest(container, [crash("h", version="2.3.0", when=DAY1 + timedelta(days=1))])
        history = await load_history(
            container.db, accepted[0].group_id, days=4, today=date(2026, 11, 23)
        )
        assert [(d.day.isoformat(), d.count, d.versions) for d in history] == [
            ("2026-11-20", 0, {}),
            ("2026-11-21", 2, {"2.2.0": 1, "2.3.0": 1}),
            ("2026-11-22", 2, {"2.3.0": 2}),
            ("2026-11-23", 0, {}),
        ]
        group = await container.groups.snapshot(accepted[0].group_id)
        assert sum(d.count for d in history) == group.count
    finally:
        await container.aclose()
