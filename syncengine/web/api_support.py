"""JSON API for support requests: ``/api/v1/projects/{project}/support-requests…``.

Authenticated with the admin token (``Authorization: Bearer``) or a dashboard
session; a session's POST carries its CSRF token in ``X-CSRF-Token``. Portal
users see and file only their own requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from syncengine.store.support import AttachmentInfo, CommentRecord
from syncengine.support.service import SupportService
from syncengine.support.validation import RequestForm
from syncengine.web.auth import Forbidden, PrincipalDep
from syncengine.web.csrf import require_csrf
from syncengine.web.downloads import attachment_response
from syncengine.web.problem_documents import problem_responses
from syncengine.web.services import ServicesDep
from syncengine.web.support_pages import read_uploads
from syncengine.web.support_views import AttachmentId, RequestId, RequestView, load_visible, view

__all__ = ["router"]


ERRORS = problem_responses(400, 401, 403, 404)

router = APIRouter(prefix="/api/v1/projects/{project}", tags=["support"], responses=ERRORS)


class AttachmentOut(BaseModel):
    """A file attached to a support request."""

    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    in_jira: bool = Field(description="True once the file is attached to the Jira issue")
    download_url: str


class CommentOut(BaseModel):
    """A comment on the request's issue: written in Jira, or a reply from the portal."""

    id: str = Field(description="The Jira comment id (empty while a reply is not in Jira yet)")
    author: str
    body: str = Field(description="Plain text")
    created_at: datetime
    updated_at: datetime
    from_portal: bool = Field(False, description="A requester's reply from the portal")
    pending: bool = Field(False, description="A portal reply Jira does not have yet")


class ReplyIn(BaseModel):
    """A reply to the support team; it becomes a Jira comment saying who wrote it."""

    body: str = Field(min_length=1, max_length=32_000)


class SupportRequestOut(BaseModel):
    """A support request and where it stands in Jira."""

    id: int
    project: str
    reporter: str
    label: str
    summary: str
    description: str
    category: str
    api_product: str
    endpoint: str
    jira_issue_key: str | None = Field(description="Set once Jira created the issue")
    status: str = Field(description='The Jira status, or "not sent" before the issue exists')
    note: str = Field(description="Why the request is not in Jira yet, when it is not")
    last_error: str | None = Field(description="The last Jira error (admins only)")
    created_at: datetime
    updated_at: datetime


class SupportRequestDetail(SupportRequestOut):
    """A support request with its attachments and Jira comments."""

    attachments: list[AttachmentOut]
    comments: list[CommentOut]


class SupportRequestPage(BaseModel):
    """One page of support requests, newest activity first."""

    items: list[SupportRequestOut]
    total: int
    limit: int
    offset: int


def _service(services: ServicesDep) -> SupportService:
    return services.support


ServiceDep = Annotated[SupportService, Depends(_service)]


def _out(slug: str, item: RequestView) -> SupportRequestOut:
    r = item.record
    return SupportRequestOut(
        id=r.id,
        project=slug,
        reporter=r.reporter,
        label=r.label,
        summary=r.summary,
        description=r.description,
        category=r.category,
        api_product=r.api_product,
        endpoint=r.endpoint,
        jira_issue_key=r.jira_issue_key,
        status=item.status,
        note=item.note,
        last_error=item.error,
        created_at=r.created_at,
        updated_at=r.updated_at,
    )


def _comment_out(c: CommentRecord) -> CommentOut:
    return CommentOut(
        id=c.jira_comment_id,
        author=c.author,
        body=c.body,
        created_at=c.created_at,
        updated_at=c.updated_at,
        from_portal=c.from_portal,
        pending=c.pending,
    )


