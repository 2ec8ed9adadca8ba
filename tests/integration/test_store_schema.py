"""Migrations produce exactly the models' schema, on every backend."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from syncengine.store.database import Database, sync_url
from syncengine.store.migrate import current_revision, head_revision
from syncengine.store.tables import Base, include_in_schema


def test_migrations_match_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(
                    conn, opts={"compare_type": True, "include_name": include_in_schema}
                ),
                Base.metadata,
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


def test_migration_0010_goes_down_and_up_again(tmp_path: pytest.TempPathFactory) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from syncengine.store.migrate import alembic_config, upgrade

    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url)

    def group_columns() -> set[str]:
        engine = create_engine(sync_url(url))
        try:
            return {c["name"] for c in inspect(engine).get_columns("error_groups")}
        finally:
            engine.dispose()

    assert "version_problem" in group_columns()
    command.downgrade(alembic_config(url), "0009")  # below 0010, which added it
    assert current_revision(url) != head_revision()
    assert "version_problem" not in group_columns()
    upgrade(url)
    assert current_revision(url) == head_revision()
    assert "version_problem" in group_columns()


async def test_sqlite_fold_connection_has_its_own_page_cache(
    tmp_path: pytest.TempPathFactory,
) -> None:
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path}/c.db", bulk_cache_mib=8)
    try:
        fold_cache = await db.run_bulk(lambda c: c.execute(text("PRAGMA cache_size")).scalar())
        assert fold_cache == -8 * 1024
        async with db.connect() as conn:  # every other connection keeps SQLite's default
            assert (await conn.execute(text("PRAGMA cache_size"))).scalar() == -2000
        assert db.checked_out() == 0
    finally:
        await db.aclose()


async def test_a_fold_transaction_commits_whole_or_not_at_all_off_the_event_loop(
    tmp_path: pytest.TempPathFactory,
) -> None:
    import threading

    from sqlalchemy import text

    from syncengine.errors import StoreError

    db = Database(f"sqlite:///{tmp_path}/t.db")
    loop_thread = threading.get_ident()
    try:
        await db.run_bulk(lambda c: c.execute(text("CREATE TABLE t (n INTEGER)")))

        def write(conn: object, fail: bool) -> int:
            conn.execute(text("INSERT INTO t VALUES (1)"))  # type: ignore[attr-defined]
            if fail:
                raise RuntimeError("half way")
            return threading.get_ident()

        # On SQLite the whole transaction runs on the fold's own thread, in one hand-off.
        assert await db.run_bulk(lambda c: write(c, False)) != loop_thread
        with pytest.raises(RuntimeError, match="half way"):
            await db.run_bulk(lambda c: write(c, True))
        async with db.connect() as conn:  # the failed one rolled back
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 1
        assert db.checked_out() == 0
    finally:
        await db.aclose()
    with pytest.raises(StoreError, match="closed"):
        await db.run_bulk(lambda c: write(c, False))
    await db.aclose()  # twice is harmless


def test_migration_0019_gives_stored_versions_their_groups_times(database_url: str) -> None:
    """Groups stored before 0019 keep their versions; their times are first and last seen."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import text

    from syncengine.store.migrate import alembic_config, upgrade
    from syncengine.store.tables import to_epoch_ms

    url = sync_url(database_url)
    command.downgrade(alembic_config(url), "0018")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM error_groups"))
            conn.execute(text("DELETE FROM projects"))
            conn.execute(
                text(
                    "INSERT INTO projects (id, slug, name, integration_active, created_at,"
                    " updated_at) VALUES (1, 'p', '', true, :t, :t)"
                ),
                {"t": "2026-12-01 10:00:00"},
            )
            for n, (first, last) in enumerate([("1.0", "2.0"), (None, None)]):
                conn.execute(
                    text(
                        "INSERT INTO error_groups (project_id, fingerprint, state, classifier,"
                        " message, count, first_seen, last_seen, first_version, last_version,"
                        " regression_count, updated_at) VALUES (1, :fp, 'open', '', '', 1,"
                        " :first_seen, :last_seen, :first, :last, 0, :last_seen)"
                    ),
                    {
                        "fp": f"g{n}",
                        "first_seen": "2026-12-01 10:00:00.123456",
                        "last_seen": "2026-12-02 11:00:00",
                        "first": first,
                        "last": last,
                    },
                )
        upgrade(database_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT fingerprint, first_version_ms, last_version_ms"
                    " FROM error_groups ORDER BY fingerprint"
                )
            ).all()
    finally:
        engine.dispose()
    first = to_epoch_ms(datetime(2026, 12, 1, 10, 0, 0, 123000, tzinfo=UTC))
    last = to_epoch_ms(datetime(2026, 12, 2, 11, 0, tzinfo=UTC))
    assert [tuple(row) for row in rows] == [("g0", first, last), ("g1", None, None)]
