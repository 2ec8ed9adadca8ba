"""What the support pages and the JSON API show of a request (shared by both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Path

from syncengine.errors import NotFound
from syncengine.store.support import SupportRequestRecord
from syncengine.support.service import SupportService
from syncengine.web.auth import User

__all__ = [
    "AttachmentId",
    "RequestId",
    "RequestView",
    "delivery_note",
    "load_visible",
    "status_text",
    "view",
]

# Ids are 63-bit in the store: anything larger is answered 422, never reaches the database.
_MAX_ID = 2**63 - 1
RequestId = Annotated[int, Path(ge=1, le=_MAX_ID, description="The support request's number")]
AttachmentId = Annotated[int, Path(ge=1, le=_MAX_ID)]


def status_text(record: SupportRequestRecord) -> str:
    """The status a user sees: Jira's once the issue exists, else "not sent"."""
    if record.jira_issue_key:
        return record.jira_status or "sent"
    return "not sent"


def delivery_note(record: SupportRequestRecord, *, active: bool, admin: bool) -> str:
    """Why a request has no Jira issue yet, in a few words."""
    if record.jira_issue_key:
        return ""
    if not active:
        return "Jira integration is passive: stored here, sent when it turns active"
    if record.last_error and admin:
        return f"Jira error: {record.last_error}"
    return "waiting to be sent to Jira"


@dataclass(frozen=True, kw_only=True, slots=True)
class RequestView:
    """A request with what the viewer may see of it."""

    record: SupportRequestRecord
    status: str
    note: str
    error: str | None


def view(record: SupportRequestRecord, *, active: bool, user: User) -> RequestView:
    """``record`` as ``user`` sees it (errors only for admins)."""
    return RequestView(
        record=record,
        status=status_text(record),
        note=delivery_note(record, active=active, admin=user.is_admin),
        error=record.last_error if user.is_admin else None,
    )


async def load_visible(
    service: SupportService, slug: str, request_id: int, user: User
) -> SupportRequestRecord:
    """The request if ``user`` may see it; NotFound otherwise (its existence stays hidden)."""
    project = await service.project(slug)
    record = await service.get(request_id)
    if (
        record is None
        or record.project_id != project.id
        or (not user.is_admin and record.reporter != user.name)
    ):
        raise NotFound(f"support request {request_id} not found in {slug}")
    return record
