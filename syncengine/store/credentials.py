"""Each project's OAuth credential for Jira, sealed at rest.

The repository seals on the way in and opens on the way out: callers see the secrets
as a dict, the database only ciphertext (:mod:`syncengine.store.secret_box`). Writes
that replace a credential another process may be replacing too (a token refresh) go
through :meth:`CredentialRepository.replace_if`, a compare-and-set on ``version``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, select, update

from syncengine.store.database import Database
from syncengine.store.secret_box import SecretBox
from syncengine.store.tables import JiraCredential

__all__ = ["CredentialKind", "CredentialRepository", "CredentialStatus", "StoredCredential"]

CredentialKind = Literal["oauth1", "oauth2"]
CredentialStatus = Literal["pending", "connected"]


@dataclass(frozen=True, kw_only=True)
class StoredCredential:
    """One project's credential, opened. ``secrets`` never goes to a log or a page."""

    project: str
    kind: CredentialKind
    status: CredentialStatus
    version: int
    expires_at: datetime | None
    updated_at: datetime
    secrets: dict[str, Any] = field(repr=False)


class CredentialRepository:
    """Reads and writes :class:`JiraCredential` rows, sealing what they hold."""

    def __init__(self, db: Database, box: SecretBox) -> None:
        self._db = db
        self._box = box

    def _open(self, row: JiraCredential) -> StoredCredential:
        secrets = json.loads(self._box.open(row.sealed))
        return StoredCredential(
            project=row.project_slug,
            kind=row.kind,  # type: ignore[arg-type]
            status=row.status,  # type: ignore[arg-type]
            version=row.version,
            expires_at=row.expires_at,
            updated_at=row.updated_at,
            secrets=secrets if isinstance(secrets, dict) else {},
        )

    async def get(self, project: str) -> StoredCredential | None:
        """The project's credential, or None when it has none.

        Raises:
            SecretUnreadable: no configured key opens it.
        """
        async with self._db.session("reading a Jira credential failed") as session:
            row = await session.get(JiraCredential, project)
            return None if row is None else self._open(row)

    async def put(
        self,
        project: str,
        *,
        kind: CredentialKind,
        status: CredentialStatus,
        secrets: dict[str, Any],
        expires_at: datetime | None,
        now: datetime,
    ) -> StoredCredential:
        """Store (or replace) the project's credential; the new version."""
        sealed = self._box.seal(json.dumps(secrets))
        async with self._db.session("storing a Jira credential failed") as session:
            row = await session.get(JiraCredential, project, with_for_update=True)
            if row is None:
                row = JiraCredential(project_slug=project, version=0)
                session.add(row)
            row.kind, row.status, row.sealed = kind, status, sealed
            row.version = (row.version or 0) + 1
            row.expires_at, row.updated_at = expires_at, now
            await session.flush()
            return self._open(row)

    async def replace_if(
        self,
        project: str,
        version: int,
        *,
        secrets: dict[str, Any],
        expires_at: datetime | None,
        now: datetime,
    ) -> bool:
        """Replace the secrets only if the stored version is still ``version``.

        False when another writer got there first: read again and use theirs.
        """
        sealed = self._box.seal(json.dumps(secrets))
        async with self._db.session("storing a refreshed Jira token failed") as session:
            result = await session.execute(
                update(JiraCredential)
                .where(
                    JiraCredential.project_slug == project,
                    JiraCredential.version == version,
                )
                .values(
                    sealed=sealed,
                    version=version + 1,
                    expires_at=expires_at,
                    updated_at=now,
                )
            )
            return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def delete(self, project: str) -> bool:
        """Forget the project's credential; whether it had one."""
        async with self._db.session("removing a Jira credential failed") as session:
            result = await session.execute(
                delete(JiraCredential).where(JiraCredential.project_slug == project)
            )
            return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def reseal_all(self) -> int:
        """Re-encrypt every stored credential with the first key; how many.

        Raises:
            SecretUnreadable: one was sealed with a key no longer configured.
        """
        async with self._db.session("re-encrypting Jira credentials failed") as session:
            rows = (await session.execute(select(JiraCredential).with_for_update())).scalars()
            count = 0
            for row in rows:
                row.sealed = self._box.reseal(row.sealed)
                count += 1
            return count
