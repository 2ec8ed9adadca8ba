"""JSON API of a project's Jira integration: the Active/Passive switch, and the outbox
with webhook health, retry and drop.

``/api/v1/projects/{project}/integration`` and ``…/outbox``; admins only (the admin
token, or an admin session whose POSTs carry ``X-CSRF-Token``). Switches, retries
and drops are audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from syncengine.errors import NotFound
from syncengine.store.outbox import OutboxWork
from syncengine.store.projects import ProjectRecord
from syncengine.store.work_kinds import LINK_PUSH, SUPPORT_CREATE, TICKET_CREATE
from syncengine.sync.integration_admin import IntegrationAdmin
from syncengine.web.auth import Forbidden, PrincipalDep, User
from syncengine.web.csrf import require_csrf
from syncengine.web.problem_documents import problem, problem_responses
from syncengine.web.request_bodies import NO_BODY
from syncengine.web.services import ServicesDep

__all__ = ["router", "switch_router"]


def _admin(user: PrincipalDep) -> User:
    if not user.is_admin:
        raise Forbidden("the outbox is for admins")
    return user


AdminApiDep = Annotated[User, Depends(_admin)]
ItemId = Annotated[int, Path(ge=1, le=2**63 - 1)]

router = APIRouter(
    prefix="/api/v1/projects/{project}/outbox",
    tags=["integration"],
    responses=problem_responses(401, 403, 404),
)
# The switch keeps the support API's answers (it was first served beside it).
switch_router = APIRouter(
    prefix="/api/v1/projects/{project}",
    tags=["integration"],
    responses=problem_responses(400, 401, 403, 404),
)


class IntegrationState(BaseModel):
    """A project's Jira integration switch."""

    project: str
    active: bool


class IntegrationChange(BaseModel):
    """The new state of the switch."""

    active: bool


class OutboxItemOut(BaseModel):
    """One piece of Jira work owed."""

    id: int
    kind: str = Field(examples=[TICKET_CREATE, LINK_PUSH, SUPPORT_CREATE])
    state: Literal["pending", "retrying", "running", "dead", "done"] = Field(
        description="done only in the answer to a drop"
    )
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    group_id: int | None
    support_request_id: int | None
    created_at: datetime


class OutboxOut(BaseModel):
    """The project's unfinished Jira work (oldest first) and how Jira's news reaches us."""

    items: list[OutboxItemOut]
    last_webhook_at: datetime | None
    last_poll_at: datetime | None
    watermark: datetime | None = Field(description="Jira changes are read up to here")


def _item(work: OutboxWork) -> OutboxItemOut:
    state = "retrying" if work.state == "pending" and work.attempts else work.state
    return OutboxItemOut(
        id=work.id,
        kind=work.kind,
        state=state,
        attempts=work.attempts,
        next_attempt_at=work.next_attempt_at,
        last_error=work.last_error,
        group_id=work.group_id,
        support_request_id=work.support_request_id,
        created_at=work.created_at,
    )


async def _project(admin: IntegrationAdmin, project: str) -> ProjectRecord:
    record = await admin.project(project)
    if record is None:
        raise NotFound(f"there is no project {project!r}")
    return record


@router.get("", response_model=OutboxOut)
async def outbox(project: str, user: AdminApiDep, services: ServicesDep) -> OutboxOut:
    """Pending, retrying, running and dead items, and the last webhook and poll."""
    admin = services.integration
    record = await _project(admin, project)
    cursor = await admin.cursor(record.id)
    return OutboxOut(
        items=[_item(w) for w in await admin.outbox(record.id, limit=500)],
        last_webhook_at=cursor.last_webhook_at,
        last_poll_at=cursor.last_poll_at,
        watermark=cursor.watermark,
    )


@router.post(
    "/{item_id}/{action}",
    response_model=OutboxItemOut,
    dependencies=[Depends(require_csrf)],
    responses=problem_responses(409),
    openapi_extra=NO_BODY,
)
async def act(
    project: str,
    item_id: ItemId,
    action: Literal["retry", "drop"],
    user: AdminApiDep,
    services: ServicesDep,
) -> OutboxItemOut | JSONResponse:
    """``retry``: run a waiting or dead item now; ``drop``: give up on it (both audited)."""
    admin = services.integration
    record = await _project(admin, project)
    done, item = await admin.act(record, item_id, action, actor=user.name)
    if not done:
        return problem(409, f"outbox item {item_id} is {item.state}: only waiting or dead work")
    return _item(item)


def _switch_admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("admins only")


@switch_router.get("/integration", response_model=IntegrationState)
async def get_integration(
    project: str, user: PrincipalDep, services: ServicesDep
) -> IntegrationState:
    """Whether the project's Jira integration is Active (admins)."""
    _switch_admin(user)
    record = await services.integration.project(project)
    if record is None:
        raise NotFound(f"project {project!r} does not exist")
    return IntegrationState(project=record.slug, active=record.integration_active)


@switch_router.put(
    "/integration", response_model=IntegrationState, dependencies=[Depends(require_csrf)]
)
async def set_integration(
    project: str, change: IntegrationChange, user: PrincipalDep, services: ServicesDep
) -> IntegrationState:
    """Switch the integration Active or Passive (admins; written to the audit log)."""
    _switch_admin(user)
    record = await services.integration.set_active(project, change.active, actor=user.name)
    if record is None:
        raise NotFound(f"project {project!r} does not exist")
    return IntegrationState(project=record.slug, active=record.integration_active)
