"""Who is signed in: session users (admin or portal) and the admin API token.

Sessions live in a signed cookie (Starlette's SessionMiddleware, itsdangerous):
``user`` (the login name), ``since`` (sign-in time, for an absolute expiry) and
``csrf`` (see :mod:`syncengine.web.csrf`). Users come from ``[web.users]``: a user
removed from the configuration is signed out on the next request.

Dependencies for routes:

* :data:`UserDep` — the signed-in user; pages without one redirect to the sign-in page.
* :data:`AdminDep` — the same, and the user must be an admin (403 otherwise).
* :data:`PrincipalDep` — for the JSON API: the admin token (``Authorization: Bearer``)
  or a session user; 401 without either.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, Request

from syncengine.web.services import get_services

__all__ = [
    "AdminDep",
    "Forbidden",
    "LoginRequired",
    "OptionalUserDep",
    "PrincipalDep",
    "User",
    "UserDep",
    "current_user",
    "sign_in",
    "sign_out",
]

SESSION_COOKIE = "syncengine_session"


@dataclass(frozen=True, kw_only=True, slots=True)
class User:
    """A signed-in person (or the admin API token, as ``api``)."""

    name: str
    role: Literal["admin", "portal"]
    email: str = ""

    @property
    def is_admin(self) -> bool:
        """Admins see everything; portal users only their own support requests."""
        return self.role == "admin"


class LoginRequired(Exception):  # control flow for a redirect, not an error
    """No one is signed in: pages answer with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url

    def location(self) -> str:
        """The sign-in URL that comes back here afterwards."""
        return f"/login?next={quote(self.next_url, safe='/')}"


class Forbidden(Exception):  # answered as 403 by the app's handler
    """The signed-in user may not see this."""


def current_user(request: Request) -> User | None:
    """The signed-in user, or None (also when the session expired or the user was removed)."""
    name = request.session.get("user")
    if not isinstance(name, str):
        return None
    config = get_services(request).config
    since = request.session.get("since")
    max_age = config.session_max_age_seconds
    if not isinstance(since, int | float) or time.time() - since > max_age:
        request.session.pop("user", None)
        return None
    configured = config.users.get(name)
    if configured is None:
        request.session.pop("user", None)
        return None
    return User(name=name, role=configured.role, email=configured.email)


def sign_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new CSRF token: nothing carries over)."""
    request.session.clear()
    request.session["user"] = user.name
    request.session["since"] = int(time.time())


def sign_out(request: Request) -> None:
    """End the session."""
    request.session.clear()


def _require_user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return user


def _require_admin(user: Annotated[User, Depends(_require_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("admins only")
    return user


class ApiUnauthorized(Exception):  # answered as 401 JSON by the app's handler
    """The JSON API needs the admin token or a signed-in session."""


def _principal(request: Request) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        configured = get_services(request).config.admin_token
        if configured is None:
            raise ApiUnauthorized(
                "the admin API token is off: set admin_token (or admin_token_env / "
                "admin_token_file) in the configuration"
            )
        # Digests first: compare_digest is constant-time only for inputs of equal length.
        given = hashlib.sha256(token.strip().encode()).digest()
        if hmac.compare_digest(
            given, hashlib.sha256(configured.get_secret_value().encode()).digest()
        ):
            return User(name="api", role="admin")
        raise ApiUnauthorized("the bearer token is not the configured admin token")
    user = current_user(request)
    if user is None:
        raise ApiUnauthorized("sign in, or send the admin token as 'Authorization: Bearer …'")
    return user


UserDep = Annotated[User, Depends(_require_user)]
OptionalUserDep = Annotated[User | None, Depends(current_user)]
AdminDep = Annotated[User, Depends(_require_admin)]
PrincipalDep = Annotated[User, Depends(_principal)]
