"""The integration page for admins: each project's Active/Passive switch, audited.

A section per project; the lead's dashboard adds doctor, outbox and webhook
health to the same page (``web/integration.html`` has a block per project).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncengine.errors import NotFound
from syncengine.store.audit import AuditRepository
from syncengine.store.outbox import OutboxRepository
from syncengine.web.auth import AdminDep
from syncengine.web.csrf import require_csrf
from syncengine.web.deps import ContainerDep
from syncengine.web.templating import flash, render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/admin/integration", response_class=HTMLResponse)
async def integration(request: Request, user: AdminDep, container: ContainerDep) -> Response:
    """Every project with its switch, waiting Jira work and the switch's history."""
    audit = AuditRepository(container.db)
    outbox = OutboxRepository(container.db)
    sections = []
    for project in await container.projects.all():
        items = await outbox.list(project_id=project.id)
        sections.append(
            {
                "project": project,
                "pending": sum(1 for i in items if i.state != "dead"),
                "dead": [i for i in items if i.state == "dead"],
                "history": await audit.recent(
                    project_id=project.id, action_prefix="integration.", limit=5
                ),
                "support": project.slug in container.support.enabled_slugs(),
            }
        )
    return render(request, "web/integration.html", {"sections": sections})


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
