"""Sign-in and sign-out pages, and the home page that sends each user to their start."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncengine.web.auth import OptionalUserDep, User, sign_in, sign_out
from syncengine.web.csrf import require_csrf
from syncengine.web.login_throttle import LoginThrottle
from syncengine.web.page_templates import flash, render
from syncengine.web.passwords import verify_password
from syncengine.web.services import ServicesDep

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only same-site paths: "//evil.example" or "https://…" would make an open redirect.
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/", response_class=RedirectResponse)
async def home(user: OptionalUserDep) -> RedirectResponse:
    """Signed in: the support requests; otherwise the sign-in page."""
    return RedirectResponse("/support" if user else "/login", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, user: OptionalUserDep, next: str = "/") -> Response:
    """The sign-in form."""
    if user is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "web/login.html", {"next": _safe_next(next), "username": ""})


@router.post("/login", dependencies=[Depends(require_csrf)], response_class=HTMLResponse)
async def login(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; rate-limited per user name and per client address."""
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    username = username.strip()
    wait = throttle.retry_after(username, address)
    context = {"next": _safe_next(next), "username": username}
    if wait is not None:
        minutes = max(1, round(wait / 60))
        log.warning("sign-in for %r from %s refused: too many failures", username, address)
        context["error"] = f"Too many failed sign-ins. Try again in {minutes} minute(s)."
        return render(request, "web/login.html", context, status_code=429)
    configured = services.config.users.get(username)
    ok = await asyncio.to_thread(
        verify_password, configured.password_hash if configured else None, password
    )
    if configured is None or not ok:
        throttle.failed(username, address)
        log.info("failed sign-in for %r from %s", username, address)
        context["error"] = "Wrong user name or password."
        return render(request, "web/login.html", context, status_code=401)
    throttle.succeeded(username)
    sign_in(request, User(name=username, role=configured.role, email=configured.email))
    log.info("%s signed in from %s", username, address)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(require_csrf)])
async def logout(request: Request) -> RedirectResponse:
    """End the session."""
    sign_out(request)
    flash(request, "You are signed out.")
    return RedirectResponse("/login", status_code=303)
