"""The support-request pages: list with search, the New form, the detail page, downloads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncengine.errors import InvalidInput
from syncengine.support.service import SupportService, UploadedFile
from syncengine.support.validation import RequestForm
from syncengine.web.auth import UserDep
from syncengine.web.csrf import require_csrf
from syncengine.web.downloads import attachment_response
from syncengine.web.page_templates import flash, render
from syncengine.web.services import ServicesDep
from syncengine.web.support_views import AttachmentId, RequestId, load_visible, view

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


def _service(services: ServicesDep) -> SupportService:
    return services.support


ServiceDep = Annotated[SupportService, Depends(_service)]


@router.get("/support", response_class=HTMLResponse)
async def choose_project(request: Request, user: UserDep, service: ServiceDep) -> Response:
    """One support project: straight to its list; several: let the user choose."""
    slugs = service.enabled_slugs()
    if len(slugs) == 1:
        return RedirectResponse(f"/projects/{slugs[0]}/support", status_code=303)
    projects = [(s, service.config(s).name or s) for s in slugs]
    return render(request, "web/support/projects.html", {"projects": projects})


@router.get("/projects/{project}/support", response_class=HTMLResponse)
async def list_requests(
    *,
    request: Request,
    project: str,
    user: UserDep,
    service: ServiceDep,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """The requests the user may see, newest activity first, searchable by key or summary."""
    record = await service.project(project)
    rows, total = await service.page(
        project_id=record.id,
        reporter=None if user.is_admin else user.name,
        search=q,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    views = [view(r, active=record.integration_active, user=user) for r in rows]
    return render(
        request,
        "web/support/list.html",
        {
            "project": record,
            "requests": views,
            "q": q,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "total": total,
            "several_projects": len(service.enabled_slugs()) > 1,
        },
    )


def _form_context(service: SupportService, project: str) -> dict[str, object]:
    config = service.config(project)
    return {
        "labels": config.labels,
        "categories": config.categories,
        "api_products": config.api_products,
        "max_attachment_bytes": config.max_attachment_bytes,
        "attachment_types": config.attachment_types,
    }


@router.get("/projects/{project}/support/new", response_class=HTMLResponse)
async def new_request(
    request: Request, project: str, user: UserDep, service: ServiceDep
) -> Response:
    """The New form."""
    record = await service.project(project)
    context = {"project": record, "form": RequestForm(), "problems": {}}
    return render(request, "web/support/new.html", {**context, **_form_context(service, project)})


@router.post(
    "/projects/{project}/support",
    dependencies=[Depends(require_csrf)],
    response_class=HTMLResponse,
)
async def create_request(
    *,
    request: Request,
    project: str,
    user: UserDep,
    service: ServiceDep,
    label: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    category: Annotated[str, Form()] = "",
    api_product: Annotated[str, Form()] = "",
    endpoint: Annotated[str, Form()] = "",
    attachments: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """File the request; on a problem, show the form again with each field's message."""
    form = RequestForm(
        label=label,
        summary=summary,
        description=description,
        category=category,
        api_product=api_product,
        endpoint=endpoint,
    )
    files = await read_uploads(attachments or [], service.config(project).max_attachment_bytes)
    try:
        filed = await service.file(project, form, files, reporter=user.name)
    except InvalidInput as exc:
        record = await service.project(project)
        context = {"project": record, "form": form, "problems": exc.problems}
        return render(
            request,
            "web/support/new.html",
            {**context, **_form_context(service, project)},
            status_code=400,
        )
    flash(request, f"Support request #{filed.id} was filed.", "success")
    return RedirectResponse(f"/projects/{project}/support/{filed.id}", status_code=303)


async def read_uploads(uploads: list[UploadFile], max_bytes: int) -> list[UploadedFile]:
    """The uploaded files' contents; reads one byte past the limit, so the check can say so."""
    files = []
    for upload in uploads:
        content = await upload.read(max_bytes + 1)
        files.append(
            UploadedFile(
                filename=upload.filename or "",
                content_type=upload.content_type or "",
                content=content,
            )
        )
    return files


@router.get("/projects/{project}/support/{request_id}", response_class=HTMLResponse)
async def show_request(
    request: Request, project: str, request_id: RequestId, user: UserDep, service: ServiceDep
) -> Response:
    """Key, label, status, reporter, fields, description, attachments, Jira comments."""
    record = await load_visible(service, project, request_id, user)
    project_record = await service.project(project)
    return render(
        request,
        "web/support/detail.html",
        {
            "project": project_record,
            "item": view(record, active=project_record.integration_active, user=user),
            "attachments": await service.attachments(record.id),
            "comments": await service.comments(record.id),
        },
    )


@router.get("/projects/{project}/support/{request_id}/attachments/{attachment_id}")
async def download(
    project: str,
    request_id: RequestId,
    attachment_id: AttachmentId,
    user: UserDep,
    service: ServiceDep,
) -> Response:
    """An attachment, always as a download (never rendered in the page's origin)."""
    record = await load_visible(service, project, request_id, user)
    return await attachment_response(service, record.id, attachment_id)


@router.post(
    "/projects/{project}/support/{request_id}/reply",
    dependencies=[Depends(require_csrf)],
    response_class=HTMLResponse,
)
async def reply(
    *,
    request: Request,
    project: str,
    request_id: RequestId,
    user: UserDep,
    service: ServiceDep,
    text: Annotated[str, Form(alias="reply")] = "",
) -> Response:
    """Add the signed-in user's reply; it is kept at once and becomes a Jira comment."""
    record = await load_visible(service, project, request_id, user)
    try:
        await service.reply(record, text, author=user.name)
    except InvalidInput as exc:
        flash(request, "; ".join(exc.problems.values()), "error")
    else:
        active = (await service.project(project)).integration_active
        flash(
            request,
            "Your reply was added"
            + (" and is on its way to the support team." if active else "; it is sent to the "
               "support team when the integration is active again."),
            "success",
        )  # fmt: skip
    return RedirectResponse(f"/projects/{project}/support/{record.id}#reply", status_code=303)
