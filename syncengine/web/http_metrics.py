"""HTTP metrics for every route: requests and latency by method, route template and status.

A pure ASGI middleware (no body buffering: the intake stays streaming). The route is
the template the router chose (``/api/v1/projects/{project}/reports``), read from the
scope after the app ran, so the label set stays bounded whatever paths clients send;
a request no route took (a 404, a static file) counts as ``(unmatched)``.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncengine.metrics import Metrics

__all__ = ["UNMATCHED", "HttpMetrics"]

UNMATCHED = "(unmatched)"


class HttpMetrics:
    """Counts each HTTP request and observes its duration once its answer started."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an app that fails before answering is answered 500 by the server

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            path = getattr(scope.get("route"), "path", None)
            route = path if isinstance(path, str) else UNMATCHED
            method = str(scope.get("method", ""))
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_latency.labels(method, route).observe(time.perf_counter() - started)
