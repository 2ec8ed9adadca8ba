"""The one composition root: settings in, a wired :class:`Container` out.

The CLI, the web app's lifespan and the tests all build the engine here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from syncengine.ingest.sink import ReportSink
from syncengine.ingest.writer import BatchWriter, tune_gc_for_ingest
from syncengine.settings import Settings, mask_secret
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository
from syncengine.store.migrate import current_revision, head_revision, upgrade_async
from syncengine.store.projects import ProjectRepository, generate_token

__all__ = ["Container", "bootstrap", "prepare_projects", "utcnow"]


def utcnow() -> datetime:
    """The current time, aware, in UTC (the clock passed to the domain)."""
    return datetime.now(UTC)


@dataclass(kw_only=True)
class Container:
    """Everything a running engine needs, built once."""

    settings: Settings
    db: Database
    projects: ProjectRepository
    groups: GroupRepository
    ingest: ReportSink
    clock: Callable[[], datetime] = utcnow
    started_at: datetime = field(default_factory=utcnow)

    async def aclose(self) -> None:
        """Release every resource the container holds (accepted reports are written first)."""
        try:
            await self.ingest.aclose()
        finally:
            await self.db.aclose()


async def bootstrap(
    settings: Settings,
    *,
    migrate: bool | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Container:
    """Build the engine from ``settings``; upgrade the schema when asked or configured."""
    url = settings.effective_database_url
    if migrate if migrate is not None else settings.auto_migrate:
        await upgrade_async(url)
    db = Database(url)
    groups = GroupRepository(
        db,
        samples_first=settings.ingest.samples_first,
        samples_newest=settings.ingest.samples_newest,
    )
    ingest = BatchWriter.from_settings(groups, settings.ingest, clock=clock)
    tune_gc_for_ingest()
    ingest.start()
    return Container(
        settings=settings,
        db=db,
        projects=ProjectRepository(db),
        groups=groups,
        ingest=ingest,
        clock=clock,
    )


async def schema_is_current(container: Container) -> bool:
    """True when the database is at the newest migration the code knows."""
    import asyncio

    current = await asyncio.to_thread(current_revision, container.settings.effective_database_url)
    return current == head_revision()


async def prepare_projects(container: Container, echo: Callable[[str], None]) -> None:
    """Make the configured projects and their tokens exist in the store.

    A project with ``generate_token`` and no token configured gets one generated
    on its first start; it is printed once through ``echo`` and only its digest is
    kept. Configured tokens are printed masked.
    """
    now = container.clock()
    for slug, project in container.settings.projects.items():
        record = await container.projects.ensure(
            slug, name=project.name, integration_active=project.integration_active, now=now
        )
        tokens = [t.get_secret_value() for t in project.submission_tokens]
        await container.projects.set_tokens(record.id, tokens, source="config", now=now)
        for token in tokens:
            echo(f"project {slug}: submission token {mask_secret(token)}")
        if tokens or not project.generate_token:
            continue
        if await container.projects.token_count(record.id, source="generated"):
            env = project.submission_token_env or "a submission token"
            echo(f"project {slug}: using the token generated at first start (set {env} to choose)")
            continue
        token = generate_token()
        await container.projects.set_tokens(record.id, [token], source="generated", now=now)
        echo(f"project {slug}: generated submission token {token} (shown once: keep it)")
