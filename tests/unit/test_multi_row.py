"""The SQLite side of the fold's bulk upserts: many rows per statement, in a few sizes."""

from __future__ import annotations

import sqlite3

from syncengine.store.pg_copy import multi_row, power_of_two_chunks

UPSERT = """INSERT INTO t (k, n) VALUES (?, ?)
ON CONFLICT (k) DO UPDATE SET n = t.n + excluded.n"""


def test_chunks_are_powers_of_two_no_larger_than_asked_and_keep_every_row_in_order() -> None:
    rows = [(i,) for i in range(1000)]
    chunks = power_of_two_chunks(rows, 256)
    assert [len(c) for c in chunks] == [256, 256, 256, 128, 64, 32, 8]
    assert [row for chunk in chunks for row in chunk] == rows
    assert power_of_two_chunks([], 256) == []
    assert [len(c) for c in power_of_two_chunks(rows[:3], 256)] == [2, 1]


def test_multi_row_sql_upserts_every_row_once() -> None:
    assert multi_row(UPSERT, 2, 3).startswith(
        "INSERT INTO t (k, n) VALUES (?, ?), (?, ?), (?, ?)\n"
    )
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)")
    for _ in range(2):
        for chunk in power_of_two_chunks([(f"k{i}", i) for i in range(300)], 256):
            conn.execute(multi_row(UPSERT, 2, len(chunk)), [v for row in chunk for v in row])
    assert conn.execute("SELECT count(*), sum(n) FROM t").fetchone() == (300, 2 * sum(range(300)))
