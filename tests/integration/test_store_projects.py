"""Projects and submission tokens, on every backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from syncengine.store.database import Database
from syncengine.store.projects import ProjectRepository, token_digest
from syncengine.store.tables import AuditLog, SubmissionToken

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def test_ensure_is_idempotent_and_keeps_runtime_switch(db: Database) -> None:
    repo = ProjectRepository(db)
    first = await repo.ensure("shop", name="Shop", integration_active=True, now=NOW)
    await repo.set_active("shop", False, actor="test", now=NOW)
    again = await repo.ensure("shop", name="Shop", integration_active=True, now=NOW)
    assert again.id == first.id
    assert again.integration_active is False
    assert [p.slug for p in await repo.all()] == ["shop"]


async def test_tokens_are_stored_hashed_and_authenticate(db: Database) -> None:
    repo = ProjectRepository(db)
    project = await repo.ensure("shop", name="", integration_active=True, now=NOW)
    await repo.set_tokens(
        project.id, ["tok-one-123456", "tok-two-123456"], source="config", now=NOW
    )
    async with db.session() as session:
        stored = set((await session.scalars(select(SubmissionToken.token_sha256))).all())
    assert stored == {token_digest("tok-one-123456"), token_digest("tok-two-123456")}
    assert await repo.authenticate("shop", "tok-two-123456") == project
    assert await repo.authenticate("shop", "wrong") is None
    assert await repo.authenticate("other", "tok-one-123456") is None
    # Re-applying config drops a token that left it, keeps the rest.
    await repo.set_tokens(project.id, ["tok-one-123456"], source="config", now=NOW)
    assert await repo.authenticate("shop", "tok-two-123456") is None
    assert await repo.token_count(project.id) == 1


async def test_switch_is_audited(db: Database) -> None:
    repo = ProjectRepository(db)
    await repo.ensure("shop", name="", integration_active=True, now=NOW)
    assert await repo.set_active("nope", False, actor="x", now=NOW) is None
    record = await repo.set_active("shop", False, actor="ops@example.com", now=NOW)
    assert record is not None
    assert not record.integration_active
    async with db.session() as session:
        entry = await session.scalar(select(AuditLog))
    assert entry is not None
    assert (entry.actor, entry.action, entry.detail) == (
        "ops@example.com",
        "integration.deactivate",
        {"before": True, "after": False},
    )
    assert entry.created_at == NOW


async def test_naive_datetimes_are_refused(db: Database) -> None:
    repo = ProjectRepository(db)
    with pytest.raises(Exception, match="naive datetime"):
        await repo.ensure("shop", name="", integration_active=True, now=datetime(2026, 1, 1))


async def test_processes_starting_at_once_make_one_project_and_one_generated_token(
    db: Database,
) -> None:
    # Several processes start on one database at once: each finds the project missing and
    # no generated token yet. None may fail, and exactly one token is generated (a second
    # would replace the first, which its process has already shown once).
    repo = ProjectRepository(db)
    for slug in ("shop", "cart", "pay"):
        projects = await asyncio.gather(
            *(repo.ensure(slug, name="", integration_active=True, now=NOW) for _ in range(4))
        )
        assert len({p.id for p in projects}) == 1
        tokens = await asyncio.gather(
            *(repo.generate_token_once(projects[0].id, now=NOW) for _ in range(4))
        )
        made = [t for t in tokens if t is not None]
        assert len(made) == 1, tokens
        assert await repo.authenticate(slug, made[0]) == projects[0]
        assert await repo.token_count(projects[0].id, source="generated") == 1
        assert await repo.generate_token_once(projects[0].id, now=NOW) is None
    assert sorted(p.slug for p in await repo.all()) == ["cart", "pay", "shop"]
