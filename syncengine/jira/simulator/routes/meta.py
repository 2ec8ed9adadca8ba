"""Site and project metadata: serverInfo, myself, projects, versions, catalogs, users."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from syncengine.jira.simulator import render
from syncengine.jira.simulator.errors import JiraHttpError, bad_request, field_errors
from syncengine.jira.simulator.fields import schema_of
from syncengine.jira.simulator.model import Permission, User, Version
from syncengine.jira.simulator.pipeline import Api, Ctx, json_response

__all__ = ["routes"]


def _page(values: list[Any], start: int, size: int, key: str = "values") -> dict[str, Any]:
    chunk = values[start : start + size]
    return {
        "maxResults": size,
        "startAt": start,
        "total": len(values),
        "isLast": start + len(chunk) >= len(values),
        key: chunk,
    }


async def server_info(ctx: Ctx) -> Response:
    cloud = ctx.state.flavour == "cloud"
    now = ctx.state.clock.now()
    return json_response(
        {
            "baseUrl": ctx.state.site_url,  # the site, also when asked through the gateway
            "version": "1001.0.0-SNAPSHOT" if cloud else "10.3.5",
            "versionNumbers": [1001, 0, 0] if cloud else [10, 3, 5],
            "deploymentType": "Cloud" if cloud else "Server",
            "buildNumber": 100282 if cloud else 10030005,
            "buildDate": "2026-01-01T00:00:00.000+0000",
            "serverTime": render.jira_time(now),
            "scmInfo": "0f3c1c5a1b2d4e5f60718293a4b5c6d7e8f90a1b",
            "serverTitle": "Jira (simulated)",
        }
        | ({} if cloud else {"defaultLocale": {"locale": "en_US"}})
    )


async def myself(ctx: Ctx) -> Response:
    body = render.user(ctx.state, ctx.user, ctx.version)
    body["locale"] = "en_US"
    body["groups"] = {"size": 1, "items": []}
    body["applicationRoles"] = {"size": 1, "items": []}
    return json_response(body)


async def my_permissions(ctx: Ctx) -> Response:
    """``GET /mypermissions?projectKey=&permissions=``: which of the named permissions hold."""
    known = {p.value: p for p in Permission}
    wanted = [p.strip() for p in (ctx.query("permissions") or "").split(",") if p.strip()]
    if not wanted:
        if ctx.state.flavour == "cloud":
            raise bad_request("The 'permissions' query parameter is required.")
        wanted = list(known)  # Data Center answers every permission
    key = ctx.query("projectKey")
    project = ctx.state.project(key, ctx.user) if key else None
    body: dict[str, Any] = {}
    for name in wanted:
        permission = known.get(name)
        held = permission is not None and (
            project is None or ctx.state.can(ctx.user, project, permission)
        )
        body[name] = {
            "id": str(list(known).index(name) + 1) if name in known else "0",
            "key": name,
            "name": name.replace("_", " ").title(),
            "type": "PROJECT",
            "description": f"The {name} permission",
            "havePermission": held,
        }
    return json_response({"permissions": body})


def _visible_projects(ctx: Ctx) -> list[Any]:
    return [p for p in ctx.state.projects.values() if ctx.state.can(ctx.user, p, Permission.BROWSE)]


async def projects(ctx: Ctx) -> Response:
    return json_response(
        [render.project(ctx.state, p, ctx.version) for p in _visible_projects(ctx)]
    )


async def project_search(ctx: Ctx) -> Response:
    values = [render.project(ctx.state, p, ctx.version) for p in _visible_projects(ctx)]
    return json_response(
        _page(values, ctx.int_query("startAt", 0), ctx.int_query("maxResults", 50))
    )


async def project(ctx: Ctx) -> Response:
    proj = ctx.state.project(ctx.param("projectIdOrKey"), ctx.user)
    return json_response(render.project(ctx.state, proj, ctx.version, full=True))


async def project_statuses(ctx: Ctx) -> Response:
    proj = ctx.state.project(ctx.param("projectIdOrKey"), ctx.user)
    statuses = [
        render.status(ctx.state, ctx.state.statuses[s], ctx.version) for s in proj.workflow.statuses
    ]
    body = [
        {
            "self": f"{ctx.state.base_url}/rest/api/{ctx.version}/issuetype/{it}",
            "id": it,
            "name": ctx.state.issue_types[it].name,
            "subtask": False,
            "statuses": statuses,
        }
        for it in proj.issue_types
    ]
    return json_response(body)


async def project_versions(ctx: Ctx) -> Response:
    proj = ctx.state.project(ctx.param("projectIdOrKey"), ctx.user)
    return json_response([render.version(ctx.state, v, ctx.version) for v in proj.versions])


async def project_versions_page(ctx: Ctx) -> Response:
    proj = ctx.state.project(ctx.param("projectIdOrKey"), ctx.user)
    values = [render.version(ctx.state, v, ctx.version) for v in proj.versions]
    return json_response(
        _page(values, ctx.int_query("startAt", 0), ctx.int_query("maxResults", 50))
    )


def _require_version_admin(ctx: Ctx) -> None:
    if not ctx.user.admin:
        raise JiraHttpError(
            403,
            {
                "errorMessages": [
                    "You must have global or project administrator rights in order to modify "
                    "versions."
                ],
                "errors": {},
            },
        )


def _version(ctx: Ctx) -> Version:
    """The version of the path's ``id`` in a project the user can browse; Jira's 404 else."""
    wanted = ctx.param("id")
    for proj in ctx.state.projects.values():
        for version in proj.versions:
            if version.id == wanted and ctx.state.can(ctx.user, proj, Permission.BROWSE):
                return version
    raise JiraHttpError(
        404, {"errorMessages": [f"Could not find version for id '{wanted}'"], "errors": {}}
    )


async def get_version(ctx: Ctx) -> Response:
    return json_response(render.version(ctx.state, _version(ctx), ctx.version))


async def update_version(ctx: Ctx) -> Response:
    """``PUT /version/{id}``: rename, release (``released``, ``releaseDate``), archive."""
    version = _version(ctx)
    body = await ctx.json()
    if not isinstance(body, dict):
        raise bad_request("Can not deserialize the request: a version object expected.")
    _require_version_admin(ctx)
    proj = ctx.state.project_by_id(version.project_id)
    name = body.get("name")
    if name is not None:
        if not isinstance(name, str) or not name.strip():
            raise field_errors({"name": "You must specify a valid version name"})
        if any(v.name == name and v.id != version.id for v in proj.versions):
            raise field_errors({"name": "A version with this name already exists in this project."})
        version.name = name
    for key, attr in (("released", "released"), ("archived", "archived")):
        if key in body:
            setattr(version, attr, bool(body[key]))
    if "releaseDate" in body:
        version.release_date = body["releaseDate"]
    if "description" in body:
        version.description = str(body["description"] or "")
    return json_response(render.version(ctx.state, version, ctx.version))


async def create_version(ctx: Ctx) -> Response:
    body = await ctx.json()
    if not isinstance(body, dict) or not body.get("name"):
        raise field_errors({"name": "You must specify a valid version name"})
    ref = body.get("projectId") or body.get("project")
    if ref is None:
        raise field_errors({"project": "Project must be specified to create a version."})
    proj = ctx.state.project(str(ref), ctx.user)
    _require_version_admin(ctx)
    if any(v.name == body["name"] for v in proj.versions):
        raise field_errors({"name": "A version with this name already exists in this project."})
    version = Version(
        id=ctx.state.new_id(),
        name=str(body["name"]),
        project_id=proj.id,
        released=bool(body.get("released", False)),
        archived=bool(body.get("archived", False)),
        release_date=body.get("releaseDate"),
        description=str(body.get("description", "")),
    )
    proj.versions.append(version)
    return json_response(render.version(ctx.state, version, ctx.version), 201)


async def issue_types(ctx: Ctx) -> Response:
    return json_response(
        [render.issuetype(ctx.state, t, ctx.version) for t in ctx.state.issue_types.values()]
    )


async def fields(ctx: Ctx) -> Response:
    body = []
    for field in ctx.state.fields.values():
        body.append(
            {
                "id": field.id,
                "key": field.id,
                "name": field.name,
                "custom": field.custom,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [f"cf[{field.custom_id}]", field.name]
                if field.custom
                else [field.id],
                "schema": schema_of(field),
            }
        )
    for system in ("status", "resolution", "created", "updated", "issuetype", "project"):
        if system not in ctx.state.fields:
            body.append(
                {
                    "id": system,
                    "key": system,
                    "name": system.capitalize(),
                    "custom": False,
                    "orderable": False,
                    "navigable": True,
                    "searchable": True,
                    "clauseNames": [system],
                    "schema": {
                        "type": system if system not in ("created", "updated") else "datetime",
                        "system": system,
                    },
                }
            )
    return json_response(body)


async def statuses(ctx: Ctx) -> Response:
    return json_response(
        [render.status(ctx.state, s, ctx.version) for s in ctx.state.statuses.values()]
    )


async def status_categories(ctx: Ctx) -> Response:
    seen = {s.category.id: s.category for s in ctx.state.statuses.values()}
    return json_response([render.category(ctx.state, c, ctx.version) for c in seen.values()])


async def priorities(ctx: Ctx) -> Response:
    return json_response(
        [render.priority(ctx.state, p, ctx.version) for p in ctx.state.priorities.values()]
    )


async def resolutions(ctx: Ctx) -> Response:
    return json_response(
        [render.resolution(ctx.state, r, ctx.version) for r in ctx.state.resolutions.values()]
    )


def _user_matches(user: User, query: str) -> bool:
    needle = query.lower()
    return (
        any(needle in part.lower() for part in (user.name, user.email, user.display_name))
        or query == user.account_id
    )


def _no_user_names_on_cloud(ctx: Ctx) -> None:
    """Cloud removed usernames and user keys from its API (the GDPR migration): 400."""
    if ctx.state.flavour != "cloud":
        return
    for name in ("username", "key"):
        if ctx.query(name) is not None:
            raise bad_request(f"The query parameter '{name}' is not supported in GDPR strict mode.")


def _user_query(ctx: Ctx) -> str:
    """The search text: ``query``/``accountId`` on Cloud, ``username`` on Data Center."""
    _no_user_names_on_cloud(ctx)
    if ctx.state.flavour == "cloud":
        value = ctx.query("query") or ctx.query("accountId")
        if value is None:
            raise bad_request("The 'query' or 'accountId' query parameter is required.")
        return value
    value = ctx.query("username")
    if value is None:
        raise bad_request("The 'username' query parameter is required.")
    return value


async def user_search(ctx: Ctx) -> Response:
    query = _user_query(ctx)
    found = [u for u in ctx.state.users.values() if u.active and _user_matches(u, query)]
    start, size = ctx.int_query("startAt", 0), ctx.int_query("maxResults", 50)
    return json_response(
        [render.user(ctx.state, u, ctx.version) for u in found[start : start + size]]
    )


async def assignable_search(ctx: Ctx) -> Response:
    ref = ctx.query("project") or ctx.query("issueKey")
    if ref is None:
        raise bad_request("One of 'project' or 'issueKey' is required.")
    if ctx.query("issueKey"):
        issue = ctx.state.issue(str(ref), ctx.user)
        proj = ctx.state.project_by_id(issue.project_id)
    else:
        proj = ctx.state.project(str(ref), ctx.user)
    _no_user_names_on_cloud(ctx)
    if ctx.state.flavour == "cloud":
        query = ctx.query("query") or ctx.query("accountId") or ""
    else:
        query = ctx.query("username") or ""
    found = [
        u
        for u in ctx.state.users.values()
        if u.active
        and ctx.state.can(u, proj, Permission.BROWSE)
        and (not query or _user_matches(u, query))
    ]
    return json_response([render.user(ctx.state, u, ctx.version) for u in found])


async def get_user(ctx: Ctx) -> Response:
    _no_user_names_on_cloud(ctx)
    ref = ctx.query("accountId") or ctx.query("username") or ctx.query("key")
    found = ctx.state.user_ref(ref) if ref else None
    if found is None:
        raise JiraHttpError(
            404,
            {"errorMessages": [f"The user with account ID '{ref}' does not exist"], "errors": {}},
        )
    return json_response(render.user(ctx.state, found, ctx.version))


def routes(api: Api) -> list[Route]:
    return [
        api.route("GET", "/serverInfo", server_info, anonymous=True),
        api.route("GET", "/myself", myself),
        api.route("GET", "/mypermissions", my_permissions),
        api.route("GET", "/project", projects),
        api.route("GET", "/project/search", project_search),
        api.route("GET", "/project/{projectIdOrKey}", project),
        api.route("GET", "/project/{projectIdOrKey}/statuses", project_statuses),
        api.route("GET", "/project/{projectIdOrKey}/versions", project_versions),
        api.route("GET", "/project/{projectIdOrKey}/version", project_versions_page),
        api.route("POST", "/version", create_version),
        api.route("GET", "/version/{id}", get_version),
        api.route("PUT", "/version/{id}", update_version),
        api.route("GET", "/issuetype", issue_types),
        api.route("GET", "/field", fields),
        api.route("GET", "/status", statuses),
        api.route("GET", "/statuscategory", status_categories),
        api.route("GET", "/priority", priorities),
        api.route("GET", "/resolution", resolutions),
        api.route("GET", "/user", get_user),
        api.route("GET", "/user/search", user_search),
        api.route("GET", "/user/assignable/search", assignable_search),
    ]
