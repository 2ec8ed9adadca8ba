"""Request bodies read within a size limit and a deadline, before any route parses them.

FastAPI reads a body whole before the route and its authentication run (a JSON
body model, a form; Starlette spools a multipart upload to disk), so a limit
checked in the route comes too late. :class:`BodyLimits` is pure ASGI middleware
in front of every route that:

- answers 413 at once when ``Content-Length`` announces more than the route's
  limit, and as soon as a streamed (chunked) body passes it;
- answers 408 when the body has not all arrived ``read_timeout`` seconds after
  the request started (a client dripping a byte at a time);

both with ``Connection: close``, so the server drops the rest of the upload
instead of reading it, while the route sees the client as gone
(``http.disconnect``) and stops. An answer sent before the body was read whole
also closes the connection, so a client cannot go on streaming a body nobody reads.

Limits are per route, by path template; a route without an entry has the default
limit. A route listed with ``None`` reads its body within a limit of its own (the
intake, which also bounds the decompressed size) and gets only the deadline. The
route is the one the router chose (``scope["route"]``, set before any body is
read): the limit is looked up at the first read, and ``Content-Length`` is
checked then, before a byte of the body is taken.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncengine.web.problem_documents import problem

__all__ = ["BodyLimits", "RouteLimit", "size_text"]

log = logging.getLogger(__name__)

_CLOSE = (b"connection", b"close")


def size_text(size: int) -> str:
    """``size`` bytes for people: ``5 MiB``, ``64 KiB``, ``900 bytes``."""
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True, kw_only=True, slots=True)
class RouteLimit:
    """The body limit of one route and what a refused client is told to do."""

    limit: int | None
    hint: str = ""


class _Request:
    """One request's body accounting: bytes seen, the deadline, who answered."""

    def __init__(self, middleware: BodyLimits, scope: Scope, receive: Receive, send: Send) -> None:
        self.middleware = middleware
        self.scope = scope
        self._receive = receive
        self._send = send
        self.rule: RouteLimit | None = None
        self.seen = 0
        self.body_done = not _has_body(scope)
        self.deadline = asyncio.get_running_loop().time() + middleware.read_timeout
        self.started = False
        self.answered = False
        self.cut = False

    async def receive(self) -> Message:
        if self.cut:
            return {"type": "http.disconnect"}
        if self.rule is None:
            # The first read: routing is done, so the route and its limit are known.
            self.rule = self.middleware.rule_for(self.scope)
            declared = _content_length(self.scope)
            if self.rule.limit is not None and declared is not None and declared > self.rule.limit:
                await self.refuse(413, self.middleware.too_large(self.rule.limit, self.rule))
                return {"type": "http.disconnect"}
        if self.body_done:
            # Waiting for the client to go away (streaming answers do): no deadline.
            return await self._receive()
        remaining = self.deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                message = await self._receive()
        except TimeoutError:
            timeout = self.middleware.read_timeout
            await self.refuse(
                408,
                f"the request body did not arrive within {timeout:g} seconds "
                "(http.body_timeout_seconds); send it faster or in smaller requests",
            )
            return {"type": "http.disconnect"}
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            limit = self.rule.limit
            if limit is not None and self.seen > limit:
                await self.refuse(413, self.middleware.too_large(limit, self.rule))
                return {"type": "http.disconnect"}
            if not message.get("more_body", False):
                self.body_done = True
        return message

    async def send(self, message: Message) -> None:
        if self.answered:
            return  # the app's own answer, after ours: the client has its answer
        if message["type"] == "http.response.start":
            self.started = True
            if not self.body_done:
                # Answered before the body was read: close, or the client could go on
                # streaming a body nobody reads, holding the connection.
                message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
        await self._send(message)

    async def refuse(self, status: int, detail: str) -> None:
        """Answer ``status`` now (unless the app already began answering) and stop reading."""
        self.cut = True
        log.info(
            "%s %s refused with %d: %s", self.scope["method"], self.scope["path"], status, detail
        )
        if self.started:
            return
        self.answered = True
        answer = _answer(self.scope, status, detail)
        answer.headers["connection"] = "close"
        await answer(self.scope, self._receive_nothing, self._send)

    @staticmethod
    async def _receive_nothing() -> Message:
        return {"type": "http.disconnect"}


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


def _wants_html(scope: Scope) -> bool:
    if scope["path"].startswith("/api/"):
        return False
    accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
    return b"text/html" in accept


def _answer(scope: Scope, status: int, detail: str) -> Response:
    if _wants_html(scope):
        title = "Too large" if status == 413 else "Too slow"
        page = f"<!doctype html><title>{title}</title><p>{detail}.</p>"
        return HTMLResponse(page, status_code=status)
    # The intake's own 413 has this kind too: one name for one problem, whichever route.
    return problem(status, detail, kind="body-too-large" if status == 413 else None)


class BodyLimits:
    """Pure ASGI middleware: every request body within its route's limit and the deadline."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: Mapping[str, RouteLimit],
        default: RouteLimit,
        read_timeout: float,
    ) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default
        self.read_timeout = read_timeout

    def rule_for(self, scope: Scope) -> RouteLimit:
        """The limit of the route the router chose for ``scope`` (the default for none)."""
        path = getattr(scope.get("route"), "path", None)
        return self.limits.get(path, self.default) if isinstance(path, str) else self.default

    def too_large(self, limit: int, rule: RouteLimit) -> str:
        """What a client whose body passed ``limit`` is told."""
        hint = f"; {rule.hint}" if rule.hint else ""
        return f"the request body is larger than {size_text(limit)}, the limit here{hint}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = _Request(self, scope, receive, send)
        try:
            await self.app(scope, request.receive, request.send)
        except Exception:
            if not request.cut:
                raise
            # The app failed on the body we cut short (a disconnect mid-read): expected.
            log.debug("the app stopped after its request body was refused", exc_info=True)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.strip()
            return int(text) if text.isdigit() else None
    return None
