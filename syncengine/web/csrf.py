"""CSRF protection: a per-session token in every form, checked on every state change.

Forms put :func:`csrf_token` in a hidden ``csrf_token`` field (templates call
``csrf_field()``); JSON API calls made with a session cookie send it as the
``X-CSRF-Token`` header. Calls authenticated with the admin token carry no
cookie and need none. :func:`require_csrf` is a dependency for POST routes.
"""

from __future__ import annotations

import secrets

from fastapi import Request
from markupsafe import Markup, escape

from syncengine.domain.digests import same_text

__all__ = ["CsrfRejected", "csrf_field", "csrf_token", "require_csrf"]

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CsrfRejected(Exception):  # answered as 403 by the app's handler
    """A state-changing request came without the session's CSRF token."""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_field(request: Request) -> Markup:
    """The hidden form field carrying the token (for templates)."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(
        escape(csrf_token(request))
    )


async def require_csrf(request: Request) -> None:
    """Refuse a state-changing request whose token is missing or wrong (CsrfRejected)."""
    if request.method in _SAFE_METHODS:
        return
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        # Token calls carry no cookie, so no other site can forge them; the token
        # itself is checked by the route's PrincipalDep.
        return
    if request.session.get("user") is None and request.url.path.startswith("/api/"):
        # An API call with no session has nothing to forge: the route's auth answers 401.
        # (Forms keep the check: a forged sign-in is an attack of its own.)
        return
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not sent or not same_text(sent, expected):
        raise CsrfRejected("the form is missing its security token or it has expired")
