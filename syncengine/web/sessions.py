"""Dashboard sessions held server-side, so that signing out really ends them.

The session cookie (signed, see :mod:`syncengine.web.auth`) carries a random
token; the store keeps its digest, the user, when it expires, and a fingerprint
of the user's password hash at sign-in. A session is good while its row exists,
has not expired, and its user is still configured with the same password hash:
signing out deletes the row (a copied cookie replayed afterwards is refused), and
a changed ``password_hash`` ends every session of that user on its next use (and
at start-up, :meth:`WebSessions.end_stale`). ``syncengine user sign-out NAME`` ends
them at once.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from starlette.types import ASGIApp, Receive, Scope, Send

from syncengine.errors import StoreError
from syncengine.store.web_sessions import WebSessionRepository

__all__ = ["SessionCheck", "WebSessions", "password_fingerprint"]

log = logging.getLogger(__name__)


def password_fingerprint(password_hash: str) -> str:
    """A digest of a password hash: equal while the hash is, and useless to a guesser."""
    return hashlib.sha256(b"syncengine-session\0" + password_hash.encode()).hexdigest()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WebSessions:
    """Starts, checks and ends dashboard sessions."""

    def __init__(
        self,
        *,
        repository: WebSessionRepository,
        password_hashes: Mapping[str, str],
        max_age: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        """``password_hashes``: each configured user's current ``password_hash``."""
        self._sessions = repository
        self._fingerprints = {n: password_fingerprint(h) for n, h in password_hashes.items()}
        self.max_age = max_age
        self._clock = clock

    async def start(self, user_name: str) -> str:
        """A new session for ``user_name``; the token for its cookie."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        await self._sessions.start(
            _digest(token),
            user_name=user_name,
            fingerprint=self._fingerprints.get(user_name, ""),
            now=now,
            expires_at=now + self.max_age,
        )
        return token

    async def user_of(self, token: str) -> str | None:
        """The user whose session ``token`` is, or None (a session found stale is ended)."""
        digest = _digest(token)
        record = await self._sessions.get(digest)
        if record is None:
            return None
        if (
            record.expires_at <= self._clock()
            or self._fingerprints.get(record.user_name) != record.password_fingerprint
        ):
            await self._sessions.end(digest)
            return None
        return record.user_name

    async def end(self, token: str) -> None:
        """End the session ``token`` (sign-out)."""
        await self._sessions.end(_digest(token))

    async def end_all(self, user_name: str) -> int:
        """End every session of ``user_name``; how many there were."""
        return await self._sessions.end_for_user(user_name)

    async def end_stale(self) -> int:
        """End expired sessions and those of removed users or changed passwords."""
        return await self._sessions.end_stale(self._fingerprints, now=self._clock())


class SessionCheck:
    """Pure ASGI middleware: who the session cookie signs in, checked against the store.

    Runs inside Starlette's SessionMiddleware (which decodes the cookie into
    ``scope["session"]``) and puts the user's name, or None, in
    ``scope["state"]["user_name"]`` for :func:`~syncengine.web.auth.current_user`.
    A cookie whose session is over is emptied, so the browser forgets it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        session = scope.get("session")
        name: str | None = None
        if session:
            token = session.get("sid")
            if isinstance(token, str):
                sessions: WebSessions = scope["app"].state.services.sessions
                try:
                    name = await sessions.user_of(token)
                except StoreError as exc:
                    # Fail closed: without the store nobody is signed in (the cookie stays).
                    log.warning("session check failed, treating the request as anonymous: %s", exc)
                    token = None
                if name is None and token is not None:
                    session.clear()
            elif "user" in session:
                session.clear()  # a cookie of the signed-only kind: no session behind it
        scope.setdefault("state", {})["user_name"] = name
        await self.app(scope, receive, send)
