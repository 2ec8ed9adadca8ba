"""A load balancer for tests: each TCP connection to the next of several backends.

What stands in front of several ``syncengine serve`` processes in production: Jira's
webhook deliveries (a new connection each) are spread over every process.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import socketserver
import threading
from collections.abc import Sequence

__all__ = ["RoundRobin"]


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    except OSError:
        pass
    finally:
        for end in (sink, source):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


class RoundRobin:
    """Listens on ``url``; forwards each connection to the next backend ``(host, port)``.
    A backend that refuses the connection is skipped for that one."""

    def __init__(self, backends: Sequence[tuple[str, int]]) -> None:
        turns = itertools.cycle(range(len(backends)))
        lock = threading.Lock()

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with lock:
                    first = next(turns)
                for step in range(len(backends)):
                    backend = backends[(first + step) % len(backends)]
                    try:
                        upstream = socket.create_connection(backend, timeout=5)
                    except OSError:
                        continue
                    upstream.settimeout(None)
                    back = threading.Thread(target=_pipe, args=(upstream, self.request))
                    back.start()
                    _pipe(self.request, upstream)
                    back.join()
                    upstream.close()
                    return

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            request_queue_size = 512  # Jira sends a burst of deliveries at once (default 5)

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
