"""The fold's bulk upserts. On PostgreSQL, rows streamed by binary COPY into a temporary
table, then upserted from it in one statement; on SQLite, multi-row ``VALUES`` statements.

The fold writes tens of thousands of rows a batch. Executemany cost a server round
per row; one statement over arrays (``unnest``) spent most of the fold's time in
psycopg's pure-Python array formatting (~0.6 CPU-seconds per 100,000 count rows,
against ~0.03 for binary COPY, whose rows psycopg's C extension formats).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy.exc import DBAPIError

from syncengine.store.database import SyncConnection

__all__ = [
    "MAX_ROWS_PER_STATEMENT",
    "Row",
    "Stage",
    "copy_upsert",
    "flat",
    "multi_row",
    "power_of_two_chunks",
    "upsert_rows",
]

Row = tuple[Any, ...]

# Rows per multi-row statement on SQLite: 256 count rows bind 1,280 values, well inside
# the 32,766 of SQLite 3.32 and later.
MAX_ROWS_PER_STATEMENT = 256


@dataclass(frozen=True, slots=True)
class Stage:
    """A temporary table one kind of row is streamed into, and the upsert that reads it.

    The table is made if missing in every transaction (a pooler may hand the
    transaction another server session) and emptied at each commit; a rolled-back
    transaction takes its rows (and a table it made) with it. A temporary table is
    read back in the order it was written (local buffers: no parallel or synchronised
    scans), so rows written in key order still lock in key order.
    """

    table: str
    columns: str  # column definitions
    types: tuple[str, ...]  # their types as psycopg names them, for binary COPY
    upsert: str

    @property
    def create(self) -> str:
        return (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.table} ({self.columns})"
            " ON COMMIT DELETE ROWS"
        )

    @property
    def copy(self) -> str:
        return f"COPY {self.table} FROM STDIN (FORMAT BINARY)"


def copy_upsert(conn: SyncConnection, stage: Stage, rows: list[Row]) -> list[Row]:
    """Upsert ``rows`` through ``stage`` on ``conn`` (a blocking psycopg connection);
    the rows its upsert returns, if it has a RETURNING clause.

    Driver errors leave wrapped as SQLAlchemy wraps them, so the store translates them
    as any other (a value the server refuses rejects the batch).
    """
    import psycopg  # PostgreSQL only: SQLite installs need not load it

    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    try:
        with raw.cursor() as cursor:
            cursor.execute(stage.create)
            with cursor.copy(stage.copy) as copy:
                copy.set_types(stage.types)
                for row in rows:
                    copy.write_row(row)
            cursor.execute(stage.upsert)
            return cursor.fetchall() if cursor.description is not None else []
    except psycopg.Error as exc:  # outside SQLAlchemy: wrapped as it wraps the driver's
        raise DBAPIError.instance(stage.upsert, None, exc, psycopg.Error) from exc


def upsert_rows(conn: SyncConnection, sql: str, stage: Stage, rows: list[Row]) -> None:
    """Upsert ``rows`` on either backend: ``sql`` (one ``VALUES`` row of ``?``) with many
    rows per statement on SQLite (:func:`multi_row`), ``stage`` on PostgreSQL."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        copy_upsert(conn, stage, rows)
        return
    for chunk in power_of_two_chunks(rows, MAX_ROWS_PER_STATEMENT):
        conn.exec_driver_sql(multi_row(sql, len(chunk[0]), len(chunk)), flat(chunk))


@lru_cache(maxsize=64)  # a few statements in a few chunk sizes
def multi_row(sql: str, width: int, rows: int) -> str:
    """``sql``, whose one ``VALUES (?, ...)`` row has ``width`` columns, with ``rows`` rows.

    One statement of many rows instead of an executemany of one-row statements: the
    sqlite3 module's work per row of an executemany (taking the row from Python, a
    reset and rebind, a step that gives up and takes back the GIL) went with it. Measured
    by instruction count over the whole engine path of bench/ingest.py: 9 % fewer per
    report on the Zipf mix, 11 % on the uniform one (with GroupFold's samples taken
    from its report list, a tenth of that).
    """
    one = "(" + ", ".join("?" * width) + ")"
    return sql.replace(f"VALUES {one}", "VALUES " + ", ".join([one] * rows), 1)


def power_of_two_chunks(rows: list[Row], largest: int) -> list[list[Row]]:
    """``rows`` in chunks of ``largest``, then halves down to 1 row (``largest`` a power of 2).

    Each chunk size is its own SQL text, which the drivers prepare and cache (sqlite3
    keeps 128 per connection, psycopg 100): a handful of sizes keeps that cache, and
    so the process's memory, from growing with every new remainder size.
    """
    chunks: list[list[Row]] = []
    start = 0
    size = largest
    while start < len(rows):
        while size > len(rows) - start:
            size //= 2
        chunks.append(rows[start : start + size])
        start += size
    return chunks


def flat(rows: list[Row]) -> tuple[Any, ...]:
    """The values of ``rows``, one after another: a multi-row statement's parameters."""
    return tuple(chain.from_iterable(rows))
