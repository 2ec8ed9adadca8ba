"""Builds the FastAPI app over the engine's services (built by the composition root)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from syncengine import __version__
from syncengine.web import health, ingest_endpoints, webhook_receiver
from syncengine.web.api_group_resolution import router as group_resolution_router
from syncengine.web.api_groups import router as groups_router
from syncengine.web.dashboard import install_dashboard
from syncengine.web.request_ids import RequestIdMiddleware
from syncengine.web.services import BackgroundWork, WebServices

__all__ = ["create_app"]


def create_app(services: WebServices, *, background: BackgroundWork | None = None) -> FastAPI:
    """The web app over ``services`` (the caller owns their lifetime).

    With ``background``, the lifespan also runs the outbox worker and the periodic
    jobs in this process, and stops them when the app stops.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background is not None:
            background.start()
        try:
            yield
        finally:
            if background is not None:
                await background.stop()

    app = FastAPI(title="syncengine", version=__version__, lifespan=lifespan)
    # Set at once: test transports may not run the lifespan.
    app.state.services = services
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    app.include_router(webhook_receiver.router)
    app.include_router(ingest_endpoints.router)
    app.include_router(groups_router)
    app.include_router(group_resolution_router)
    install_dashboard(app, services.config)
    return app
