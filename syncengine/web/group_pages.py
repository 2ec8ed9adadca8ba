"""Error-group pages for admins: the searchable list, one group, and the forms that change it.

Forms post back here with the session's CSRF token and redirect to the group
page, where a flash message says what happened (or what to fix).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncengine.domain.groups import GroupState
from syncengine.errors import InvalidInput, JiraError
from syncengine.store.group_queries import SORTS, GroupFilter, GroupSort
from syncengine.web.auth import AdminDep
from syncengine.web.csrf import require_csrf
from syncengine.web.page_templates import flash, render
from syncengine.web.services import ServicesDep

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
_YES_NO = {"yes": True, "no": False}


def _choice(raw: str, options: dict[str, Any]) -> Any:
    return options.get(raw.strip().lower())


@router.get("/admin/groups", response_class=HTMLResponse)
async def group_list(
    request: Request,
    *,
    user: AdminDep,
    services: ServicesDep,
    q: Annotated[str, Query(max_length=200)] = "",
    project: str = "",
    state: str = "",
    assignee: Annotated[str, Query(max_length=320)] = "",
    ticket: str = "",
    regressed: str = "",
    sort: str = "last_seen",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Every project's groups, searched, filtered and sorted; 50 a page."""
    groups = services.groups
    projects = await groups.projects()
    chosen = next((p for p in projects if p.slug == project), None)
    order: GroupSort = "count" if sort == "count" else "last_seen"
    wanted = GroupFilter(
        project_ids=(chosen.id,) if chosen else None,
        text=q,
        state=_choice(state, {s.value: s for s in GroupState}),
        assignee=assignee.strip() or None,
        has_ticket=_choice(ticket, _YES_NO),
        regressed=_choice(regressed, _YES_NO),
        sort=order,
    )
    problem = ""
    try:
        page = await groups.page(None, limit=PAGE_SIZE, cursor=cursor or None, wanted=wanted)
    except ValueError:
        problem = "That page link is out of date: showing the first page again."
        page = await groups.page(None, limit=PAGE_SIZE, wanted=wanted)
    query = {
        "q": q,
        "project": chosen.slug if chosen else "",
        "state": wanted.state.value if wanted.state else "",
        "assignee": assignee.strip(),
        "ticket": ticket if wanted.has_ticket is not None else "",
        "regressed": regressed if wanted.regressed is not None else "",
        "sort": order,
    }
    return render(
        request,
        "web/groups/list.html",
        {
            "page": page,
            "query": query,
            "filtered": any(v for k, v in query.items() if k != "sort"),
            "link_query": urlencode({k: v for k, v in query.items() if v}),
            "paged": bool(cursor) and not problem,
            "projects": projects,
            "states": list(GroupState),
            "sorts": SORTS,
            "problem": problem,
        },
    )


@router.get("/admin/groups/{group_id}", response_class=HTMLResponse)
async def group_page(
    request: Request, group_id: int, user: AdminDep, services: ServicesDep
) -> Response:
    """One group: attributes, callstack, counts, Jira issue, forms and audit trail."""
    detail = await services.groups.detail(group_id, top=10)
    return render(
        request,
        "web/groups/detail.html",
        {"d": detail, "g": detail.group, "states": list(GroupState)},
    )


def _back(group_id: int) -> RedirectResponse:
    return RedirectResponse(f"/admin/groups/{group_id}", status_code=303)


def _refused(request: Request, exc: InvalidInput | JiraError) -> None:
    message = exc.user_message() if isinstance(exc, JiraError) else str(exc)
    flash(request, f"Not done: {message}", "error")


@router.post("/admin/groups/{group_id}/state", dependencies=[Depends(require_csrf)])
async def post_state(
    request: Request,
    group_id: int,
    *,
    user: AdminDep,
    services: ServicesDep,
    state: Annotated[str, Form()],
    until_version: Annotated[str, Form(max_length=128)] = "",
) -> RedirectResponse:
    """Change the group's state (resolving may name a version it is fixed in)."""
    await services.groups.detail(group_id, top=1)
    try:
        chosen = GroupState(state)
    except ValueError:
        flash(request, f"Not done: {state!r} is not a state.", "error")
        return _back(group_id)
    try:
        result = await services.groups.change_state(
            group_id, chosen, actor=user.name, until_version=until_version
        )
    except InvalidInput as exc:
        _refused(request, exc)
        return _back(group_id)
    synced = " The Jira issue follows." if result.pushed else ""
    flash(request, f"State changed from {result.before} to {result.after}.{synced}", "success")
    return _back(group_id)


@router.post("/admin/groups/{group_id}/assignee", dependencies=[Depends(require_csrf)])
async def post_assignee(
    request: Request,
    group_id: int,
    user: AdminDep,
    services: ServicesDep,
    assignee: Annotated[str, Form(max_length=320)] = "",
) -> RedirectResponse:
    """Give the group to someone, or nobody when the field is empty."""
    await services.groups.detail(group_id, top=1)
    try:
        result = await services.groups.assign(group_id, assignee, actor=user.name)
    except InvalidInput as exc:
        _refused(request, exc)
        return _back(group_id)
    flash(request, f"Assignee is now {result.after or 'nobody'}.", "success")
    return _back(group_id)


@router.post("/admin/groups/{group_id}/ticket", dependencies=[Depends(require_csrf)])
async def post_ticket(
    request: Request, group_id: int, user: AdminDep, services: ServicesDep
) -> RedirectResponse:
    """Queue the group's Jira ticket now, whatever the rules say."""
    await services.groups.detail(group_id, top=1)
    message = await services.groups.create_ticket(group_id, actor=user.name)
    flash(request, message[:1].upper() + message[1:] + ".", "success")
    return _back(group_id)


@router.post("/admin/groups/{group_id}/link", dependencies=[Depends(require_csrf)])
async def post_link(
    request: Request,
    group_id: int,
    user: AdminDep,
    services: ServicesDep,
    issue_key: Annotated[str, Form(max_length=64)],
) -> RedirectResponse:
    """Link the group to an issue that already exists in Jira."""
    await services.groups.detail(group_id, top=1)
    try:
        link = await services.groups.link_issue(group_id, issue_key, actor=user.name)
    except (InvalidInput, JiraError) as exc:
        _refused(request, exc)
        return _back(group_id)
    flash(request, f"Linked to {link.issue_key}.", "success")
    return _back(group_id)
