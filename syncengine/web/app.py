"""Builds the FastAPI app; services arrive through the lifespan, never at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from syncengine import __version__
from syncengine.bootstrap import Container, bootstrap
from syncengine.settings import Settings
from syncengine.web import health
from syncengine.web import ingest as ingest_routes
from syncengine.web.groups import router as groups_router

__all__ = ["create_app"]


def create_app(settings: Settings, *, container: Container | None = None) -> FastAPI:
    """The web app for ``settings``; with ``container`` given, the caller owns its lifetime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if container is not None:
            yield
            return
        app.state.container = await bootstrap(settings)
        try:
            yield
        finally:
            await app.state.container.aclose()

    app = FastAPI(title="syncengine", version=__version__, lifespan=lifespan)
    if container is not None:
        # Set at once: test transports may not run the lifespan.
        app.state.container = container
    app.include_router(health.router)
    app.include_router(groups_router)
    app.include_router(ingest_routes.router)
    return app
