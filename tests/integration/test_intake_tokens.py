"""The intake's token check: accepted tokens are trusted for ``token_cache_seconds``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syncengine.bootstrap.values import report_contexts
from syncengine.ingest.intake import Intake
from syncengine.ingest.problems import TokenRejected
from syncengine.ingest.sink import InMemorySink
from syncengine.settings import Settings
from syncengine.store.database import Database
from syncengine.store.projects import ProjectRepository

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


async def _intake(db: Database, clock: Clock, seconds: float) -> tuple[Intake, ProjectRepository]:
    projects = ProjectRepository(db)
    project = await projects.ensure("shop", name="", integration_active=True, now=T0)
    await projects.set_tokens(project.id, ["tok-1", "tok-2"], source="config", now=T0)
    intake = Intake(
        projects=projects,
        sink=InMemorySink(),
        contexts=report_contexts(Settings()),
        clock=clock,
        token_cache_seconds=seconds,
    )
    return intake, projects


async def test_a_removed_token_is_trusted_until_its_cache_time_runs_out(db: Database) -> None:
    clock = Clock()
    intake, projects = await _intake(db, clock, seconds=10)
    project = await intake.project_for("tok-1", "shop", how="h")
    await projects.set_tokens(project.id, ["tok-2"], source="config", now=T0)
    clock.now += timedelta(seconds=9)
    assert (await intake.project_for("tok-1", how="h")).slug == "shop"  # from the cache
    with pytest.raises(TokenRejected):
        await intake.project_for("tok-3", how="h")  # unknown tokens always ask the store
    clock.now += timedelta(seconds=2)
    with pytest.raises(TokenRejected):
        await intake.project_for("tok-1", how="h")
    assert (await intake.project_for("tok-2", how="h")).id == project.id


async def test_no_cache_asks_the_store_every_time(db: Database) -> None:
    clock = Clock()
    intake, projects = await _intake(db, clock, seconds=0)
    project = await intake.project_for("tok-1", how="h")
    await projects.set_tokens(project.id, ["tok-2"], source="config", now=T0)
    with pytest.raises(TokenRejected):
        await intake.project_for("tok-1", how="h")
