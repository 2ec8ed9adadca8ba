"""Search: Cloud's ``/search/jql`` (nextPageToken, no total, ``reconcileIssues``), Data
Center's ``/search`` (startAt, total), and Cloud's 410 for the removed ``/search``.

Every search reads the search index (``search_index.py``), which lags writes by the
simulator's search lag (0 by default); ``reconcileIssues`` names ids read as they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from syncengine.jira.simulator import jql, render
from syncengine.jira.simulator.errors import JiraHttpError, bad_request
from syncengine.jira.simulator.model import Issue, Permission
from syncengine.jira.simulator.pipeline import Api, Ctx, json_response
from syncengine.jira.simulator.search_index import RECONCILE_LIMIT

__all__ = ["routes"]

REMOVED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
_ID_FIELDS = {"id", "key"}


async def _params(ctx: Ctx) -> dict[str, Any]:
    """Search parameters from the query string (GET) or the JSON body (POST)."""
    if ctx.request.method == "POST":
        body = await ctx.json()
        if not isinstance(body, dict):
            raise bad_request("Can not deserialize the request: a JSON object expected.")
        return body
    params: dict[str, Any] = dict(ctx.request.query_params)
    for name in ("fields", "properties", "expand"):
        if name in params:
            given = ctx.request.query_params.getlist(name)
            params[name] = [item for value in given for item in value.split(",")]
    return params


def _as_list(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw.split(",")
    return [str(x) for x in raw]


def _int(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise bad_request(f"The value '{raw}' of parameter '{name}' is not a number.") from None


def _visible(ctx: Ctx, query: jql.Query, reconcile: frozenset[str] = frozenset()) -> list[Issue]:
    """What the search finds: the index's view (lagging writes), ``reconcile`` ids current."""
    state = ctx.state
    browsable = {p.id for p in state.projects.values() if state.can(ctx.user, p, Permission.BROWSE)}
    indexed = state.search_index.searchable(reconcile)
    return query.run([i for i in indexed if i.project_id in browsable])


def _reconcile(raw: Any) -> frozenset[str]:
    """``reconcileIssues``: up to 50 issue ids (numbers) to search as they are now."""
    if raw is None:
        return frozenset()
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list) or len(items) > RECONCILE_LIMIT:
        raise bad_request(f"reconcileIssues accepts a list of at most {RECONCILE_LIMIT} issue ids.")
    ids: set[str] = set()
    for item in items:
        if isinstance(item, bool) or not str(item).strip().isdigit():
            raise bad_request(f"The issue id '{item}' in reconcileIssues is not a number.")
        ids.add(str(int(str(item).strip())))
    return frozenset(ids)


def _token(text: str, offset: int) -> str:
    raw = json.dumps({"q": hashlib.sha256(text.encode()).hexdigest()[:16], "at": offset})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _offset(text: str, token: str | None) -> int:
    if not token:
        return 0
    invalid = bad_request("The provided next page token is invalid or expired.")
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        same_query = data["q"] == hashlib.sha256(text.encode()).hexdigest()[:16]
        offset = int(data["at"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise invalid from None
    if not same_query:
        raise invalid
    return offset


async def search_jql(ctx: Ctx) -> Response:
    params = await _params(ctx)
    text = str(params.get("jql") or "")
    query = jql.parse(ctx.state, text)
    if query.bounded is False:
        raise bad_request(
            "Unbounded JQL queries are not allowed here. "
            "Please add a search restriction to your query."
        )
    requested = _as_list(params.get("fields")) or ["id"]
    ids_only = {f.strip() for f in requested} <= _ID_FIELDS
    limits = ctx.sim.limits
    cap = limits.search_max_ids_only if ids_only else limits.search_max_with_fields
    size = max(0, min(_int(params.get("maxResults"), "maxResults", 50), cap))
    start = _offset(text, params.get("nextPageToken"))
    found = _visible(ctx, query, _reconcile(params.get("reconcileIssues")))
    chunk = found[start : start + size]
    wanted = None if ids_only else render.wanted_fields(ctx.state, requested, "id")
    properties = _as_list(params.get("properties")) or []
    issues = [
        render.issue(ctx.state, i, ctx.version, fields=wanted or set(), properties=properties)
        for i in chunk
    ]
    body: dict[str, Any] = {"issues": issues, "isLast": start + len(chunk) >= len(found)}
    if not body["isLast"]:
        body["nextPageToken"] = _token(text, start + len(chunk))
    return json_response(body)


async def approximate_count(ctx: Ctx) -> Response:
    body = await ctx.json()
    text = str(body.get("jql") or "") if isinstance(body, dict) else ""
    return json_response({"count": len(_visible(ctx, jql.parse(ctx.state, text)))})


async def search_removed(ctx: Ctx) -> Response:
    raise JiraHttpError(410, {"errorMessages": [REMOVED], "errors": {}})


async def search_dc(ctx: Ctx) -> Response:
    params = await _params(ctx)
    text = str(params.get("jql") or "")
    query = jql.parse(ctx.state, text)
    start = _int(params.get("startAt"), "startAt", 0)
    size = max(
        0, min(_int(params.get("maxResults"), "maxResults", 50), ctx.sim.limits.dc_search_max)
    )
    found = _visible(ctx, query)
    wanted = render.wanted_fields(ctx.state, _as_list(params.get("fields")), "*navigable")
    properties = _as_list(params.get("properties")) or []
    chunk = found[start : start + size]
    return json_response(
        {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(found),
            "issues": [
                render.issue(ctx.state, i, ctx.version, fields=wanted, properties=properties)
                for i in chunk
            ],
        }
    )


def routes(api: Api) -> list[Route]:
    if api.sim.flavour == "cloud":
        return [
            api.route("GET", "/search/jql", search_jql),
            api.route("POST", "/search/jql", search_jql),
            api.route("POST", "/search/approximate-count", approximate_count),
            api.route("GET", "/search", search_removed),
            api.route("POST", "/search", search_removed),
        ]
    return [api.route("GET", "/search", search_dc), api.route("POST", "/search", search_dc)]
