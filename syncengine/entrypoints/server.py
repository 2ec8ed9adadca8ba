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
import errno
import logging
import signal
import socket
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from syncengine.errors import CannotListen

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
    "bind_listener",
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
    requests_per_connection: int = 0  # answers before the connection is closed (0: no limit)


class _HeadDeadline:
    """A deadline on each request head, for a uvicorn protocol (mixed in before it).

    The deadline is armed while the connection awaits a request head
    (:meth:`_awaiting_head`) and is not pushed back by each byte that arrives, so
    dripping a request head does not keep the connection open.
    """

    header_timeout: float = _HEADER_TIMEOUT
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    client: tuple[str, int] | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def _awaiting_head(self) -> bool:
        raise NotImplementedError

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watch()
        super().connection_lost(exc)  # type: ignore[misc]

    def _watch_head(self) -> None:
        # Arm once per wait; a request head, when it comes, disarms.
        if self._awaiting_head() and not self.transport.is_closing():
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
        if self._awaiting_head() and not self.transport.is_closing():
            if self.client:
                log.info(
                    "closed a connection from %s: no request within %gs",
                    self.client[0],
                    self.header_timeout,
                )
            self.transport.close()


class GuardedH11Protocol(_HeadDeadline, H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request head.

    The deadline starts when the connection opens, and again when an answer is
    done and the connection waits for the next request.
    """

    def _awaiting_head(self) -> bool:
        # Waiting for a request head exactly while h11 has none: IDLE on our side's
        # view of the client.
        return bool(self.conn.their_state is h11.IDLE)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch_head()


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools then reports a parse error (answered 400)."""


if HttpToolsProtocol is not None:

    class GuardedHttpToolsProtocol(_HeadDeadline, HttpToolsProtocol):
        """uvicorn's httptools protocol with a deadline on each request head and a size bound.

        A head is awaited from the moment the connection opens, and again once every
        request read so far is answered; the deadline is not pushed back by each byte
        that arrives. While a head is awaited every byte received counts towards
        ``max_header_bytes`` (what h11's ``max_incomplete_event_size`` bounds), and the
        request line and headers of a complete head count too.
        """

        max_header_bytes: int = 16 * 1024
        max_requests: int = 0  # answers on one connection before it is closed (0: no limit)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
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
            if self.max_requests and self._heads >= self.max_requests and self.cycle:
                self.cycle.keep_alive = False  # answered with "Connection: close", then closed

        def on_response_complete(self) -> None:
            self._answered += 1
            super().on_response_complete()
            if self._awaiting_head():
                self._watch_head()


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
    header_timeout: float,
    max_header_bytes: int = 16 * 1024,
    *,
    parser: str = "auto",
    max_requests: int = 0,
) -> type[asyncio.Protocol]:
    """The protocol class with ``header_timeout`` (uvicorn takes a class, not an instance).

    ``parser``: ``"httptools"``, ``"h11"``, or ``"auto"`` (httptools when installed).
    ``max_requests``: answers on one connection before it is closed (httptools only;
    0, or h11: no limit).
    """
    if parser != "h11" and HttpToolsProtocol is not None:
        return type(
            "GuardedHttpTools",
            (GuardedHttpToolsProtocol,),
            {
                "header_timeout": header_timeout,
                "max_header_bytes": max_header_bytes,
                "max_requests": max_requests,
            },
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
        http=guarded_protocol(
            limits.header_timeout_seconds,
            limits.max_header_bytes,
            max_requests=limits.requests_per_connection,
        ),
        timeout_keep_alive=limits.keep_alive_seconds,
        h11_max_incomplete_event_size=limits.max_header_bytes,
        limit_concurrency=limits.max_connections,
        proxy_headers=False,
    )


def bind_listener(
    host: str, port: int, *, configured: bool = True, reuse_port: bool = False
) -> socket.socket:
    """A socket bound to ``host``:``port``, not yet listening (as uvicorn binds it).

    ``reuse_port``: with ``SO_REUSEPORT``, so that other sockets of this user may bind
    the same address (each worker of ``serve --workers`` listens on its own, and the
    kernel spreads new connections over them).

    Bind before anything is generated or printed for the user: a taken port then
    costs nothing but this error. ``configured``: the port can be set in the
    configuration too, not only with ``--port`` (the message says so).

    Raises:
        CannotListen: the address is in use, not allowed, or not this machine's;
            the message says what to change.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        other_port = f"serve on another port: --port {port + 1 if 0 < port < 65535 else 8081}"
        if configured:
            other_port += ", or `port` in the config file (SYNCENGINE_PORT)"
        if exc.errno == errno.EADDRINUSE:
            why = (
                "address already in use (another program, perhaps another syncengine, "
                f"listens there); stop it, or {other_port}"
            )
        elif exc.errno == errno.EACCES:
            why = f"not allowed (ports below 1024 need privileges); {other_port}"
        else:
            names = "`host` (--host, SYNCENGINE_HOST)" if configured else "--host"
            why = (
                f"{exc.strerror or exc}; check that {names} is an address of this machine, "
                "such as 127.0.0.1 or 0.0.0.0"
            )
        raise CannotListen(f"cannot listen on {where}: {why}") from exc
    sock.set_inheritable(True)
    return sock


async def serve_app(
    app: FastAPI,
    *,
    host: str,
    port: int,
    limits: ServerLimits | None = None,
    on_started: Callable[[], None] | None = None,
    listener: socket.socket | None = None,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down gracefully.

    ``listener``: a socket from :func:`bind_listener` (else ``host``:``port`` is bound
    here). ``on_started`` is called once the server listens and the app has started
    (say "listening", and anything that is shown once, there, not before).

    Raises:
        CannotListen: the address cannot be bound.
    """
    sock = listener if listener is not None else bind_listener(host, port)
    server = Server(server_config(app, host=host, port=port, limits=limits or ServerLimits()))
    server.on_started = on_started
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    try:
        await server.serve(sockets=[sock])
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        sock.close()