def _detail(
    slug: str, item: RequestView, attachments: list[AttachmentInfo], comments: list[CommentRecord]
) -> SupportRequestDetail:
    base = f"/api/v1/projects/{slug}/support-requests/{item.record.id}/attachments"
    return SupportRequestDetail(
        **_out(slug, item).model_dump(),
        attachments=[
            AttachmentOut(
                id=a.id,
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                sha256=a.sha256,
                in_jira=a.jira_attachment_id is not None,
                download_url=f"{base}/{a.id}",
            )
            for a in attachments
        ],
        comments=[_comment_out(c) for c in comments],
    )


@router.get("/support-requests", response_model=SupportRequestPage)
async def list_support_requests(
    *,
    project: str,
    user: PrincipalDep,
    service: ServiceDep,
    q: Annotated[str, Query(max_length=200, description="Jira key or part of the summary")] = "",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> SupportRequestPage:
    """The requests the caller may see (portal users: their own)."""
    record = await service.project(project)
    rows, total = await service.page(
        project_id=record.id,
        reporter=None if user.is_admin else user.name,
        search=q,
        limit=limit,
        offset=offset,
    )
    items = [_out(project, view(r, active=record.integration_active, user=user)) for r in rows]
    return SupportRequestPage(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/support-requests",
    response_model=SupportRequestDetail,
    status_code=201,
    dependencies=[Depends(require_csrf)],
)
async def create_support_request(
    *,
    project: str,
    user: PrincipalDep,
    service: ServiceDep,
    label: Annotated[str, Form(min_length=1, description="One of the project's labels")],
    summary: Annotated[str, Form(min_length=1, max_length=255)],
    description: Annotated[str, Form(min_length=1)],
    category: Annotated[str, Form()] = "",
    api_product: Annotated[str, Form()] = "",
    endpoint: Annotated[str, Form(description="A URL path such as /payments/v1")] = "",
    reporter: Annotated[
        str, Form(description="Who asks (admin token only; sessions file as themselves)")
    ] = "",
    attachments: Annotated[list[UploadFile] | None, File()] = None,
) -> SupportRequestDetail:
    """File a request (multipart form); it is stored at once and sent to Jira when Active."""
    if reporter and not user.is_admin:
        raise Forbidden("only admins may file on behalf of someone else")
    form = RequestForm(
        label=label,
        summary=summary,
        description=description,
        category=category,
        api_product=api_product,
        endpoint=endpoint,
    )
    files = await read_uploads(attachments or [], service.config(project).max_attachment_bytes)
    filed = await service.file(project, form, files, reporter=reporter or user.name)
    record = await service.project(project)
    return _detail(
        project,
        view(filed, active=record.integration_active, user=user),
        await service.attachments(filed.id),
        [],
    )


@router.get("/support-requests/{request_id}", response_model=SupportRequestDetail)
async def get_support_request(
    project: str, request_id: RequestId, user: PrincipalDep, service: ServiceDep
) -> SupportRequestDetail:
    """One request with its attachments and the comments from Jira."""
    record = await load_visible(service, project, request_id, user)
    project_record = await service.project(project)
    return _detail(
        project,
        view(record, active=project_record.integration_active, user=user),
        await service.attachments(record.id),
        await service.comments(record.id),
    )


@router.get(
    "/support-requests/{request_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file"}},
)
async def download_attachment(
    project: str,
    request_id: RequestId,
    attachment_id: AttachmentId,
    user: PrincipalDep,
    service: ServiceDep,
) -> Response:
    """An attachment's content, as a download."""
    record = await load_visible(service, project, request_id, user)
    return await attachment_response(service, record.id, attachment_id)


@router.post(
    "/support-requests/{request_id}/comments",
    response_model=CommentOut,
    status_code=201,
    dependencies=[Depends(require_csrf)],
)
async def reply_to_support_request(
    project: str, request_id: RequestId, reply: ReplyIn, user: PrincipalDep, service: ServiceDep
) -> CommentOut:
    """Reply on a request you may see: kept at once, then sent to Jira as a comment that
    names you (while the integration is Passive it waits)."""
    record = await load_visible(service, project, request_id, user)
    return _comment_out(await service.reply(record, reply.body, author=user.name))
