"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from syncengine.bootstrap import Container, schema_is_current
from syncengine.errors import StoreError
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
    for project in await container.projects.all():
        result[project.slug] = {
            "status": "active" if project.integration_active else "passive",
            "dead_outbox_items": dead_by_project.get(project.id, 0),
        }
    return result


@router.get("/metrics", response_class=Response)
async def metrics(container: ContainerDep) -> Response:
    """Prometheus exposition of this process's metrics."""
    container.metrics.set_outbox(await container.outbox.depth(), container.clock())
    return Response(container.metrics.render(), media_type="text/plain; version=0.0.4")
