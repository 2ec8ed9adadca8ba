"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from syncengine.bootstrap import schema_is_current
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
    except StoreError as exc:
        checks["database"] = str(exc)
        ready = False
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
