"""How errors look to users: a page for browsers, a JSON problem for the API."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.requests import ClientDisconnect

from syncengine.errors import InvalidInput, JiraError, NotFound
from syncengine.web.auth import ApiUnauthorized, Forbidden, LoginRequired
from syncengine.web.csrf import CsrfRejected
from syncengine.web.page_templates import render
from syncengine.web.problem_documents import problem

__all__ = ["client_gone", "install_error_handlers"]

log = logging.getLogger(__name__)


def client_gone(request: Request) -> Response:
    """The answer to a sender that hung up before its body arrived whole (a webhook sender
    that timed out, a proxy that cut the connection): nothing was read, so nothing was done,
    and the answer goes nowhere. Not an error of ours: one info line, no traceback."""
    log.info(
        "%s %s: the client hung up before its request was read",
        request.method,
        request.url.path,
    )
    return Response(status_code=400)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _answer(request: Request, status: int, title: str, detail: str, **extra: Any) -> Response:
    if _wants_json(request):
        return problem(status, detail, **extra)
    return render(request, "web/error.html", {"title": title, "detail": detail}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that turn the engine's errors into answers."""

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        return client_gone(request)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(exc.location(), status_code=303)

    @app.exception_handler(ApiUnauthorized)
    async def _unauthorized(request: Request, exc: ApiUnauthorized) -> Response:
        return problem(401, str(exc), headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        if _wants_json(request):
            return problem(403, f"not allowed: {exc}")
        return _answer(request, 403, "Not allowed", "You are not allowed to see this page.")

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, exc: CsrfRejected) -> Response:
        return _answer(
            request,
            403,
            "Form expired",
            "The form is missing its security token or it has expired. "
            "Go back, reload the page and send it again.",
        )

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return _answer(request, 404, "Not found", str(exc))

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        return _answer(request, 400, "Cannot accept this", str(exc), problems=exc.problems)

    @app.exception_handler(JiraError)
    async def _jira(request: Request, exc: JiraError) -> Response:
        return _answer(request, 502, "Jira error", exc.user_message())
