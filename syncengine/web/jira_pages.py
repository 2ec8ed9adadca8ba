"""The bundled Jira simulator's issue pages, for signed-in admins: ``/jira/browse/{key}``.

With no Jira URL set, the engine files tickets in its bundled simulator; the group
page links each ticket here, so the demo's tickets can be read like Jira's.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from syncengine.errors import NotFound
from syncengine.web.auth import AdminDep
from syncengine.web.services import ServicesDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# The page is the simulator's own: inline styles, no scripts, nothing loaded from elsewhere.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"


@router.get("/jira/browse/{key}", response_class=HTMLResponse)
async def issue_page(key: str, user: AdminDep, services: ServicesDep) -> Response:
    """The issue ``key`` as the bundled simulator shows it (404 when there is none)."""
    pages = services.issue_pages
    if pages is None:
        raise NotFound(
            "no bundled Jira simulator runs here: every project has a Jira URL; "
            "open the issue in that Jira"
        )
    page = pages(key)
    if page is None:
        raise NotFound(f"the bundled Jira simulator has no issue {key}")
    return HTMLResponse(page, headers={"Content-Security-Policy": _CSP})
