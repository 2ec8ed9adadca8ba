"""Builds the FastAPI app; services arrive through the lifespan, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from syncengine import __version__
from syncengine.bootstrap import Container, bootstrap
from syncengine.settings import Settings
from syncengine.web import health, webhooks
from syncengine.web import ingest as ingest_routes
from syncengine.web.group_resolution import router as group_resolution_router
from syncengine.web.groups import router as groups_router
from syncengine.web.pages import install_pages
from syncengine.web.requests import RequestIdMiddleware

__all__ = ["create_app"]


def create_app(
    settings: Settings, *, container: Container | None = None, background: bool = False
) -> FastAPI:
    """The web app for ``settings``.

    With ``container`` given, the caller owns its lifetime. With ``background``, the
    lifespan also runs the outbox worker and the periodic jobs in this process.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = container is None
        if owned:
            app.state.container = await bootstrap(settings)
        running: Container = app.state.container
        if background:
            running.start_background()
        try:
            yield
        finally:
            if owned:
                await running.aclose()
            elif background and running.runtime is not None:
                await running.runtime.stop()
                running.runtime = None

    app = FastAPI(title="syncengine", version=__version__, lifespan=lifespan)
    if container is not None:
        # Set at once: test transports may not run the lifespan.
        app.state.container = container
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    app.include_router(webhooks.router)
    app.include_router(ingest_routes.router)
    app.include_router(groups_router)
    app.include_router(group_resolution_router)
    install_pages(app, settings)
    return app
