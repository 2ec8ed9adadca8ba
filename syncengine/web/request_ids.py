"""Request ids: taken from ``X-Request-ID`` (when sane) or made, logged, and echoed back."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncengine.logs import bound, request_id

__all__ = ["RequestIdMiddleware", "chosen_request_id"]

_SANE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def chosen_request_id(scope: Scope) -> str:
    """The request's ``X-Request-ID`` when it is sane, else a new random id."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = str(value.decode("latin-1"))
            if _SANE.match(given):
                return given
            break
    return secrets.token_hex(8)


class RequestIdMiddleware:
    """Pure ASGI middleware (no body buffering, so streaming ingest stays streaming)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = chosen_request_id(scope)
        token = request_id.set(rid)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            with bound():  # what a route binds (its project) ends with the request
                await self.app(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
