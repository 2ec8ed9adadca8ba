"""Engine set-up for SQLite (WAL, foreign keys on) and PostgreSQL, both first class."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection as SyncConnection
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from syncengine.errors import StoreError
from syncengine.store.db_errors import FOREIGN_ERRORS, translate

__all__ = [
    "OUTBOX_ID_CHUNK",
    "Database",
    "SyncConnection",
    "async_url",
    "conflict_insert",
    "id_chunks",
    "sync_url",
]

_T = TypeVar("_T")

_FAILED = "the database failed"
_ID_CHUNK = 512  # ids per IN (...) list
# For queries SQLite answers from ix_outbox_unfinished_state (every unfinished item read
# per query, whatever the list): below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
OUTBOX_ID_CHUNK = 16_384


def id_chunks(ids: Iterable[int], *, most: int = _ID_CHUNK) -> Iterator[list[int]]:
    """``ids`` in lists for ``column.in_(...)``: at most ``most``, each padded to a power of two.

    An IN list of n values is an SQL text of its own, which SQLite prepares and
    caches per connection (128 texts), each compiled for its thousands of
    parameters (~0.5 MiB apiece). The ingest fold's lists have a new length in
    nearly every batch: unpadded, they filled the bulk connection's cache and the
    process's memory grew by ~100 MiB over 1 M reports. Padded (the last id
    repeated, which IN ignores), one query has at most ten texts (log2 ``most`` + 1).
    A query the planner answers by reading every unfinished outbox item takes a
    larger ``most`` (one list per batch, not one read per 512 groups).
    """
    ids = list(ids)
    for start in range(0, len(ids), most):
        chunk = ids[start : start + most]
        size = 1
        while size < len(chunk):
            size *= 2
        chunk += [chunk[-1]] * (size - len(chunk))
        yield chunk


def conflict_insert(conn: AsyncConnection | SyncConnection, table: Any) -> PgInsert | SqliteInsert:
    """An INSERT into ``table`` in ``conn``'s dialect, which takes ``ON CONFLICT`` clauses
    (both backends spell them alike: ``on_conflict_do_nothing`` / ``_do_update``)."""
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
_SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def async_url(url: str) -> str:
    """The URL with the async driver of its backend (aiosqlite or psycopg)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _ASYNC_DRIVERS:
        raise StoreError(f"unsupported database {backend!r}: use sqlite or postgresql")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend]).render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    """The URL with the blocking driver of its backend (for Alembic)."""
    parsed = make_url(url)
    return parsed.set(drivername=_SYNC_DRIVERS[parsed.get_backend_name()]).render_as_string(
        hide_password=False
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, cache_kib: int | None = None) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    if cache_kib is not None:
        cursor.execute(f"PRAGMA cache_size=-{int(cache_kib)}")  # negative: in KiB
    cursor.close()


def _bulk_pragmas(cache_kib: int) -> Any:
    def listener(dbapi_connection: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, record, cache_kib)

    return listener


def _postgres_session(idle_ms: int) -> Any:
    def listener(dbapi_connection: Any, _record: Any) -> None:
        # A process that stops inside a transaction (SIGSTOP, a paused VM, a lost network)
        # keeps its row locks until the server ends its session: every other process
        # waiting on those rows would wait as long. A set, not a startup option, so that
        # connection poolers that refuse startup options (PgBouncer) still take it.
        # A host that drops off the network mid-session (session advisory locks held too)
        # is found by the server's TCP keepalives within about a minute, not the kernel's
        # default two hours: 30 s idle, then 3 probes 10 s apart.
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET idle_in_transaction_session_timeout = {int(idle_ms)}")
        cursor.execute("SET tcp_keepalives_idle = 30")
        cursor.execute("SET tcp_keepalives_interval = 10")
        cursor.execute("SET tcp_keepalives_count = 3")
        cursor.close()
        dbapi_connection.commit()  # a SET rolled back with its transaction would be undone

    return listener


