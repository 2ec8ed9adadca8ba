"""Liveness, readiness and the Prometheus exposition, and who may read them.

``/healthz`` is for anyone. ``/readyz`` answers anyone with its status (200 or
503) and each check's state; the details (Jira error texts, database errors,
times) only with ``Authorization: Bearer`` of ``web.status_token`` or the admin
token. ``/metrics`` needs one of those tokens when ``web.metrics = "token"``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from syncengine.web.auth import ApiUnauthorized, bearer_token, token_matches
from syncengine.web.services import ServicesDep, WebConfig

__all__ = ["public_checks", "router"]

router = APIRouter(tags=["health"])

_HOW = "send 'Authorization: Bearer <token>' with web.status_token or the admin token"


def _may_see_details(request: Request, config: WebConfig) -> bool:
    token = bearer_token(request)
    return token is not None and (
        token_matches(token, config.status_token) or token_matches(token, config.admin_token)
    )


def _jira_state(integration: dict[str, Any]) -> str:
    ok, failed = integration.get("last_successful_jira_call"), integration.get("last_jira_error")
    failed_at = failed.get("at") if isinstance(failed, dict) else None
    if failed_at and (not ok or failed_at >= ok):
        return "failing"
    return "ok" if ok else "unknown"


def public_checks(checks: dict[str, Any]) -> dict[str, Any]:
    """What an anonymous caller sees of ``checks``: states, never an error's text.

    A whitelist: a check added later stays hidden until it is listed here.
    """
    shown: dict[str, Any] = {"database": "ok" if checks.get("database") == "ok" else "failing"}
    if "migrations" in checks:
        shown["migrations"] = "current" if checks["migrations"] == "current" else "behind"
    background = checks.get("background")
    if isinstance(background, dict):
        shown["background"] = {
            name: report.get("state")
            for name, report in background.items()
            if isinstance(report, dict)
        }
    elif background is not None:
        shown["background"] = "off"
    integrations = checks.get("integrations")
    if isinstance(integrations, dict):
        shown["integrations"] = {
            slug: {"status": state.get("status"), "jira": _jira_state(state)}
            for slug, state in integrations.items()
            if isinstance(state, dict)
        }
    return shown


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, services: ServicesDep) -> JSONResponse:
    """The database answers, its schema is current and no background loop is dead or
    stalled (details with a status token)."""
    ready, checks = await services.status.readiness()
    body: dict[str, Any] = {"status": "ready" if ready else "not ready"}
    if _may_see_details(request, services.config):
        body["checks"] = checks
    else:
        body["checks"] = public_checks(checks)
        body["details"] = f"for every check's details, {_HOW}"
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Prometheus exposition of this process's metrics."""
    config = services.config
    if config.metrics == "token" and not _may_see_details(request, config):
        raise ApiUnauthorized(f"/metrics needs a token (web.metrics = 'token'): {_HOW}")
    text = await services.status.refresh_metrics()
    return Response(text, media_type="text/plain; version=0.0.4")
