"""Serving the app with uvicorn: SIGTERM/SIGINT handled by us, sockets guarded from slow clients.

uvicorn bounds a request's headers in size (``h11_max_incomplete_event_size``),
closes idle keep-alive connections (``timeout_keep_alive``) and answers 503 past
``limit_concurrency`` connections, but it waits for ever for headers that never
end: a client sending a byte every half second, or a thousand connections that
never finish a request, hold their sockets as long as they like (and, with a
connection limit, lock everyone else out). :class:`GuardedH11Protocol` adds the
missing deadline: a connection that has not sent a whole request head within
``header_timeout_seconds`` of opening (or of its previous answer) is closed.
Bodies are the app's: :class:`~syncengine.web.body_limits.BodyLimits` gives them a deadline.

The parser is httptools (llhttp, in C) when it is installed, h11 (pure Python)
otherwise: for one-event requests h11 was a tenth of the server's CPU.
:class:`GuardedHttpToolsProtocol` adds the same head deadline and the head size
bound uvicorn gives only h11: a request head (request line and headers) longer
than ``max_header_bytes`` is answered 400 and the connection closed, as h11 does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is a dependency; h11 serves without it
    HttpToolsProtocol = None  # type: ignore[assignment,misc]

__all__ = [
    "EVENT_LOOP",
    "GuardedH11Protocol",
    "GuardedHttpToolsProtocol",
    "Server",
    "ServerLimits",
    "guarded_protocol",
    "run_served",
    "serve_app",
]

T = TypeVar("T")

log = logging.getLogger(__name__)


_HEADER_TIMEOUT = 10.0


@dataclass(frozen=True, kw_only=True, slots=True)
class ServerLimits:
    """The HTTP server's socket limits (``[http]`` in the configuration)."""

    header_timeout_seconds: float = _HEADER_TIMEOUT
    keep_alive_seconds: int = 5
    max_header_bytes: int = 16 * 1024
    max_connections: int = 2048


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head.

    The deadline starts when the connection opens, and again when an answer is
    done and the connection waits for the next request; it is not pushed back by
    each byte that arrives, so dripping a request head does not keep it open.
    """

    header_timeout: float = _HEADER_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watch()
        super().connection_lost(exc)

    def _watch_head(self) -> None:
        # Waiting for a request head exactly while h11 has none: IDLE on our side's view
        # of the client. Arm once per wait; a request head, when it comes, disarms.
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._head_deadline is None:
                self._head_deadline = self.loop.call_later(self.header_timeout, self._too_slow)
        else:
            self._stop_watch()

    def _stop_watch(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _too_slow(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self.client:
                log.info(
                    "closed a connection from %s: no request within %gs",
                    self.client[0],
                    self.header_timeout,
                )
            self.transport.close()


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools then reports a parse error (answered 400)."""


