"""A size limit on support-request uploads, enforced before the form is parsed.

Starlette spools a whole multipart body to disk before a route sees it, so the
per-file limit alone would still let one request fill the disk. This pure ASGI
middleware answers 413 as soon as a POST to a support-request route announces
(``Content-Length``) or streams more than the limit.
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["UploadLimit"]

_ROUTES = re.compile(r"^(/projects/[^/]+/support|/api/v1/projects/[^/]+/support-requests)/?$")


class _TooLarge(Exception):  # internal signal, never leaves the middleware
    pass


class UploadLimit:
    """Refuse support-request bodies over ``limit`` bytes with 413."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _ROUTES.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        detail = (
            f"the request is larger than {self.limit // (1024 * 1024)} MB; "
            "attach fewer or smaller files"
        )
        is_api = scope["path"].startswith("/api/")
        body = (
            json.dumps({"detail": detail}).encode()
            if is_api
            else f"<!doctype html><title>Too large</title><p>{detail}.</p>".encode()
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json" if is_api else b"text/html"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
