"""Migrations produce exactly the models' schema, on every backend."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from syncengine.store.database import Database, sync_url
from syncengine.store.migrate import current_revision, head_revision
from syncengine.store.tables import Base


def test_migrations_match_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_database_is_at_head(database_url: str) -> None:
    assert current_revision(database_url) == head_revision()


async def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: pytest.TempPathFactory) -> None:
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path}/x.db")
    try:
        async with db.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await db.aclose()