if HttpToolsProtocol is not None:

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol with a deadline on each request head and a size bound.

        A head is awaited from the moment the connection opens, and again once every
        request read so far is answered; the deadline is not pushed back by each byte
        that arrives. While a head is awaited every byte received counts towards
        ``max_header_bytes`` (what h11's ``max_incomplete_event_size`` bounds), and the
        request line and headers of a complete head count too.
        """

        header_timeout: float = _HEADER_TIMEOUT
        max_header_bytes: int = 16 * 1024

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._head_deadline: asyncio.TimerHandle | None = None
            self._heads = 0  # request heads read on this connection
            self._answered = 0  # answers completed on it
            self._head_bytes = 0  # received while the current head is awaited
            self._head_size = 0  # request line and headers of the current head

        def _awaiting_head(self) -> bool:
            return self._heads == self._answered

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._watch_head()

        def data_received(self, data: bytes) -> None:
            if self._awaiting_head():
                self._head_bytes += len(data)
            super().data_received(data)
            if (
                self._awaiting_head()
                and self._head_bytes > self.max_header_bytes
                and not self.transport.is_closing()
            ):
                self.send_400_response("Invalid HTTP request received.")

        def on_url(self, url: bytes) -> None:
            self._head_bytes_seen(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._head_bytes_seen(len(name) + len(value) + 4)
            super().on_header(name, value)

        def _head_bytes_seen(self, size: int) -> None:
            self._head_size += size
            if self._head_size > self.max_header_bytes:
                raise _HeadTooLarge

        def on_message_begin(self) -> None:
            self._head_size = 0
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._heads += 1
            self._head_bytes = 0
            self._stop_watch()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            self._answered += 1
            super().on_response_complete()
            if self._awaiting_head():
                self._watch_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_watch()
            super().connection_lost(exc)

        def _watch_head(self) -> None:
            if self._head_deadline is None and not self.transport.is_closing():
                self._head_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

        def _stop_watch(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _too_slow(self) -> None:
            self._head_deadline = None
            if self._awaiting_head() and not self.transport.is_closing():
                if self.client:
                    log.info(
                        "closed a connection from %s: no request within %gs",
                        self.client[0],
                        self.header_timeout,
                    )
                self.transport.close()


try:
    import uvloop

    EVENT_LOOP = "uvloop"
except ImportError:  # pragma: no cover - uvloop is a dependency where it builds (not Windows)
    uvloop = None  # type: ignore[assignment]
    EVENT_LOOP = "asyncio"


def run_served(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when installed (asyncio's loop otherwise), as ``asyncio.run`` does.

    uvloop's loop, in C, costs a fraction of asyncio's per callback and per socket
    read, which one-event requests pay several times each.
    """
    if uvloop is None:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def guarded_protocol(
    header_timeout: float, max_header_bytes: int = 16 * 1024, *, parser: str = "auto"
) -> type[asyncio.Protocol]:
    """The protocol class with ``header_timeout`` (uvicorn takes a class, not an instance).

    ``parser``: ``"httptools"``, ``"h11"``, or ``"auto"`` (httptools when installed).
    """
    if parser != "h11" and HttpToolsProtocol is not None:
        return type(
            "GuardedHttpTools",
            (GuardedHttpToolsProtocol,),
            {"header_timeout": header_timeout, "max_header_bytes": max_header_bytes},
        )
    if parser == "httptools":
        raise RuntimeError("httptools is not installed: pip install httptools")
    return type("GuardedH11", (GuardedH11Protocol,), {"header_timeout": header_timeout})


class Server(uvicorn.Server):
    """uvicorn's server without its signal capture, so a graceful stop exits 0.

    uvicorn re-raises a captured SIGTERM after shutting down, which turns a clean
    stop into exit status -15; the caller installs the handlers instead.
    ``on_started`` is called once the port is bound and the app has started.
    """

    on_started: Callable[[], None] | None = None

    async def startup(self, sockets: list[Any] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit and self.on_started is not None:
            self.on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server_config(
    app: Callable[..., Any], *, host: str, port: int, limits: ServerLimits
) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` under ``limits``.

    Proxy headers are left to the app (``http.trusted_proxies``): uvicorn's own
    default would believe ``X-Forwarded-For`` from any local process.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        lifespan="on",
        http=guarded_protocol(limits.header_timeout_seconds, limits.max_header_bytes),
        timeout_keep_alive=limits.keep_alive_seconds,
        h11_max_incomplete_event_size=limits.max_header_bytes,
        limit_concurrency=limits.max_connections,
        proxy_headers=False,
    )


async def serve_app(
    app: FastAPI,
    *,
    host: str,
    port: int,
    limits: ServerLimits | None = None,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down gracefully.

    ``on_started`` is called once the port is bound (say "listening" there, not before).
    """
    server = Server(server_config(app, host=host, port=port, limits=limits or ServerLimits()))
    server.on_started = on_started
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    try:
        await server.serve()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
