"""The intake's routes served in front of the FastAPI stack: one event per request, lean.

Real SDKs send one event per request, so whatever a request costs before the
intake sees it is paid once per event. Through FastAPI an intake request went
through the session middlewares (a cookie decoded, maybe a store lookup), the
security-header and request-id middlewares, Starlette's exception middleware,
FastAPI's router (every included router asked in turn) and its dependency
solver: more CPU than parsing the event. :class:`IngestFront` is pure ASGI
middleware that recognises a ``POST`` to an intake route by the route's own
path pattern and calls the same endpoint function directly, with the same
request object and the same services; every other request goes on to FastAPI
unchanged.

What the stack did for these routes, it still does (a client that hangs up
mid-body is logged as FastAPI's handler logs it, with no traceback): the answer carries the
request id and the security headers, what the endpoint logs carries the request
id and its bound project, and ``scope["route"]`` is the route FastAPI would
have chosen, so :class:`~syncengine.web.body_limits.BodyLimits` (the body
deadline) and :class:`~syncengine.web.http_metrics.HttpMetrics` (labels by
route template), which stay outside, see what they saw before. The routes stay
registered with FastAPI too: the OpenAPI document describes them, and a route
registered before the intake's that also matches a path keeps it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from syncengine.logs import bound, request_id
from syncengine.web.dashboard import ALWAYS_HEADERS
from syncengine.web.error_handlers import client_gone
from syncengine.web.request_ids import chosen_request_id

__all__ = ["IngestFront"]

_Endpoint = Callable[..., Awaitable[Response]]
_SECURITY = tuple((name.lower().encode(), value.encode()) for name, value in ALWAYS_HEADERS)


class IngestFront:
    """Pure ASGI middleware serving ``routes`` (POST only) without the app behind it.

    ``before`` are the routes the app tries before these: a path one of them
    matches is left to the app. ``services`` is what each endpoint is given.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Sequence[BaseRoute],
        before: Sequence[BaseRoute] = (),
        services: object,
    ) -> None:
        self.app = app
        self._routes = [
            (route.path_regex, route, cast(_Endpoint, route.endpoint))
            for route in routes
            if isinstance(route, Route) and route.methods == {"POST"}
        ]
        self._before = [route.path_regex for route in before if isinstance(route, Route)]
        self._services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        found = self._match(_route_path(scope))
        if found is None:
            await self.app(scope, receive, send)
            return
        route, endpoint, params = found
        scope["route"] = route
        scope["path_params"] = params
        await self._serve(scope, receive, send, endpoint, params)

    def _match(self, path: str) -> tuple[Route, _Endpoint, dict[str, Any]] | None:
        for regex, route, endpoint in self._routes:
            match = regex.match(path)
            if match is not None:
                if any(earlier.match(path) for earlier in self._before):
                    return None
                return route, endpoint, match.groupdict()
        return None

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        endpoint: _Endpoint,
        params: dict[str, Any],
    ) -> None:
        rid = chosen_request_id(scope)
        token = request_id.set(rid)
        try:
            with bound():  # what the endpoint binds (its project) ends with the request
                request = Request(scope, receive)
                try:
                    response = await endpoint(**params, request=request, services=self._services)
                except ClientDisconnect:  # FastAPI's handler is behind us: said as it says it
                    response = client_gone(request)
            response.raw_headers += [*_SECURITY, (b"x-request-id", rid.encode())]
            await response(scope, receive, send)
        finally:
            request_id.reset(token)


def _route_path(scope: Scope) -> str:
    """The path the router matches: ``scope["path"]`` without the ``root_path`` (as Starlette)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] == "/":
        return path[len(root) :]
    return path
