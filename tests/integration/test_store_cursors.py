"""Sync cursors on every backend: the first writes of several processes at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from syncengine.store.cursors import CursorRepository
from syncengine.store.database import Database
from syncengine.store.projects import ProjectRepository

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


async def test_first_updates_at_once_make_one_cursor(db: Database) -> None:
    # Three processes taking their first webhooks at once: each writes the cursor that
    # none has made yet; none may fail (a 500 would make Jira send the delivery again).
    project = await ProjectRepository(db).ensure("shop", name="", integration_active=True, now=NOW)
    cursors = CursorRepository(db)
    stamps = [NOW + timedelta(seconds=n) for n in range(6)]
    await asyncio.gather(
        *(cursors.update(project.id, last_webhook_at=stamp) for stamp in stamps[:5]),
        cursors.update(project.id, last_poll_at=stamps[5], last_error="boom"),
    )
    cursor = await cursors.get(project.id)
    assert cursor.last_webhook_at in stamps[:5]
    assert (cursor.last_poll_at, cursor.last_error) == (stamps[5], "boom")
    await cursors.update(project.id, last_error=None)
    cursor = await cursors.get(project.id)
    assert cursor.last_error is None
    assert cursor.last_poll_at == stamps[5]
