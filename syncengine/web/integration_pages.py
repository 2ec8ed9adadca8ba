"""The integration page for admins, a section per project: the Active/Passive switch,
the outbox (retry and drop, audited), webhook health and "run doctor" with its checks.

``web/integration_admin.html`` fills the per-project block of ``web/integration.html``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncengine.errors import InvalidInput, JiraError, NotFound
from syncengine.store.jira_webhooks import CheckResult
from syncengine.sync.connection_checks import ConnectionChecks
from syncengine.sync.doctor import Check
from syncengine.sync.integration_admin import IntegrationAdmin
from syncengine.sync.jira_connect import ConnectStart, JiraConnector
from syncengine.sync.webhook_registration import WebhookRegistrar
from syncengine.web.auth import AdminDep
from syncengine.web.csrf import require_csrf
from syncengine.web.page_templates import flash, page_csp, render
from syncengine.web.services import ServicesDep, WebServices

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    admin: IntegrationAdmin,
    doctor: tuple[str, list[Check]] | None = None,
    *,
    connector: JiraConnector | None = None,
    connect: ConnectStart | None = None,
    registrar: WebhookRegistrar | None = None,
    checks: ConnectionChecks | None = None,
) -> Response:
    health: Mapping[str, list[CheckResult]] = await checks.latest() if checks else {}
    sections = []
    for project in await admin.projects():
        plan = registrar.plan(project.slug) if registrar is not None else None
        hooks = await registrar.registered(project.slug) if plan is not None and registrar else []
        oauth = None
        if connector is not None and project.slug in connector.credentials.setups:
            oauth = await connector.state(project.slug)
        items = await admin.outbox(project.id)
        cursor = await admin.cursor(project.id)
        sections.append(
            {
                "project": project,
                "pending": sum(1 for i in items if i.state != "dead"),
                "outbox": items,
                # Dead pushes of a state no workflow path reaches: links that cannot converge.
                "stuck": [
                    i
                    for i in items
                    if i.state == "dead" and isinstance(i.payload.get("unreachable"), dict)
                ],
                "cursor": cursor,
                "webhook_note": admin.webhook_note(project.slug, cursor),
                "doctor": doctor[1] if doctor and doctor[0] == project.slug else None,
                "history": await admin.switches(project.id, limit=5),
                "support": admin.takes_support(project.slug),
                "oauth": oauth,
                "connect": connect if connect and connect.project == project.slug else None,
                "webhook_plan": plan,
                "webhooks": hooks,
                "health": [c for c in health.get(project.slug, []) if not c.ok],
            }
        )
    response = render(request, "web/integration_admin.html", {"sections": sections})
    # Connect answers with a redirect to Jira's consent page: forms may lead there.
    response.headers["Content-Security-Policy"] = page_csp(_consent_origins(connector))
    return response


def _consent_origins(connector: JiraConnector | None) -> list[str]:
    origins = []
    for setup in connector.credentials.setups.values() if connector is not None else ():
        url = setup.endpoints.authorize_url if setup.endpoints is not None else setup.site
        parts = urlsplit(url)
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return origins


def _extras(services: WebServices) -> dict[str, Any]:
    return {
        "connector": services.connector,
        "registrar": services.webhook_registrar,
        "checks": services.connection_checks,
    }


@router.get("/admin/integration", response_class=HTMLResponse)
async def integration(request: Request, user: AdminDep, services: ServicesDep) -> Response:
    """Every project with its switch, outbox, webhook health and the switch's history."""
    return await _page(request, services.integration, **_extras(services))


@router.post(
    "/admin/integration/{project}/doctor",
    response_class=HTMLResponse,
    dependencies=[Depends(require_csrf)],
)
async def doctor(request: Request, project: str, user: AdminDep, services: ServicesDep) -> Response:
    """Run ``syncengine doctor`` for one project and show its checks on the page."""
    admin = services.integration
    if not admin.configured(project):
        raise NotFound(f"project {project!r} is not configured")
    return await _page(request, admin, (project, await admin.doctor(project)), **_extras(services))


@router.post(
    "/admin/integration/{project}/connect",
    response_class=HTMLResponse,
    dependencies=[Depends(require_csrf)],
)
async def connect(
    request: Request, project: str, user: AdminDep, services: ServicesDep
) -> Response:
    """Start the OAuth connect flow: off to Jira to allow access, or (OAuth 1.0a before the
    application link exists) the key to paste into Jira, shown on the page."""
    connector = services.connector
    if connector is None or project not in connector.credentials.setups:
        raise NotFound(f"project {project!r} does not connect with OAuth")
    start = await connector.start(project)
    if start.authorize_url:
        return RedirectResponse(start.authorize_url, status_code=303)
    extras = {**_extras(services), "connect": start}
    return await _page(request, services.integration, **extras)


@router.post("/admin/integration/{project}/webhooks/register", dependencies=[Depends(require_csrf)])
async def register_webhook(
    request: Request, project: str, user: AdminDep, services: ServicesDep
) -> RedirectResponse:
    """Register the project's webhook in Jira by API (where the project's auth allows it)."""
    registrar = services.webhook_registrar
    if registrar is None or registrar.plan(project) is None:
        raise NotFound(f"project {project!r} does not sync with Jira")
    try:
        hooks = await registrar.register(project)
    except (InvalidInput, JiraError) as exc:
        flash(request, f"{project}: the webhook was not registered: {exc}", "error")
    else:
        ids = ", ".join(h.webhook_id for h in hooks)
        flash(request, f"{project}: webhook registered in Jira (id {ids}).", "success")
    return RedirectResponse(f"/admin/integration#project-{project}", status_code=303)


@router.get("/integration/{project}/oauth/callback", response_class=HTMLResponse)
async def oauth_callback(
    request: Request,
    project: str,
    services: ServicesDep,
    *,
    code: str = "",
    state: str = "",
    oauth_token: str = "",
    oauth_verifier: str = "",
    error: str = "",
) -> Response:
    """Where Jira sends the administrator's browser back. The one-time ``state`` (OAuth 2.0)
    or request token (OAuth 1.0a) of the flow under way is what authorises this call."""
    connector = services.connector
    if connector is None or project not in connector.credentials.setups:
        raise NotFound(f"project {project!r} does not connect with OAuth")
    if error:
        raise InvalidInput({"error": f"Jira did not grant access ({error[:100]}): start again"})
    if not (state or oauth_token):
        raise InvalidInput({"state": "missing: open the link the connect flow gave"})
    done = await connector.complete(
        project, code=code, state=state, verifier=oauth_verifier, oauth_token=oauth_token
    )
    flash(request, f"{project}: connected to Jira ({done.kind})")
    return RedirectResponse("/admin/integration", status_code=303)


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
    services: ServicesDep,
) -> RedirectResponse:
    """Retry a waiting or dead outbox item now, or drop it for good (both audited)."""
    admin = services.integration
    record = await admin.project(project)
    if record is None:
        raise NotFound(f"project {project!r} has no outbox item {item_id}")
    done_it, item = await admin.act(record, item_id, action, actor=user.name)
    if done_it:
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
    services: ServicesDep,
    active: Annotated[bool, Form()],
) -> RedirectResponse:
    """Turn the project's Jira integration Active or Passive (written to the audit log)."""
    record = await services.integration.set_active(project, active, actor=user.name)
    if record is None:
        raise NotFound(f"project {project!r} does not exist")
    state = "Active: waiting work is sent now" if active else "Passive: nothing is sent to Jira"
    flash(request, f"{record.name or record.slug}: integration {state}.", "success")
    return RedirectResponse("/admin/integration", status_code=303)
