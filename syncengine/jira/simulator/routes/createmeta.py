"""Create metadata: the paginated per-project calls (Cloud and Data Center) and Cloud's old
``GET /issue/createmeta`` (deprecated there, still served; Data Center 9 removed it, so
there the path falls through to ``/issue/{key}`` and answers "Issue Does Not Exist")."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from syncengine.jira.simulator import render
from syncengine.jira.simulator.errors import JiraHttpError, bad_request
from syncengine.jira.simulator.fields import schema_of
from syncengine.jira.simulator.issues import resolve_issuetype
from syncengine.jira.simulator.model import IssueType, Permission, Project
from syncengine.jira.simulator.pipeline import Api, Ctx, json_response

__all__ = ["routes"]


def _page(values: list[Any], start: int, size: int, key: str) -> dict[str, Any]:
    chunk = values[start : start + size]
    return {
        "maxResults": size,
        "startAt": start,
        "total": len(values),
        "isLast": start + len(chunk) >= len(values),
        key: chunk,
    }


def _createmeta_page(ctx: Ctx) -> tuple[int, int]:
    start, size = ctx.int_query("startAt", 0), ctx.int_query("maxResults", 50)
    if size > 200:
        raise bad_request("Parameter 'maxResults' must not exceed the limit '200'")
    return start, size


def screen_fields(
    ctx: Ctx, proj: Project, it: IssueType, *, edit: bool = False
) -> list[dict[str, Any]]:
    """The create (or ``edit``) screen of ``it`` in ``proj`` as createmeta lists it
    (``fieldId`` on each)."""
    values: list[dict[str, Any]] = []
    for name in ("project", "issuetype"):
        values.append(
            {
                "required": True,
                "schema": {"type": name, "system": name},
                "name": "Project" if name == "project" else "Issue Type",
                "fieldId": name,
                "key": name,
                "hasDefaultValue": False,
                "operations": ["set"],
            }
        )
    shown = proj.edit_screen(it.id) if edit else proj.screens.get(it.id, ())
    for screen_field in shown:
        field = ctx.state.fields[screen_field.field_id]
        item: dict[str, Any] = {
            "required": screen_field.required,
            "schema": schema_of(field),
            "name": field.name,
            "fieldId": field.id,
            "key": field.id,
            "hasDefaultValue": False,
            "operations": ["add", "set", "remove"]
            if field.kind in ("labels", "versions")
            else ["set"],
        }
        allowed = render.allowed_values(ctx.state, proj, field, ctx.version)
        if allowed is not None:
            item["allowedValues"] = allowed
        values.append(item)
    return values


async def createmeta_types(ctx: Ctx) -> Response:
    proj = ctx.state.project(ctx.param("projectIdOrKey"), ctx.user)
    start, size = _createmeta_page(ctx)
    values = [
        render.issuetype(ctx.state, ctx.state.issue_types[t], ctx.version) for t in proj.issue_types
    ]
    key = "issueTypes" if ctx.state.flavour == "cloud" else "values"
    page = _page(values, start, size, key)
    if ctx.state.flavour == "cloud":
        page.pop("isLast")
    return json_response(page)


async def createmeta_fields(ctx: Ctx) -> Response:
    proj = ctx.state.project(ctx.param("projectIdOrKey"), ctx.user)
    start, size = _createmeta_page(ctx)
    try:
        it = resolve_issuetype(ctx.state, proj, {"id": ctx.param("issueTypeId")})
    except JiraHttpError:
        raise JiraHttpError(
            404,
            {
                "errorMessages": [
                    f"Issue type with id '{ctx.param('issueTypeId')}' does not exist or is not "
                    f"valid for project {proj.key}."
                ],
                "errors": {},
            },
        ) from None
    key = "fields" if ctx.state.flavour == "cloud" else "values"
    page = _page(screen_fields(ctx, proj, it), start, size, key)
    if ctx.state.flavour == "cloud":
        page.pop("isLast")
    return json_response(page)


def _listed(ctx: Ctx, name: str) -> set[str]:
    """A multi-valued query parameter: ``a,b`` and ``x=a&x=b`` both work."""
    return {v.strip() for raw in ctx.request.query_params.getlist(name) for v in raw.split(",")} - {
        ""
    }


async def legacy_createmeta(ctx: Ctx) -> Response:
    """Cloud's deprecated ``GET /issue/createmeta``: projects → issue types (→ fields).

    Unknown projects or types are left out, not errors (as the spec says).
    """
    keys, ids = _listed(ctx, "projectKeys"), _listed(ctx, "projectIds")
    type_ids, type_names = _listed(ctx, "issuetypeIds"), _listed(ctx, "issuetypeNames")
    with_fields = "projects.issuetypes.fields" in _listed(ctx, "expand")
    projects = []
    for proj in ctx.state.projects.values():
        if (keys or ids) and proj.key not in keys and proj.id not in ids:
            continue
        if not ctx.state.can(ctx.user, proj, Permission.CREATE):
            continue
        types = []
        for type_id in proj.issue_types:
            it = ctx.state.issue_types[type_id]
            if (type_ids or type_names) and it.id not in type_ids and it.name not in type_names:
                continue
            shown = render.issuetype(ctx.state, it, ctx.version)
            if with_fields:
                shown["fields"] = {
                    f["fieldId"]: {k: v for k, v in f.items() if k != "fieldId"}
                    for f in screen_fields(ctx, proj, it)
                }
            types.append(shown)
        listed = render.project(ctx.state, proj, ctx.version)
        body = {k: listed[k] for k in ("self", "id", "key", "name", "avatarUrls")}
        body["issuetypes"] = types
        projects.append(body)
    return json_response({"expand": "projects", "projects": projects})


async def editmeta(ctx: Ctx) -> Response:
    """``GET /issue/{key}/editmeta``: the fields of the issue's screen the user may edit.

    Without the edit permission Jira answers an empty ``fields`` object, not an error.
    """
    issue = ctx.state.issue(ctx.param("issueIdOrKey"), ctx.user)
    proj = ctx.state.project_by_id(issue.project_id)
    if not ctx.state.can(ctx.user, proj, Permission.EDIT):
        return json_response({"fields": {}})
    it = ctx.state.issue_types[issue.issuetype_id]
    fields = {
        f["fieldId"]: {k: v for k, v in f.items() if k not in ("fieldId", "hasDefaultValue")}
        for f in screen_fields(ctx, proj, it, edit=True)
        if f["fieldId"] not in ("project", "issuetype")
    }
    return json_response({"fields": fields})


def routes(api: Api) -> list[Route]:
    found = [
        api.route("GET", "/issue/{issueIdOrKey}/editmeta", editmeta),
        api.route("GET", "/issue/createmeta/{projectIdOrKey}/issuetypes", createmeta_types),
        api.route(
            "GET", "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}", createmeta_fields
        ),
    ]
    if api.sim.flavour == "cloud":
        found.append(api.route("GET", "/issue/createmeta", legacy_createmeta))
    return found
