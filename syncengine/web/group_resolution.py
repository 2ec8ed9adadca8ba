"""JSON API: resolve a group until a version or rule, or reopen it (admin token).

``POST /api/v1/groups/{id}/resolve`` with ``{"until_version": "2.3.0"}``, or
``{"rule": [...Backtrace invariants...]}``, or ``{}`` (until seen again);
``POST /api/v1/groups/{id}/reopen``. Both need ``Authorization: Bearer <admin_token>``.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from syncengine.bootstrap import Container
from syncengine.domain.resolve import InvalidRule
from syncengine.errors import NotFound
from syncengine.sync.changes import ChangeResult
from syncengine.web.deps import ContainerDep
from syncengine.web.problems import problem, problem_responses

__all__ = ["router"]

router = APIRouter(tags=["groups"])

# Ids the store can hold (BIGINT): larger ones are refused as invalid, not looked up.
GroupId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class ResolveBody(BaseModel):
    """The resolve request: at most one of ``until_version`` and ``rule``."""

    model_config = ConfigDict(extra="forbid")

    until_version: str | None = None
    rule: list[Any] | None = None


def _refused(container: Container, request: Request) -> JSONResponse | None:
    token = container.settings.admin_token
    if token is None:
        return problem(403, "the admin API is off: set admin_token (or admin_token_env)")
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.get_secret_value().encode()
    ):
        return problem(401, "send Authorization: Bearer <admin_token>")
    return None


def _actor(request: Request) -> str:
    client = request.client.host if request.client is not None else "unknown"
    return f"api:{client}"


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
    responses=problem_responses(401, 403, 404, 422, 503),
)
async def resolve(
    group_id: GroupId, body: ResolveBody, request: Request, container: ContainerDep
) -> JSONResponse:
    """Resolve a group until a version or rule (or until seen again)."""
    refusal = _refused(container, request)
    if refusal is not None or container.sync is None:
        return refusal or problem(503, "sync is not wired")
    try:
        result, rule = await container.sync.manual.resolve(
            group_id, actor=_actor(request), until_version=body.until_version, rule_json=body.rule
        )
    except NotFound as exc:
        return problem(404, str(exc))
    except InvalidRule as exc:
        return problem(422, str(exc), problems=exc.problems)
    return _answer(result, rule.to_json())


@router.post(
    "/api/v1/groups/{group_id}/reopen",
    response_model=None,
    responses=problem_responses(401, 403, 404, 503),
)
async def reopen(group_id: GroupId, request: Request, container: ContainerDep) -> JSONResponse:
    """Reopen a group (its resolved-until rule is cleared)."""
    refusal = _refused(container, request)
    if refusal is not None or container.sync is None:
        return refusal or problem(503, "sync is not wired")
    try:
        result = await container.sync.manual.reopen(group_id, actor=_actor(request))
    except NotFound as exc:
        return problem(404, str(exc))
    return _answer(result, None)
