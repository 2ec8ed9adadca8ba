"""JSON API of a project's Jira work: the outbox with webhook health, retry and drop.

``/api/v1/projects/{project}/outbox``; admins only (the admin token, or an admin
session whose POSTs carry ``X-CSRF-Token``). Retry and drop are audited.
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
from syncengine.web.auth import Forbidden, PrincipalDep, User
from syncengine.web.csrf import require_csrf
from syncengine.web.deps import ContainerDep
from syncengine.web.problems import problem, problem_responses

__all__ = ["router"]


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


class OutboxItemOut(BaseModel):
    """One piece of Jira work owed."""

    id: int
    kind: str = Field(examples=["ticket.create", "link.push", "support.create"])
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


async def _project(container: ContainerDep, project: str) -> ProjectRecord:
    record = await container.projects.get(project)
    if record is None:
        raise NotFound(f"there is no project {project!r}")
    return record


@router.get("", response_model=OutboxOut)
async def outbox(project: str, user: AdminApiDep, container: ContainerDep) -> OutboxOut:
    """Pending, retrying, running and dead items, and the last webhook and poll."""
    record = await _project(container, project)
    cursor = await container.cursors.get(record.id)
    return OutboxOut(
        items=[_item(w) for w in await container.outbox.list(project_id=record.id, limit=500)],
        last_webhook_at=cursor.last_webhook_at,
        last_poll_at=cursor.last_poll_at,
        watermark=cursor.watermark,
    )


@router.post(
    "/{item_id}/{action}",
    response_model=OutboxItemOut,
    dependencies=[Depends(require_csrf)],
    responses=problem_responses(409),
)
async def act(
    project: str,
    item_id: ItemId,
    action: Literal["retry", "drop"],
    user: AdminApiDep,
    container: ContainerDep,
) -> OutboxItemOut | JSONResponse:
    """``retry``: run a waiting or dead item now; ``drop``: give up on it (both audited)."""
    record = await _project(container, project)
    item = await container.outbox.get(item_id)
    if item is None or item.project_id != record.id:
        raise NotFound(f"project {project!r} has no outbox item {item_id}")
    run = container.outbox.requeue if action == "retry" else container.outbox.drop
    if not await run(item_id, actor=user.name, now=container.clock()):
        return problem(409, f"outbox item {item_id} is {item.state}: only waiting or dead work")
    if action == "retry":
        container.wake_worker()
    after = await container.outbox.get(item_id)
    assert after is not None
    return _item(after)
