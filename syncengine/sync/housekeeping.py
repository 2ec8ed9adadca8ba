"""Periodic housekeeping: retention of finished work, and re-validation of create screens.

- Done outbox items older than ``retention_days`` are deleted (dead ones stay
  until an operator acts); webhook delivery ids are kept for a day (Jira
  redelivers for about 30 minutes); per-minute counts past every rule window
  are dropped. Samples need no job: each group keeps a fixed ring of them.
- Each project's create screen is read again and the ticket fields checked
  against it: Jira admins change screens, and a required field added there would
  otherwise fail every create until someone noticed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from syncengine.store.cursors import CursorRepository
from syncengine.store.retention import RetentionRepository
from syncengine.sync.tickets import TicketService

__all__ = ["Housekeeping"]

log = logging.getLogger(__name__)


class Housekeeping:
    """The retention and re-validation jobs."""

    def __init__(
        self,
        *,
        retention: RetentionRepository,
        cursors: CursorRepository,
        tickets: TicketService,
        clock: Callable[[], datetime],
        retention_days: int,
        longest_window_minutes: int,
        projects: list[str],
        is_active: Callable[[str], Awaitable[bool]],
    ) -> None:
        self._purge = retention
        self._cursors = cursors
        self._tickets = tickets
        self._clock = clock
        self._retention = timedelta(days=retention_days)
        self._window = timedelta(minutes=longest_window_minutes)
        self._projects = projects
        self._is_active = is_active
        self.problems: dict[str, list[str]] = {}

    async def retention(self) -> dict[str, int]:
        """Delete what is no longer needed; how many rows of each kind went."""
        now = self._clock()
        outbox, counts = await self._purge.purge(
            done_before=now - self._retention,
            minute_before=int((now - self._window).timestamp() // 60),
        )
        deliveries = await self._cursors.prune_deliveries(before=now - timedelta(days=1))
        removed = {"outbox": outbox, "minute_counts": counts, "webhook_deliveries": deliveries}
        log.info("retention removed %s", removed)
        return removed

    async def revalidate(self) -> None:
        """Check every Active project's ticket fields against its current create screen."""
        for slug in self._projects:
            if not await self._is_active(slug):
                continue  # Passive means nothing calls Jira
            problems = await self._tickets.revalidate(slug)
            if problems and problems != self.problems.get(slug):
                log.warning(
                    "project %s: the Jira create screen changed and the ticket "
                    "configuration no longer fits: %s (run `syncengine doctor`)",
                    slug,
                    "; ".join(problems),
                )
            self.problems[slug] = problems
