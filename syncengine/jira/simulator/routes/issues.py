"""Issues: create, bulk create, get, edit, delete, assign, transitions, comments."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from syncengine.jira.simulator import render, workflow
from syncengine.jira.simulator.errors import JiraHttpError, bad_request
from syncengine.jira.simulator.fields import schema_of
from syncengine.jira.simulator.issues import create_issue, edit_issue
from syncengine.jira.simulator.model import Issue, Permission, Project, Transition
from syncengine.jira.simulator.pipeline import Api, Ctx, json_response

__all__ = ["routes"]


def _created(ctx: Ctx, issue: Issue) -> dict[str, Any]:
    return {
        "id": issue.id,
        "key": issue.key,
        "self": f"{ctx.state.base_url}/rest/api/{ctx.version}/issue/{issue.id}",
    }


def _permit(ctx: Ctx, issue: Issue, permission: Permission, what: str) -> None:
    """Jira checks the permission before the write counts against the issue's limit."""
    ctx.state.require(ctx.user, ctx.state.project_by_id(issue.project_id), permission, what)


def _issue(ctx: Ctx) -> Issue:
    return ctx.state.issue(ctx.param("issueIdOrKey"), ctx.user)


async def create(ctx: Ctx) -> Response:
    body = await ctx.json()
    issue = create_issue(ctx.state, ctx.user, body, api_version=ctx.version)
    return json_response(_created(ctx, issue), 201)


async def bulk_create(ctx: Ctx) -> Response:
    body = await ctx.json()
    updates = body.get("issueUpdates") if isinstance(body, dict) else None
    if not isinstance(updates, list) or not updates:
        raise bad_request(
            "Can not deserialize the request: 'issueUpdates' must be a non-empty array."
        )
    limit = ctx.sim.limits.bulk_create_max
    if len(updates) > limit:
        raise bad_request(
            f"Bulk create is limited to {limit} issues per request; {len(updates)} were sent."
        )
    created: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for number, item in enumerate(updates):
        try:
            issue = create_issue(ctx.state, ctx.user, item, api_version=ctx.version)
        except JiraHttpError as error:
            element = (
                error.body
                if isinstance(error.body, dict)
                else {"errorMessages": [str(error.body)], "errors": {}}
            )
            errors.append(
                {"status": error.status, "elementErrors": element, "failedElementNumber": number}
            )
            continue
        created.append(_created(ctx, issue))
    return json_response({"issues": created, "errors": errors}, 201 if created else 400)


