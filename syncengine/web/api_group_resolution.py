"""JSON API: resolve a group until a version or rule, or reopen it (admin token).

``POST /api/v1/groups/{id}/resolve`` with ``{"until_version": "2.3.0"}``, or
``{"rule": [...Backtrace invariants...]}``, or ``{}`` (until seen again);
``POST /api/v1/groups/{id}/reopen``. Both are for admins: the admin token
(``Authorization: Bearer``) or an admin's session with its CSRF token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from syncengine.domain.resolve import InvalidRule
from syncengine.errors import NotFound
from syncengine.sync.changes import ChangeResult
from syncengine.web.api_groups import AdminApiDep, GroupId
from syncengine.web.csrf import require_csrf
from syncengine.web.problem_documents import problem, problem_responses
from syncengine.web.request_bodies import NO_BODY
from syncengine.web.services import ServicesDep

__all__ = ["router"]

router = APIRouter(tags=["groups"])


class ResolveBody(BaseModel):
    """The resolve request: at most one of ``until_version`` and ``rule``."""

    model_config = ConfigDict(extra="forbid")

    until_version: str | None = None
    rule: list[Any] | None = None


def _answer(result: ChangeResult, rule: list[dict[str, Any]] | None) -> JSONResponse:
    return JSONResponse(
        {
            "group_id": result.group_id,
            "state": result.after,
            "previous_state": result.before,
            "resolve_rule": rule,
            "pushed_to_jira": result.pushed,
        }
    )


@router.post(
    "/api/v1/groups/{group_id}/resolve",
    response_model=None,
    dependencies=[Depends(require_csrf)],
    responses=problem_responses(401, 403, 404, 422),
)
async def resolve(
    group_id: GroupId, body: ResolveBody, user: AdminApiDep, services: ServicesDep
) -> JSONResponse:
    """Resolve a group until a version or rule (or until seen again)."""
    try:
        result, rule = await services.groups.resolve(
            group_id, actor=user.name, until_version=body.until_version, rule_json=body.rule
        )
    except NotFound as exc:
        return problem(404, str(exc))
    except InvalidRule as exc:
        return problem(422, str(exc), problems=exc.problems)
    return _answer(result, rule.to_json())


@router.post(
    "/api/v1/groups/{group_id}/reopen",
    response_model=None,
    dependencies=[Depends(require_csrf)],
    responses=problem_responses(401, 403, 404),
    openapi_extra=NO_BODY,
)
async def reopen(group_id: GroupId, user: AdminApiDep, services: ServicesDep) -> JSONResponse:
    """Reopen a group (its resolved-until rule is cleared)."""
    try:
        result = await services.groups.reopen(group_id, actor=user.name)
    except NotFound as exc:
        return problem(404, str(exc))
    return _answer(result, None)
