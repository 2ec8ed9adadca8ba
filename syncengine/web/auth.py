"""Who is signed in: session users (admin or portal) and the admin API token.

The session cookie is signed (Starlette's SessionMiddleware, itsdangerous) and
carries ``sid`` (the token of a server-side session, :mod:`syncengine.web.sessions`),
``user`` (the login name) and ``csrf`` (see :mod:`syncengine.web.csrf`). The
server-side session decides: it ends at sign-out, at its absolute expiry, and when
its user is removed from ``[web.users]`` or gets another password hash.

Dependencies for routes:

* :data:`UserDep` — the signed-in user; pages without one redirect to the sign-in page.
* :data:`AdminDep` — the same, and the user must be an admin (403 otherwise).
* :data:`PrincipalDep` — for the JSON API: the admin token (``Authorization: Bearer``)
  or a session user; 401 without either.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, Request
from pydantic import SecretStr

from syncengine.web.services import get_services

__all__ = [
    "AdminDep",
    "Forbidden",
    "LoginRequired",
    "OptionalUserDep",
    "PrincipalDep",
    "User",
    "UserDep",
    "bearer_token",
    "current_user",
    "sign_in",
    "sign_out",
    "token_matches",
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
    """The signed-in user, or None (also when the session ended or the user was removed).

    The session was checked against the store by
    :class:`~syncengine.web.sessions.SessionCheck` before the route ran.
    """
    name = request.scope.get("state", {}).get("user_name")
    if not isinstance(name, str):
        return None
    configured = get_services(request).config.users.get(name)
    if configured is None:
        return None
    return User(name=name, role=configured.role, email=configured.email)


async def sign_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new token and CSRF token: nothing carries over)."""
    sessions = get_services(request).sessions
    previous = request.session.get("sid")
    if isinstance(previous, str):
        await sessions.end(previous)
    request.session.clear()
    request.session["sid"] = await sessions.start(user.name)
    request.session["user"] = user.name
    request.scope.setdefault("state", {})["user_name"] = user.name


async def sign_out(request: Request) -> None:
    """End the session, here and in the store (the cookie is worthless afterwards)."""
    token = request.session.get("sid")
    if isinstance(token, str):
        await get_services(request).sessions.end(token)
    request.session.clear()
    request.scope.setdefault("state", {})["user_name"] = None


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


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def token_matches(token: str, secret: SecretStr | None) -> bool:
    """True when ``token`` is ``secret`` (constant-time; False when no secret is set)."""
    if secret is None:
        return False
    # Digests first: compare_digest is constant-time only for inputs of equal length.
    given = hashlib.sha256(token.encode()).digest()
    return hmac.compare_digest(given, hashlib.sha256(secret.get_secret_value().encode()).digest())


def _principal(request: Request) -> User:
    token = bearer_token(request)
    if token is not None:
        configured = get_services(request).config.admin_token
        if configured is None:
            raise ApiUnauthorized(
                "the admin API token is off: set admin_token (or admin_token_env / "
                "admin_token_file) in the configuration"
            )
        if token_matches(token, configured):
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
