"""Shared fixtures: hermetic environment, and one store fixture for every backend.

The ``db`` fixture runs each test on SQLite and on PostgreSQL (the local server,
or ``TEST_POSTGRES_URL``). In CI (``CI`` set) a missing PostgreSQL fails the run;
elsewhere those tests skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from syncengine.store.database import Database, sync_url
from syncengine.store.migrate import upgrade
from syncengine.store.tables import Base

REPO = Path(__file__).resolve().parent.parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# Property tests run on a shared, often loaded machine: a slow example is not a failure, so
# no per-example deadline and no "too slow" health check. Each test still sets its own
# example count where the default does not suit it.
settings.register_profile(
    "syncengine",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("syncengine")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SYNCENGINE_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("SYNCENGINE_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _in_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative paths (``data_dir``'s default ``./data``, where the bundled Jira simulator
    keeps its site) land in the test's own folder, never in the checkout or another test's."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    base = os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG)
    name = f"syncengine_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(sync_url(base), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            # A commit need not wait for its WAL to reach the disk (1.4 ms each here): only a
            # crash of the server itself could lose the last ones, which no test makes. What
            # a commit makes visible, and when, is unchanged.
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    except Exception as exc:
        admin.dispose()
        reason = f"PostgreSQL not reachable at {make_url(base).render_as_string()}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    url = make_url(sync_url(base)).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        engine = _EMPTIERS.pop(url, None)
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_EMPTIERS: dict[str, Engine] = {}  # per database, kept for the session: a connection is 30 ms


def _truncate_postgres(url: str) -> None:
    """Empty every table and restart every id sequence, as a fresh database has them.

    DELETE, children first, not TRUNCATE: a test leaves a few rows, and TRUNCATE gives
    each of the tables and their indexes new files (a fifth of a second, per test).
    """
    engine = _EMPTIERS.get(url)
    if engine is None:
        engine = _EMPTIERS[url] = create_engine(sync_url(url))
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(text(f'DELETE FROM "{table.name}"'))  # group_search: ON DELETE CASCADE
        conn.execute(
            text(
                "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false)"
                " FROM pg_sequences WHERE schemaname = current_schema()"
            )
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database URL on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A :class:`Database` on each backend; fails the test if a connection leaks."""
    database = Database(database_url)
    try:
        yield database
        assert database.checked_out() == 0, "a test left a database connection checked out"
    finally:
        await database.aclose()