class Database:
    """One engine and its session factory; created by ``bootstrap``, closed by ``aclose``.

    The ingest fold writes through :meth:`run_bulk`: its whole transaction is one
    blocking function, run on a thread of its own with one connection of the
    blocking driver. A batch is one hand-off to that thread and one back: through
    aiosqlite each statement took three or four, and the wake-ups between the
    threads were about a quarter of the event loop's time on single-event traffic;
    on PostgreSQL the blocking connection is also what lets the fold stream its
    rows with COPY (psycopg's asynchronous COPY does not run under ``run_sync``).
    On SQLite that connection has a page cache of ``bulk_cache_mib``, so a batch's
    upserts find their pages in memory and dirty them without spilling
    mid-transaction, while the other connections keep SQLite's small default
    cache (memory stays bounded by one large cache).

    On PostgreSQL the server ends any session of ours left idle inside a transaction
    for ``idle_in_transaction_seconds``: no transaction of the engine waits between
    statements on anything but its own next statement, so only a stopped or cut-off
    process is idle that long, and its row locks must not hold the others up.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        bulk_cache_mib: int = 32,
        idle_in_transaction_seconds: float = 60.0,
    ) -> None:
        self.url = async_url(url)
        self.backend = make_url(self.url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.backend == "postgresql":
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        else:
            # Hand out the most recently used connection: its page cache is warm, where a
            # round-robin pool finds every cache stale after the other connections' commits.
            kwargs.update(pool_use_lifo=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        # The fold's transaction (run_bulk) has a connection of the blocking driver of its
        # own, used only from the fold's one thread (folds queue for the thread).
        bulk_kwargs: dict[str, Any] = {"echo": echo, "pool_size": 1, "max_overflow": 0}
        if self.backend == "postgresql":
            idle_ms = max(int(idle_in_transaction_seconds * 1000), 1)
            bulk_listener = _postgres_session(idle_ms)  # both engines' sessions alike
            event.listen(self.engine.sync_engine, "connect", bulk_listener)
            bulk_kwargs.update(pool_pre_ping=True)
        else:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            # SQLite takes one writer at a time anyway: one connection keeps its large
            # page cache warm.
            bulk_kwargs.update(connect_args={"check_same_thread": False})  # closed from aclose
            bulk_listener = _bulk_pragmas(bulk_cache_mib * 1024)
        self._bulk_engine: Engine = create_engine(sync_url(self.url), **bulk_kwargs)
        event.listen(self._bulk_engine, "connect", bulk_listener)
        # On SQLite the fold keeps its connection open between batches (a file is never
        # "disconnected"): a pool checkout, its reset and a new Connection per batch were a
        # quarter of a small batch's fold. PostgreSQL's is checked out (and pinged) per batch.
        self._bulk_conn: SyncConnection | None = None
        self._bulk_thread: ThreadPoolExecutor | None = ThreadPoolExecutor(
            1, thread_name_prefix="syncengine-fold"
        )
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgres(self) -> bool:
        """True on PostgreSQL (row locks, SKIP LOCKED, advisory locks are available)."""
        return self.backend == "postgresql"

    @asynccontextmanager
    async def session(self, what: str = _FAILED) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error.

        Database errors leave it translated into the tree (``what`` starts their
        message): see :mod:`syncengine.store.db_errors`.
        """
        try:
            async with self.sessions() as session, session.begin():
                yield session
        except FOREIGN_ERRORS as exc:
            raise translate(exc, what) from exc

    @asynccontextmanager
    async def connect(self, what: str = _FAILED) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, for bulk Core statements; errors as :meth:`session`."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except FOREIGN_ERRORS as exc:
            raise translate(exc, what) from exc

    async def run_bulk(self, work: Callable[[SyncConnection], _T], what: str = _FAILED) -> _T:
        """Run ``work`` in one transaction on the bulk writer's connection; its result.

        Committed when ``work`` returns, rolled back when it raises; database errors
        are translated as :meth:`session` translates them. ``work`` blocks (it is given
        a blocking connection) and must not touch the event loop: on SQLite it runs on
        the fold's thread.
        """
        try:
            if self._bulk_thread is None:
                raise StoreError(f"{what}: the database is closed")
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._bulk_thread, self._in_bulk, work)
        except FOREIGN_ERRORS as exc:
            raise translate(exc, what) from exc

    def _in_bulk(self, work: Callable[[SyncConnection], _T]) -> _T:
        if self.is_postgres:
            with self._bulk_engine.begin() as checked_out:
                return work(checked_out)
        held = self._bulk_conn
        if held is None or held.closed or held.invalidated:
            held = self._bulk_conn = self._bulk_engine.connect()
        with held.begin():  # committed when work returns, rolled back when it raises
            return work(held)

    def _close_bulk(self) -> None:
        # On the fold's thread, after any fold queued before it.
        conn, self._bulk_conn = self._bulk_conn, None
        if conn is not None:
            conn.close()
        self._bulk_engine.dispose()

    def checked_out(self) -> int:
        """Connections currently lent out by the pools (0 when nothing leaks); the fold's
        own SQLite connection, held open between batches, is not lent out."""
        total = int(self.engine.sync_engine.pool.checkedout())  # type: ignore[attr-defined]
        held = 1 if self._bulk_conn is not None and not self._bulk_conn.closed else 0
        return total + int(self._bulk_engine.pool.checkedout()) - held  # type: ignore[attr-defined]

    async def ping(self) -> None:
        """Raise StoreError unless the database answers."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StoreError(f"database unreachable: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        thread, self._bulk_thread = self._bulk_thread, None
        if thread is not None:
            # On the fold's thread: after any fold still queued there, which commits first.
            await asyncio.get_running_loop().run_in_executor(thread, self._close_bulk)
            thread.shutdown(wait=False)