async def get_issue(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    fields_param = ctx.query("fields")
    wanted = render.wanted_fields(
        ctx.state, fields_param.split(",") if fields_param else None, "*all"
    )
    properties = (ctx.query("properties") or "").split(",")
    expand = (ctx.query("expand") or "").split(",")
    body = render.issue(
        ctx.state, issue, ctx.version, fields=wanted, properties=properties, expand=expand
    )
    return json_response(body)


async def changelog(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    start, size = ctx.int_query("startAt", 0), min(ctx.int_query("maxResults", 100), 100)
    values = [render.history(ctx.state, h, ctx.version) for h in issue.history]
    chunk = values[start : start + size]
    base = f"{ctx.state.base_url}/rest/api/{ctx.version}/issue/{issue.key}/changelog"
    return json_response(
        {
            "self": f"{base}?startAt={start}&maxResults={size}",
            "maxResults": size,
            "startAt": start,
            "total": len(values),
            "isLast": start + len(chunk) >= len(values),
            "values": chunk,
        }
    )


async def edit(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    body = await ctx.json()
    _permit(ctx, issue, Permission.EDIT, "edit issues")
    ctx.write_to(issue)
    edit_issue(ctx.state, ctx.user, issue, body, api_version=ctx.version)
    comments = (body.get("update") or {}).get("comment") if isinstance(body, dict) else None
    for op in comments or []:
        if isinstance(op, dict) and "add" in op:
            parsed = workflow.parse_comment_body(op["add"], ctx.version)
            workflow.add_comment(ctx.state, ctx.user, issue, parsed, api_version=ctx.version)
    if ctx.query("returnIssue") == "true" and ctx.state.flavour == "cloud":
        return json_response(render.issue(ctx.state, issue, ctx.version))
    return Response(status_code=204)


async def delete(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    workflow.delete_issue(ctx.state, ctx.user, issue)
    return Response(status_code=204)


async def assign(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    body = await ctx.json()
    _permit(ctx, issue, Permission.ASSIGN, "assign issues")
    ctx.write_to(issue)
    workflow.assign_issue(ctx.state, ctx.user, issue, body)
    return Response(status_code=204)


async def transitions(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    project = ctx.state.project_by_id(issue.project_id)
    if not ctx.state.can(ctx.user, project, Permission.TRANSITION):
        return json_response({"expand": "transitions", "transitions": []})
    shown = []
    for transition in project.workflow.available_from(issue.status_id):
        target = ctx.state.statuses[transition.to_status]
        item: dict[str, Any] = {
            "id": transition.id,
            "name": transition.name,
            "to": render.status(ctx.state, target, ctx.version),
            "hasScreen": transition.requires_resolution or bool(transition.screen),
            "isGlobal": not transition.from_statuses,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }
        if item["hasScreen"] and ctx.query("expand") == "transitions.fields":
            item["fields"] = _screen(ctx, project, transition)
        shown.append(item)
    return json_response({"expand": "transitions", "transitions": shown})


def _screen(ctx: Ctx, project: Project, transition: Transition) -> dict[str, Any]:
    """The transition screen's fields, as ``expand=transitions.fields`` shows them."""
    fields: dict[str, Any] = {}
    if transition.requires_resolution:
        fields["resolution"] = {
            "required": True,
            "schema": {"type": "resolution", "system": "resolution"},
            "name": "Resolution",
            "key": "resolution",
            "hasDefaultValue": False,
            "operations": ["set"],
            "allowedValues": [
                render.resolution(ctx.state, r, ctx.version) for r in ctx.state.resolutions.values()
            ],
        }
    for screen_field in transition.screen:
        field = ctx.state.fields[screen_field.field_id]
        entry: dict[str, Any] = {
            "required": screen_field.required,
            "schema": schema_of(field),
            "name": field.name,
            "key": field.id,
            "hasDefaultValue": False,
            "operations": ["set"],
        }
        allowed = render.allowed_values(ctx.state, project, field, ctx.version)
        if allowed is not None:
            entry["allowedValues"] = allowed
        fields[field.id] = entry
    return fields


async def do_transition(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    body = await ctx.json()
    _permit(ctx, issue, Permission.TRANSITION, "transition issues")
    ctx.write_to(issue)
    workflow.transition_issue(ctx.state, ctx.user, issue, body, api_version=ctx.version)
    return Response(status_code=204)


async def comments(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    start, size = ctx.int_query("startAt", 0), ctx.int_query("maxResults", 5000)
    ordered = sorted(
        issue.comments, key=lambda c: c.created, reverse=ctx.query("orderBy") == "-created"
    )
    chunk = ordered[start : start + size]
    return json_response(
        {
            "startAt": start,
            "maxResults": size,
            "total": len(issue.comments),
            "comments": [render.comment(ctx.state, issue.id, c, ctx.version) for c in chunk],
        }
    )


async def add_comment(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    body = await ctx.json()
    parsed = workflow.parse_comment_body(body, ctx.version)
    _permit(ctx, issue, Permission.COMMENT, "add comments")
    ctx.write_to(issue)
    comment = workflow.add_comment(ctx.state, ctx.user, issue, parsed, api_version=ctx.version)
    return json_response(render.comment(ctx.state, issue.id, comment, ctx.version), 201)


async def get_comment(ctx: Ctx) -> Response:
    issue = _issue(ctx)
    comment = next((c for c in issue.comments if c.id == ctx.param("id")), None)
    if comment is None:
        raise JiraHttpError(
            404,
            {
                "errorMessages": [f"Can not find a comment for the id: {ctx.param('id')}."],
                "errors": {},
            },
        )
    return json_response(render.comment(ctx.state, issue.id, comment, ctx.version))


def routes(api: Api) -> list[Route]:
    return [
        api.route("POST", "/issue", create),
        api.route("POST", "/issue/bulk", bulk_create),
        api.route("GET", "/issue/{issueIdOrKey}", get_issue),
        api.route("PUT", "/issue/{issueIdOrKey}", edit),
        api.route("DELETE", "/issue/{issueIdOrKey}", delete),
        api.route("PUT", "/issue/{issueIdOrKey}/assignee", assign),
        api.route("GET", "/issue/{issueIdOrKey}/transitions", transitions),
        api.route("POST", "/issue/{issueIdOrKey}/transitions", do_transition),
        api.route("GET", "/issue/{issueIdOrKey}/comment", comments),
        api.route("POST", "/issue/{issueIdOrKey}/comment", add_comment),
        api.route("GET", "/issue/{issueIdOrKey}/comment/{id}", get_comment),
        *(
            [api.route("GET", "/issue/{issueIdOrKey}/changelog", changelog)]
            if api.sim.flavour == "cloud"
            else []
        ),
    ]
