"""The admin read API of error groups: a project's groups, newest first, and one group.

Both endpoints need the admin API token (``admin_token`` in the configuration)
as ``Authorization: Bearer <token>``. Errors are problem-details JSON (RFC 9457).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from syncengine.bootstrap import Container
from syncengine.domain.groups import GroupSnapshot, GroupState
from syncengine.errors import NotFound
from syncengine.store.projects import ProjectRecord
from syncengine.web.deps import ContainerDep
from syncengine.web.problems import problem, problem_responses

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{project}/groups", tags=["groups"])

MAX_LIMIT = 200
MAX_TOP = 100


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _authorize(request: Request, container: Container) -> JSONResponse | None:
    """None when the request carries the admin token, else the 401 to answer."""
    configured = container.settings.admin_token
    if configured is None:
        return problem(
            401,
            "the admin API is off: set admin_token (or admin_token_env / admin_token_file) "
            "in the configuration",
            headers=_CHALLENGE,
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return problem(
            401,
            "send the admin API token as 'Authorization: Bearer <token>'",
            headers=_CHALLENGE,
        )
    # Digests first: compare_digest is constant-time only for inputs of equal length.
    expected = hashlib.sha256(configured.get_secret_value().encode()).digest()
    if not hmac.compare_digest(hashlib.sha256(given.strip().encode()).digest(), expected):
        return problem(401, "the admin API token is not the configured one", headers=_CHALLENGE)
    return None


async def _project(
    request: Request, container: Container, slug: str
) -> ProjectRecord | JSONResponse:
    """The project, once the caller is known to be an admin; else the response to give."""
    if (denied := _authorize(request, container)) is not None:
        return denied
    record = await container.projects.get(slug)
    if record is None:
        return problem(404, f"there is no project {slug!r}")
    return record


def _int_param(request: Request, name: str, default: int, high: int) -> int | JSONResponse:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= high:
        return problem(400, f"{name} must be a whole number from 1 to {high}, not {raw!r}")
    return value


def _group_json(group: GroupSnapshot) -> dict[str, Any]:
    return {
        "id": group.id,
        "project": group.project,
        "fingerprint": group.fingerprint,
        "state": group.state.value,
        "classifier": group.classifier,
        "message": group.message,
        "count": group.count,
        "first_seen": group.first_seen.isoformat(),
        "last_seen": group.last_seen.isoformat(),
        "first_version": group.first_version,
        "last_version": group.last_version,
        "assignee": group.assignee,
        "regression_count": group.regression_count,
    }


@router.get("", responses=problem_responses(400, 401, 404))
async def list_groups(project: str, request: Request, container: ContainerDep) -> JSONResponse:
    """The project's groups, most recently seen first.

    Query: ``state`` (open, in_progress, resolved, muted), ``limit`` (1-200,
    default 50), ``cursor`` (the ``next_cursor`` of the previous page).
    """
    record = await _project(request, container, project)
    if isinstance(record, JSONResponse):
        return record
    limit = _int_param(request, "limit", 50, MAX_LIMIT)
    if isinstance(limit, JSONResponse):
        return limit
    state: GroupState | None = None
    if raw_state := request.query_params.get("state"):
        try:
            state = GroupState(raw_state)
        except ValueError:
            states = ", ".join(s.value for s in GroupState)
            return problem(400, f"state must be one of {states}, not {raw_state!r}")
    try:
        page = await container.groups.page(
            record.id, state=state, limit=limit, cursor=request.query_params.get("cursor")
        )
    except ValueError as exc:
        return problem(400, f"{exc}; start again without a cursor")
    return JSONResponse(
        {"groups": [_group_json(g) for g in page.groups], "next_cursor": page.next_cursor}
    )


@router.get("/{group_id}", responses=problem_responses(400, 401, 404))
async def get_group(
    project: str, group_id: str, request: Request, container: ContainerDep
) -> JSONResponse:
    """One group: counts, first/last seen and version, and the top values of every attribute.

    Query: ``top`` (1-100, default 10): how many values to show per attribute.
    """
    record = await _project(request, container, project)
    if isinstance(record, JSONResponse):
        return record
    top = _int_param(request, "top", 10, MAX_TOP)
    if isinstance(top, JSONResponse):
        return top
    missing = problem(404, f"project {project!r} has no group {group_id!r}")
    if not group_id.isdigit() or len(group_id) > 18:
        return missing
    try:
        group = await container.groups.snapshot(int(group_id), top=top)
    except NotFound:
        return missing
    if group.project != record.slug:
        return missing
    body = _group_json(group)
    body["attributes"] = {
        name: [
            {"value": v.value, "count": v.count, "last_seen": v.last_seen.isoformat()}
            for v in values
        ]
        for name, values in sorted(group.attributes.items())
    }
    return JSONResponse(body)
