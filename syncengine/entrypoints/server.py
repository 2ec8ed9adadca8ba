"""Serving the app with uvicorn, with SIGTERM/SIGINT handled by us."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

__all__ = ["Server", "serve_app"]


class Server(uvicorn.Server):
    """uvicorn's server without its signal capture, so a graceful stop exits 0.

    uvicorn re-raises a captured SIGTERM after shutting down, which turns a clean
    stop into exit status -15; the caller installs the handlers instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_app(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then shut down gracefully."""
    config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="on")
    server = Server(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    try:
        await server.serve()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
