"""Liveness and readiness."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from syncengine.bootstrap import Container, schema_is_current
from syncengine.errors import StoreError
from syncengine.store.stats import group_stats
from syncengine.web.deps import ContainerDep

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(container: ContainerDep) -> JSONResponse:
    """The database answers and its schema is current."""
    checks: dict[str, Any] = {}
    ready = True
    try:
        await container.db.ping()
        checks["database"] = "ok"
        current = await schema_is_current(container)
        checks["migrations"] = "current" if current else "behind: run `syncengine db upgrade`"
        ready = current
        checks["integrations"] = await _integrations(container)
    except StoreError as exc:
        checks["database"] = str(exc)
        ready = False
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


async def _integrations(container: Container) -> dict[str, Any]:
    result: dict[str, Any] = {}
    depth = await container.outbox.list(states=("dead",), limit=1000)
    dead_by_project: dict[int, int] = {}
    for item in depth:
        dead_by_project[item.project_id] = dead_by_project.get(item.project_id, 0) + 1
    metrics = container.metrics
    for project in await container.projects.all():
        cursor = await container.cursors.get(project.id)
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


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@router.get("/metrics", response_class=Response)
async def metrics(container: ContainerDep) -> Response:
    """Prometheus exposition of this process's metrics."""
    now = container.clock()
    metrics = container.metrics
    metrics.set_outbox(await container.outbox.depth(), now)
    metrics.groups.clear()
    metrics.regressions.clear()
    regressions: dict[str, int] = {}
    for row in await group_stats(container.db):
        metrics.groups.labels(row.state).inc(row.groups)
        regressions[row.project] = regressions.get(row.project, 0) + row.regressions
    for slug, total in regressions.items():
        metrics.regressions.labels(slug).set(total)
    for project in await container.projects.all():
        cursor = await container.cursors.get(project.id)
        heard = max((t for t in (cursor.last_poll_at, cursor.last_webhook_at) if t), default=None)
        if heard is not None:
            metrics.sync_lag.labels(project.slug).set((now - heard).total_seconds())
    return Response(container.metrics.render(), media_type="text/plain; version=0.0.4")
