"""Dashboard sessions, server-side: started at sign-in, looked up per request, ended at sign-out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from syncengine.store.database import Database
from syncengine.store.tables import WebSession

__all__ = ["WebSessionRecord", "WebSessionRepository"]


@dataclass(frozen=True, kw_only=True, slots=True)
class WebSessionRecord:
    """One signed-in session."""

    user_name: str
    password_fingerprint: str
    created_at: datetime
    expires_at: datetime


class WebSessionRepository:
    """Reads and writes :class:`WebSession` rows (keyed by the digest of the cookie's token)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(
        self,
        digest: str,
        *,
        user_name: str,
        fingerprint: str,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Record a new session; sessions already expired are dropped on the way."""
        async with self._db.session() as session:
            await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
            session.add(
                WebSession(
                    token_digest=digest,
                    user_name=user_name,
                    password_fingerprint=fingerprint,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    async def get(self, digest: str) -> WebSessionRecord | None:
        """The session with this token digest, or None."""
        async with self._db.session() as session:
            row = await session.get(WebSession, digest)
            if row is None:
                return None
            return WebSessionRecord(
                user_name=row.user_name,
                password_fingerprint=row.password_fingerprint,
                created_at=row.created_at,
                expires_at=row.expires_at,
            )

    async def end(self, digest: str) -> None:
        """End one session (signing out)."""
        async with self._db.session() as session:
            await session.execute(delete(WebSession).where(WebSession.token_digest == digest))

    async def end_for_user(self, user_name: str) -> int:
        """End every session of ``user_name``; how many there were."""
        async with self._db.session() as session:
            result = await session.execute(
                delete(WebSession).where(WebSession.user_name == user_name)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def end_stale(self, fingerprints: Mapping[str, str], *, now: datetime) -> int:
        """End expired sessions and those whose user is gone or has another password.

        ``fingerprints``: each configured user's current password fingerprint.
        """
        ended = 0
        async with self._db.session() as session:
            result = await session.execute(delete(WebSession).where(WebSession.expires_at <= now))
            ended += int(result.rowcount)  # type: ignore[attr-defined]
            pairs = await session.execute(
                select(WebSession.user_name, WebSession.password_fingerprint).distinct()
            )
            for user_name, fingerprint in pairs.all():
                if fingerprints.get(user_name) == fingerprint:
                    continue
                result = await session.execute(
                    delete(WebSession).where(
                        WebSession.user_name == user_name,
                        WebSession.password_fingerprint == fingerprint,
                    )
                )
                ended += int(result.rowcount)  # type: ignore[attr-defined]
        return ended
