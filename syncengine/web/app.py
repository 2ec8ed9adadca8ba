"""Builds the FastAPI app over the engine's services (built by the composition root)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from syncengine import __version__
from syncengine.web import health, ingest_endpoints, webhook_receiver
from syncengine.web.api_docs import install_api_docs
from syncengine.web.api_group_resolution import router as group_resolution_router
from syncengine.web.api_groups import router as groups_router
from syncengine.web.body_limits import BodyLimits, RouteLimit
from syncengine.web.dashboard import install_dashboard
from syncengine.web.http_metrics import HttpMetrics
from syncengine.web.ingest_front import IngestFront
from syncengine.web.request_ids import RequestIdMiddleware
from syncengine.web.services import BackgroundWork, WebConfig, WebServices

__all__ = ["SIGN_IN_BYTES", "UPLOAD_ROUTES", "create_app", "route_limits"]

# A sign-in form is a name, a password, a CSRF token and a return path.
SIGN_IN_BYTES = 64 * 1024
# The routes that take support-request attachments.
UPLOAD_ROUTES = ("/projects/{project}/support", "/api/v1/projects/{project}/support-requests")


def route_limits(config: WebConfig) -> dict[str, RouteLimit]:
    """Each route's body limit, by path template (others have ``max_body_bytes``)."""
    # The intake reads its bodies itself, within ingest.max_request_bytes, compressed
    # and decompressed, and answers in its own problem documents.
    limits = {route.path: RouteLimit(limit=None) for route in ingest_endpoints.router.routes}  # type: ignore[attr-defined]
    limits[webhook_receiver.PATH] = RouteLimit(
        limit=config.max_webhook_bytes, hint="raise http.max_webhook_bytes for larger deliveries"
    )
    upload = RouteLimit(
        limit=config.upload_limit,
        hint="attach fewer or smaller files (projects.<slug>.support.max_attachment_bytes)",
    )
    limits.update(dict.fromkeys(UPLOAD_ROUTES, upload))
    sign_in = RouteLimit(limit=SIGN_IN_BYTES)
    limits.update({"/login": sign_in, "/logout": sign_in})
    return limits


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
            app.state.password_checks.close()

    config = services.config
    app = FastAPI(
        title="syncengine",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    # Set at once: test transports may not run the lifespan.
    app.state.services = services
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    app.include_router(webhook_receiver.router)
    app.include_router(ingest_endpoints.router)
    app.include_router(groups_router)
    app.include_router(group_resolution_router)
    install_dashboard(app, config)
    install_api_docs(app, config)
    # The intake's routes skip the stack below (sessions, routing, dependencies): one event
    # per request pays it per event. Inside BodyLimits and HttpMetrics, which it relies on.
    app.add_middleware(
        IngestFront,
        routes=ingest_endpoints.router.routes,
        before=[*health.router.routes, *webhook_receiver.router.routes],
        services=services,
    )
    # Outermost, so no route, session or form parser reads a byte past the limit.
    app.add_middleware(
        BodyLimits,
        limits=route_limits(config),
        default=RouteLimit(limit=config.max_body_bytes, hint="the limit is http.max_body_bytes"),
        read_timeout=config.body_timeout_seconds,
    )
    # Outside BodyLimits, so its 413 and 408 answers are counted under their route too.
    app.add_middleware(HttpMetrics, metrics=services.metrics)
    if config.trusted_proxies:
        # X-Forwarded-For is believed only from these peers (uvicorn's own is off).
        app.add_middleware(
            ProxyHeadersMiddleware, trusted_hosts=[str(net) for net in config.trusted_proxies]
        )
    return app
