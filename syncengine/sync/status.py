"""The engine's status as ``/readyz`` and ``/metrics`` show it.

Readiness: the database answers, its schema is current, the background loops
this process runs (the outbox worker, each periodic job) are neither dead nor
stalled, and per project the integration's state (Active/Passive, dead outbox
items, the last good Jira call and the last error, the last webhook and poll).
Metrics: the gauges read from the store at each scrape (outbox depth and age,
groups by state, regressions, sync lag).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from syncengine.errors import StoreError
from syncengine.metrics import Metrics
from syncengine.store.cursors import CursorRepository
from syncengine.store.database import Database
from syncengine.store.migrate import schema_is_current
from syncengine.store.outbox import OutboxRepository
from syncengine.store.projects import ProjectRepository
from syncengine.store.stats import group_stats
from syncengine.sync.connection_checks import ConnectionChecks
from syncengine.sync.supervision import Supervision

__all__ = ["EngineStatus"]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class EngineStatus:
    """Answers readiness and refreshes the store-read gauges."""

    def __init__(
        self,
        *,
        db: Database,
        projects: ProjectRepository,
        outbox: OutboxRepository,
        cursors: CursorRepository,
        metrics: Metrics,
        clock: Callable[[], datetime],
        supervision: Supervision | None = None,
        checks: ConnectionChecks | None = None,
    ) -> None:
        self._checks = checks
        self._db = db
        self._projects = projects
        self._outbox = outbox
        self._cursors = cursors
        self.metrics = metrics
        self._clock = clock
        self._supervision = supervision or Supervision(clock=clock)

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the engine is ready, and each check's answer."""
        checks: dict[str, Any] = {}
        ready = True
        try:
            await self._db.ping()
            checks["database"] = "ok"
            current = await schema_is_current(self._db.url)
            checks["migrations"] = "current" if current else "behind: run `syncengine db upgrade`"
            ready = current
            checks["integrations"] = await self._integrations()
        except StoreError as exc:
            checks["database"] = str(exc)
            ready = False
        reports = self._supervision.report()
        if reports:
            checks["background"] = {name: r.details() for name, r in reports.items()}
            ready = ready and all(Supervision.healthy(r) for r in reports.values())
        else:
            checks["background"] = "not run in this process"
        return ready, checks

    async def _integrations(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        dead_by_project: dict[int, int] = {}
        for item in await self._outbox.list(states=("dead",), limit=1000):
            dead_by_project[item.project_id] = dead_by_project.get(item.project_id, 0) + 1
        metrics = self.metrics
        for project in await self._projects.all():
            cursor = await self._cursors.get(project.id)
            failed = metrics.last_jira_error.get(project.slug)
            result[project.slug] = {
                "status": "active" if project.integration_active else "passive",
                "dead_outbox_items": dead_by_project.get(project.id, 0),
                "last_successful_jira_call": _iso(metrics.last_jira_ok.get(project.slug)),
                "last_jira_error": {"at": _iso(failed[0]), "error": failed[1]} if failed else None,
                "webhook_last_seen": _iso(cursor.last_webhook_at),
                "last_poll": _iso(cursor.last_poll_at),
            }
        return result

    async def refresh_metrics(self) -> bytes:
        """Read the store-backed gauges afresh; the exposition text."""
        now = self._clock()
        metrics = self.metrics
        metrics.set_outbox(await self._outbox.depth(), now)
        metrics.clear(metrics.groups)
        metrics.clear(metrics.regressions)
        regressions: dict[str, int] = {}
        for row in await group_stats(self._db):
            metrics.groups.labels(row.state).inc(row.groups)
            regressions[row.project] = regressions.get(row.project, 0) + row.regressions
        for slug, total in regressions.items():
            metrics.regressions.labels(slug).set(total)
        if self._checks is not None:
            metrics.clear(metrics.jira_checks)
            for slug, results in (await self._checks.latest()).items():
                for result in results:
                    metrics.jira_checks.labels(slug, result.name).set(1 if result.ok else 0)
        for project in await self._projects.all():
            cursor = await self._cursors.get(project.id)
            heard = max(
                (t for t in (cursor.last_poll_at, cursor.last_webhook_at) if t), default=None
            )
            if heard is not None:
                metrics.sync_lag.labels(project.slug).set((now - heard).total_seconds())
        return metrics.render()
