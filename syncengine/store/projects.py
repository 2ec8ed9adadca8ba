"""Projects and their submission tokens (kept only as SHA-256 digests)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from syncengine.store.audit import AuditRepository
from syncengine.store.database import Database, conflict_insert
from syncengine.store.tables import Project, SubmissionToken

__all__ = ["ProjectRecord", "ProjectRepository", "generate_token", "token_digest"]


def token_digest(token: str) -> str:
    """The stored form of a submission token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def generate_token() -> str:
    """A new random submission token (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, kw_only=True, slots=True)
class ProjectRecord:
    """A project as the rest of the engine sees it."""

    id: int
    slug: str
    name: str
    integration_active: bool


def _record(row: Project) -> ProjectRecord:
    return ProjectRecord(
        id=row.id, slug=row.slug, name=row.name, integration_active=row.integration_active
    )


class ProjectRepository:
    """Reads and writes projects and their tokens."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def ensure(
        self, slug: str, *, name: str, integration_active: bool, now: datetime
    ) -> ProjectRecord:
        """Create the project on first sight; an existing one keeps its run-time switch.

        Processes starting at once may all see the project missing: the insert skips a
        slug another made meanwhile, so none fails.
        """
        async with self._db.session() as session:
            row = await session.scalar(select(Project).where(Project.slug == slug))
            if row is None:
                insert = conflict_insert(await session.connection(), Project)
                await session.execute(
                    insert.values(
                        slug=slug,
                        name=name or slug,
                        integration_active=integration_active,
                        created_at=now,
                        updated_at=now,
                    ).on_conflict_do_nothing(index_elements=["slug"])
                )
                row = await session.scalar(select(Project).where(Project.slug == slug))
                assert row is not None
            if name and row.name != name:
                row.name = name
                row.updated_at = now
            return _record(row)

    async def get(self, slug: str) -> ProjectRecord | None:
        """The project with this slug, if any."""
        async with self._db.session() as session:
            row = await session.scalar(select(Project).where(Project.slug == slug))
            return None if row is None else _record(row)

    async def all(self) -> list[ProjectRecord]:
        """Every project, by slug."""
        async with self._db.session() as session:
            rows = await session.scalars(select(Project).order_by(Project.slug))
            return [_record(row) for row in rows]

    async def set_tokens(
        self, project_id: int, tokens: list[str], *, source: str, now: datetime
    ) -> None:
        """Make ``tokens`` the project's tokens from ``source`` (others sources stay)."""
        digests = {token_digest(t): t for t in tokens}
        async with self._db.session() as session:
            rows = (
                await session.scalars(
                    select(SubmissionToken).where(
                        SubmissionToken.project_id == project_id, SubmissionToken.source == source
                    )
                )
            ).all()
            for row in rows:
                if row.token_sha256 not in digests:
                    await session.delete(row)
            known = {row.token_sha256 for row in rows}
            await self._add_tokens(
                session,
                project_id,
                {d: t for d, t in digests.items() if d not in known},
                source=source,
                now=now,
            )

    @staticmethod
    async def _add_tokens(
        session: AsyncSession,
        project_id: int,
        digests: dict[str, str],
        *,
        source: str,
        now: datetime,
    ) -> None:
        """Insert these tokens; one another process inserted meanwhile is skipped."""
        if not digests:
            return
        insert = conflict_insert(await session.connection(), SubmissionToken)
        await session.execute(
            insert.values(
                [
                    {
                        "project_id": project_id,
                        "token_sha256": digest,
                        "source": source,
                        "hint": token[:4],
                        "created_at": now,
                    }
                    for digest, token in digests.items()
                ]
            ).on_conflict_do_nothing(index_elements=["token_sha256"])
        )

    async def generate_token_once(self, project_id: int, *, now: datetime) -> str | None:
        """A new generated token for the project, unless it has one: the token (to be
        shown once), or None when one was generated before.

        The project's row is written first, so processes starting at once take turns
        here: exactly one of them generates the token, and the others see it.
        """
        async with self._db.session() as session:
            await session.execute(
                update(Project).where(Project.id == project_id).values(updated_at=now)
            )
            existing = await session.scalar(
                select(SubmissionToken.id)
                .where(SubmissionToken.project_id == project_id)
                .where(SubmissionToken.source == "generated")
                .limit(1)
            )
            if existing is not None:
                return None
            token = generate_token()
            await self._add_tokens(
                session, project_id, {token_digest(token): token}, source="generated", now=now
            )
            return token

    async def token_count(self, project_id: int, *, source: str | None = None) -> int:
        """How many tokens the project has (from one source, or all)."""
        query = select(SubmissionToken.id).where(SubmissionToken.project_id == project_id)
        if source is not None:
            query = query.where(SubmissionToken.source == source)
        async with self._db.session() as session:
            return len((await session.scalars(query)).all())

    async def authenticate(self, slug: str, token: str) -> ProjectRecord | None:
        """The project when ``token`` is one of its submission tokens, else None."""
        digest = token_digest(token)
        async with self._db.session() as session:
            row = await session.execute(
                select(Project, SubmissionToken.token_sha256)
                .join(SubmissionToken, SubmissionToken.project_id == Project.id)
                .where(Project.slug == slug, SubmissionToken.token_sha256 == digest)
            )
            found = row.first()
        if found is None or not hmac.compare_digest(found[1], digest):
            return None
        return _record(found[0])

    async def any_active(self) -> bool:
        """True when at least one project's integration is Active (one indexed probe)."""
        async with self._db.session() as session:
            found = await session.scalar(
                select(Project.id).where(Project.integration_active.is_(True)).limit(1)
            )
        return found is not None

    async def set_active(
        self, slug: str, active: bool, *, actor: str, now: datetime
    ) -> ProjectRecord | None:
        """Switch the integration Active/Passive and write it to the audit log."""
        async with self._db.session() as session:
            row = await session.scalar(select(Project).where(Project.slug == slug))
            if row is None:
                return None
            before = row.integration_active
            row.integration_active = active
            row.updated_at = now
            AuditRepository.add(
                session,
                project_id=row.id,
                actor=actor,
                action="integration.activate" if active else "integration.deactivate",
                detail={"before": before, "after": active},
                now=now,
            )
            return _record(row)

    async def by_token(self, token: str) -> ProjectRecord | None:
        """The project ``token`` is a submission token of, or None (digests are unique)."""
        digest = token_digest(token)
        async with self._db.session() as session:
            row = await session.execute(
                select(Project, SubmissionToken.token_sha256)
                .join(SubmissionToken, SubmissionToken.project_id == Project.id)
                .where(SubmissionToken.token_sha256 == digest)
            )
            found = row.first()
        if found is None or not hmac.compare_digest(found[1], digest):
            return None
        return _record(found[0])
