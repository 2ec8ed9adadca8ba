"""The dashboard: sessions, security headers, static files, its pages and its JSON API."""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from syncengine.web import (
    api_integration,
    api_support,
    group_pages,
    integration_pages,
    jira_pages,
    signin,
    support_pages,
)
from syncengine.web.auth import SESSION_COOKIE
from syncengine.web.error_handlers import install_error_handlers
from syncengine.web.login_throttle import LoginThrottle
from syncengine.web.page_templates import build_templates, page_csp, static_dir
from syncengine.web.passwords import PasswordChecks, is_password_hash
from syncengine.web.services import WebConfig
from syncengine.web.sessions import SessionCheck

__all__ = ["ALWAYS_HEADERS", "install_dashboard"]

log = logging.getLogger(__name__)

_CSP = page_csp()
# On every answer (the intake's fast path adds them too: web/ingest_front.py).
ALWAYS_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)


def _session_secret(config: WebConfig) -> str:
    if config.session_secret is not None:
        return config.session_secret.get_secret_value()
    if config.users:
        log.warning(
            "web.session_secret is not set: using a random one, so every sign-in ends when "
            "the process restarts (and processes do not share sessions); set "
            "web.session_secret_env or web.session_secret_file to keep them"
        )
    return secrets.token_urlsafe(48)


def _check_users(config: WebConfig) -> None:
    for name, user in config.users.items():
        if not is_password_hash(user.password_hash):
            log.warning(
                "web.users.%s.password_hash is not an argon2 hash: that user cannot sign in; "
                "make one with `syncengine user hash-password`",
                name,
            )


class SecurityHeaders:
    """Pure ASGI middleware adding the pages' security headers to every answer.

    Not ``@app.middleware("http")``: Starlette runs that in a task with memory
    streams per request, which was a tenth of the single-event intake's CPU.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS_HEADERS:
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Content-Security-Policy", _CSP)
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_dashboard(app: FastAPI, config: WebConfig) -> None:
    """Add sign-in, the support portal, error groups, the integration page and APIs to ``app``."""
    _check_users(config)
    app.state.templates = build_templates(config.templates_dir)
    app.state.login_throttle = LoginThrottle()
    app.state.password_checks = PasswordChecks(config.password_check_concurrency)
    app.add_middleware(SecurityHeaders)
    # Inside SessionMiddleware: the cookie is decoded first, then checked against the store.
    app.add_middleware(SessionCheck)
    app.add_middleware(
        SessionMiddleware,
        secret_key=_session_secret(config),
        session_cookie=SESSION_COOKIE,
        max_age=config.session_max_age_seconds,
        same_site="lax",
        https_only=config.https_only,
    )
    app.mount("/static", StaticFiles(directory=static_dir()), name="static")
    install_error_handlers(app)
    for router in (
        signin.router,
        support_pages.router,
        integration_pages.router,
        group_pages.router,
        jira_pages.router,
    ):
        app.include_router(router)
    app.include_router(api_support.router)
    app.include_router(api_integration.switch_router)
    app.include_router(api_integration.router)
