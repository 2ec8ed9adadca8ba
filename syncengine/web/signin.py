"""Sign-in and sign-out pages, and the home page that sends each user to their start."""

from __future__ import annotations

import logging
import math
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncengine.web.auth import OptionalUserDep, User, sign_in, sign_out
from syncengine.web.csrf import require_csrf
from syncengine.web.login_throttle import LoginThrottle
from syncengine.web.page_templates import flash, render
from syncengine.web.passwords import PasswordChecks, PasswordChecksBusy, verify_password
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


def _in(seconds: float) -> str:
    if seconds < 90:
        whole = max(1, math.ceil(seconds))
        return f"{whole} second{'s' if whole != 1 else ''}"
    return f"{math.ceil(seconds / 60)} minutes"


@router.post("/login", dependencies=[Depends(require_csrf)], response_class=HTMLResponse)
async def login(
    request: Request,
    services: ServicesDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password; the guesser waits longer after each failure (see LoginThrottle)."""
    throttle: LoginThrottle = request.app.state.login_throttle
    checks: PasswordChecks = request.app.state.password_checks
    # The peer, or the client a trusted proxy names (http.trusted_proxies).
    address = request.client.host if request.client else "unknown"
    username = username.strip()
    context = {"next": _safe_next(next), "username": username}
    wait = throttle.attempt(username, address)
    if wait is not None:
        log.warning("sign-in for %r from %s refused: too many failures", username, address)
        context["error"] = f"Too many failed sign-ins. Try again in {_in(wait)}."
        return render(
            request,
            "web/login.html",
            context,
            status_code=429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    configured = services.config.users.get(username)
    try:
        ok = await checks.verify(
            verify_password, configured.password_hash if configured else None, password
        )
    except PasswordChecksBusy:
        throttle.cancelled(username, address)
        log.warning("sign-in for %r from %s turned away: too many at once", username, address)
        context["error"] = "Too many sign-ins at once. Try again in a few seconds."
        return render(
            request, "web/login.html", context, status_code=503, headers={"Retry-After": "5"}
        )
    if configured is None or not ok:
        log.info("failed sign-in for %r from %s", username, address)
        context["error"] = "Wrong user name or password."
        return render(request, "web/login.html", context, status_code=401)
    throttle.succeeded(username, address)
    await sign_in(request, User(name=username, role=configured.role, email=configured.email))
    log.info("%s signed in from %s", username, address)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[Depends(require_csrf)])
async def logout(request: Request) -> RedirectResponse:
    """End the session."""
    await sign_out(request)
    flash(request, "You are signed out.")
    return RedirectResponse("/login", status_code=303)
