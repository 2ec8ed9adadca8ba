"""The integration page for admins, a section per project: the Active/Passive switch,
the outbox (retry and drop, audited), webhook health and "run doctor" with its checks.

``web/integration_admin.html`` fills the per-project block of ``web/integration.html``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncengine.bootstrap import Container
from syncengine.doctor import Check, run_doctor
from syncengine.errors import NotFound
from syncengine.store.cursors import CursorRecord
from syncengine.web.auth import AdminDep
from syncengine.web.csrf import require_csrf
from syncengine.web.deps import ContainerDep
from syncengine.web.templating import flash, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _webhook_note(container: Container, slug: str, cursor: CursorRecord) -> str:
    """Why the webhook looks unhealthy, or "" when it does not (or sync is off)."""
    project = container.settings.projects.get(slug)
    if project is None or project.sync.mode == "off":
        return ""
    poll = project.sync.poll_interval_seconds
    if cursor.last_webhook_at is None:
        return (
            "No webhook from Jira yet: changes made in Jira arrive only by the poll "
            f"(every {poll} s). Register the webhook in Jira to see them at once."
        )
    silent = (container.clock() - cursor.last_webhook_at).total_seconds()
    if silent > project.sync.webhook_silence_seconds:
        return (
            f"No webhook for {int(silent // 60)} min: the poll (every {poll} s) covers changes; "
            "check the webhook in Jira if issues changed meanwhile."
        )
    return ""


async def _page(
    request: Request, container: Container, doctor: tuple[str, list[Check]] | None = None
) -> Response:
    sections = []
    for project in await container.projects.all():
        items = await container.outbox.list(project_id=project.id)
        cursor = await container.cursors.get(project.id)
        sections.append(
            {
                "project": project,
                "pending": sum(1 for i in items if i.state != "dead"),
                "outbox": items,
                "cursor": cursor,
                "webhook_note": _webhook_note(container, project.slug, cursor),
                "doctor": doctor[1] if doctor and doctor[0] == project.slug else None,
                "history": await container.audit.recent(
                    project_id=project.id, action_prefix="integration.", limit=5
                ),
                "support": project.slug in container.support.enabled_slugs(),
            }
        )
    return render(request, "web/integration_admin.html", {"sections": sections})


@router.get("/admin/integration", response_class=HTMLResponse)
async def integration(request: Request, user: AdminDep, container: ContainerDep) -> Response:
    """Every project with its switch, outbox, webhook health and the switch's history."""
    return await _page(request, container)


@router.post(
    "/admin/integration/{project}/doctor",
    response_class=HTMLResponse,
    dependencies=[Depends(require_csrf)],
)
async def doctor(
    request: Request, project: str, user: AdminDep, container: ContainerDep
) -> Response:
    """Run ``syncengine doctor`` for one project and show its checks on the page."""
    if project not in container.settings.projects:
        raise NotFound(f"project {project!r} is not configured")
    return await _page(request, container, (project, await run_doctor(container, project)))


@router.post(
    "/admin/integration/{project}/outbox/{item_id}/{action}",
    dependencies=[Depends(require_csrf)],
)
async def outbox_action(
    request: Request,
    project: str,
    item_id: int,
    action: Literal["retry", "drop"],
    *,
    user: AdminDep,
    container: ContainerDep,
) -> RedirectResponse:
    """Retry a waiting or dead outbox item now, or drop it for good (both audited)."""
    record = await container.projects.get(project)
    item = await container.outbox.get(item_id)
    if record is None or item is None or item.project_id != record.id:
        raise NotFound(f"project {project!r} has no outbox item {item_id}")
    act = container.outbox.requeue if action == "retry" else container.outbox.drop
    if await act(item_id, actor=user.name, now=container.clock()):
        if action == "retry":
            container.wake_worker()
        done = "queued to run again now" if action == "retry" else "dropped"
        flash(request, f"Outbox item {item_id} ({item.kind}) {done}.", "success")
    else:
        flash(request, f"Outbox item {item_id} is running or finished: nothing done.", "error")
    return RedirectResponse(f"/admin/integration#project-{project}", status_code=303)


@router.post("/admin/integration/{project}", dependencies=[Depends(require_csrf)])
async def switch(
    request: Request,
    project: str,
    user: AdminDep,
    container: ContainerDep,
    active: Annotated[bool, Form()],
) -> RedirectResponse:
    """Turn the project's Jira integration Active or Passive (written to the audit log)."""
    record = await container.projects.set_active(
        project, active, actor=user.name, now=container.clock()
    )
    if record is None:
        raise NotFound(f"project {project!r} does not exist")
    if active:
        container.wake_worker()
    state = "Active: waiting work is sent now" if active else "Passive: nothing is sent to Jira"
    flash(request, f"{record.name or record.slug}: integration {state}.", "success")
    return RedirectResponse("/admin/integration", status_code=303)
