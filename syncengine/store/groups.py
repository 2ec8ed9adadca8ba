"""Error groups: folding batches of crash reports in, one transaction per batch.

The write path is shaped by what a commit costs, which is the pages it dirties:

- a batch is pre-aggregated (:mod:`syncengine.store.batch_fold`), so each group
  row and each (group, attribute, value) count row is written once per batch;
- count rows are compact: an interned attribute id, the value, the count and an
  integer timestamp, in a ``WITHOUT ROWID`` table on SQLite;
- attribute names are interned in their own short transaction and cached in
  the process (a name, once committed, never changes id);
- samples sit in fixed slots (the first N, and a ring of the newest M), so
  keeping "the newest" overwrites a row instead of inserting and pruning.

First and last seen are the earliest and latest report timestamps; first and
last version are the versions of the earliest and latest reports that carried
one (their times are stored beside them, so batched or one by one, in any order,
the same reports give the same versions).

Every statement is an ``INSERT ... ON CONFLICT DO UPDATE`` adding the batch's
counts to what is stored (``count = count + excluded.count``), the same SQL on
SQLite and PostgreSQL, with rows sorted by key so concurrent batches lock rows
in one order: no lost counts, one group per fingerprint, no deadlocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from syncengine.domain.groups import GroupSnapshot, GroupState
from syncengine.domain.reports import CrashReport
from syncengine.errors import StoreError
from syncengine.store import group_queries
from syncengine.store.batch_fold import Assigned, BatchFold, GroupFold, sample_payload
from syncengine.store.database import Database, SyncConnection
from syncengine.store.group_queries import GroupFilter
from syncengine.store.pg_copy import (
    Stage,
    copy_upsert,
    flat,
    multi_row,
    power_of_two_chunks,
    upsert_rows,
)
from syncengine.store.tables import to_epoch_ms

__all__ = ["FIELD_LIMITS", "Assigned", "FoldHook", "GroupPage", "GroupRepository"]

# Called with the fold's connection (inside its transaction), the folded groups
# (``group_id``, ``stored_count``, ``new`` and ``state`` set) and the time. It blocks:
# the fold's transaction is one function run off the event loop (Database.run_bulk).
FoldHook = Callable[[SyncConnection, list[GroupFold], datetime], None]

# The longest text each stored field takes (the column sizes of store/tables.py).
FIELD_LIMITS = {
    "fingerprint": 128,
    "classifier": 512,
    "version": 128,
    "attribute name": 128,
    "attribute value": 1024,
}

_CHUNK = 500  # names per IN (...) lookup
_MAX_GROUP_ROWS = 512  # rows per multi-row INSERT ... RETURNING (14 parameters each)
_NAMES_CACHE_MAX = 100_000

_GROUP_COLUMNS = (
    "project_id, fingerprint, state, classifier, message, count, first_seen, last_seen,"
    " first_version, last_version, first_version_ms, last_version_ms, regression_count,"
    " updated_at"
)
_GROUP_INSERT = f"INSERT INTO error_groups ({_GROUP_COLUMNS})"
# A batch's version replaces the stored one when its report is earlier (first) or not
# earlier (last) than the one the stored version came from, or none is stored.
_EARLIER = """excluded.first_version_ms IS NOT NULL AND (error_groups.first_version_ms IS NULL
    OR excluded.first_version_ms < error_groups.first_version_ms)"""
_LATER = """excluded.last_version_ms IS NOT NULL AND (error_groups.last_version_ms IS NULL
    OR excluded.last_version_ms >= error_groups.last_version_ms)"""
_GROUP_UPSERT_TAIL = f"""
ON CONFLICT (project_id, fingerprint) DO UPDATE SET
  count = error_groups.count + excluded.count,
  first_version = CASE WHEN {_EARLIER}
    THEN excluded.first_version ELSE error_groups.first_version END,
  first_version_ms = CASE WHEN {_EARLIER}
    THEN excluded.first_version_ms ELSE error_groups.first_version_ms END,
  last_version = CASE WHEN {_LATER}
    THEN excluded.last_version ELSE error_groups.last_version END,
  last_version_ms = CASE WHEN {_LATER}
    THEN excluded.last_version_ms ELSE error_groups.last_version_ms END,
  first_seen = CASE WHEN excluded.first_seen < error_groups.first_seen
    THEN excluded.first_seen ELSE error_groups.first_seen END,
  last_seen = CASE WHEN excluded.last_seen > error_groups.last_seen
    THEN excluded.last_seen ELSE error_groups.last_seen END,
  updated_at = excluded.updated_at
RETURNING id, project_id, fingerprint, count, state"""
_GROUP_UPSERT = f"{_GROUP_INSERT} VALUES ({', '.join('?' * 14)}){_GROUP_UPSERT_TAIL}"

_COUNT_UPSERT = """
INSERT INTO attribute_counts (group_id, attribute_id, value, count, last_seen)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (group_id, attribute_id, value) DO UPDATE SET
  count = attribute_counts.count + excluded.count,
  last_seen = CASE WHEN excluded.last_seen > attribute_counts.last_seen
    THEN excluded.last_seen ELSE attribute_counts.last_seen END"""

_SAMPLE_UPSERT = """
INSERT INTO samples (group_id, kind, slot, received_at, payload) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (group_id, kind, slot) DO UPDATE SET
  received_at = excluded.received_at, payload = excluded.payload"""


_GROUP_STAGE = Stage(
    "fold_groups",
    "project_id bigint, fingerprint text, state text, classifier text, message text,"
    " count bigint, first_seen timestamptz, last_seen timestamptz, first_version text,"
    " last_version text, first_version_ms bigint, last_version_ms bigint,"
    " regression_count integer, updated_at timestamptz",
    ("int8", "text", "text", "text", "text", "int8")  # noqa: RUF005 - two lines
    + ("timestamptz", "timestamptz", "text", "text", "int8", "int8", "int4")
    + ("timestamptz",),
    f"{_GROUP_INSERT} SELECT * FROM fold_groups{_GROUP_UPSERT_TAIL}",  # noqa: S608 - constants
)
_COUNT_STAGE = Stage(
    "fold_counts",
    "group_id bigint, attribute_id bigint, value text, count bigint, last_seen bigint",
    ("int8", "int8", "text", "int8", "int8"),
    _COUNT_UPSERT.replace("VALUES (?, ?, ?, ?, ?)", "SELECT * FROM fold_counts"),
)
_SAMPLE_STAGE = Stage(
    "fold_samples",
    "group_id bigint, kind text, slot integer, received_at timestamptz, payload text",
    ("int8", "text", "int4", "timestamptz", "text"),
    _SAMPLE_UPSERT.replace(
        "VALUES (?, ?, ?, ?, ?)",
        "SELECT group_id, kind, slot, received_at, payload::json FROM fold_samples",
    ),
)

_NAME_INSERT = "INSERT INTO attribute_names (name) VALUES (?) ON CONFLICT (name) DO NOTHING"


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupPage:
    """One page of groups; ``next_cursor`` is None on the last."""

    groups: list[GroupSnapshot]
    next_cursor: str | None
    issue_keys: dict[int, str] = field(default_factory=dict)  # group id -> linked Jira key


class GroupRepository:
    """Writes batches of reports into groups, and reads groups back as domain values.

    ``samples_first``/``samples_newest`` bound the samples kept per group.
    Every method raises :class:`StoreError` when the database fails.
    """

    def __init__(
        self,
        db: Database,
        *,
        samples_first: int = 1,
        samples_newest: int = 5,
        hooks: Sequence[FoldHook] = (),
        after_commit: Sequence[Callable[[], None]] = (),
    ) -> None:
        self._db = db
        # Run inside each fold's transaction, in order, after the groups are written
        # (regressions, then ticket rules): their writes commit with the reports.
        self.hooks: list[FoldHook] = list(hooks)
        # Run after each fold's transaction commits (e.g. wake the outbox worker).
        self.after_commit: list[Callable[[], None]] = list(after_commit)
        self._samples_first = samples_first
        self._samples_newest = samples_newest
        self._postgres = db.is_postgres
        self._names: dict[str, int] = {}
        # id(time) -> (time, as stored), for the batch being written (see _time).
        self._time_texts: dict[int, tuple[datetime, Any]] = {}

    def new_batch(self) -> BatchFold:
        """An empty batch to :meth:`BatchFold.add` submissions to, then :meth:`write`."""
        return BatchFold(samples_first=self._samples_first, samples_newest=self._samples_newest)

    async def fold(
        self, submissions: Sequence[tuple[int, Sequence[CrashReport]]], *, now: datetime
    ) -> list[list[Assigned]]:
        """Fold every report of ``submissions`` ((project id, reports) pairs) in one transaction.

        Returns, per submission and per report in order, the report's group and
        whether it is new to that submission (the batch created it, and no earlier
        submission of the batch brought it a report), as if each came on its own.
        Nothing is stored unless everything is.
        Raises StoreError (nothing stored) or ValueError for a report without a
        fingerprint.
        """
        batch = self.new_batch()
        for project_id, reports in submissions:
            batch.add(project_id, reports)
        return await self.write(batch, now=now)

    async def write(self, batch: BatchFold, *, now: datetime) -> list[list[Assigned]]:
        """Write a batch folded in memory in one transaction; results as :meth:`fold` gives them.

        Raises StoreBusy (a passing failure: retry), StoreRejected (the data broke
        a constraint) or StoreError; nothing of the batch is stored then.
        """
        if not batch.groups:
            return [[] for _ in batch.members]
        groups = batch.sorted_groups()
        what = f"storing a batch of {batch.reports} reports failed"
        missing = sorted(name for name in batch.names if name not in self._names)
        if missing:  # their own transaction: ids cached must be committed ones
            found = await self._db.run_bulk(_name_ids(self._sql, missing), what)
            self._remember_names(batch.names, found)
        names = self._names

        def transaction(conn: SyncConnection) -> None:
            self._time_texts = {}
            try:
                self._upsert_groups(conn, groups, now)
                self._upsert_counts(conn, groups, names)
                self._upsert_samples(conn, groups)
            finally:
                self._time_texts = {}
            for hook in self.hooks:
                hook(conn, groups, now)

        await self._db.run_bulk(transaction, what)
        for callback in self.after_commit:
            callback()
        results: list[list[Assigned]] = []
        for submission, members in enumerate(batch.members):
            results.append([group.assigned(submission) for group in members])
        return results

    async def snapshot(self, group_id: int, *, top: int | None = None) -> GroupSnapshot:
        """The group as templates and rules see it; ``top`` limits the values per attribute.

        Raises NotFound when there is no such group, StoreError when the database fails.
        """
        async with self._db.connect(f"reading group {group_id} failed") as conn:
            return await group_queries.load_snapshot(conn, group_id, top=top)

    async def page(
        self,
        project_id: int | None,
        *,
        state: GroupState | None = None,
        limit: int = 50,
        cursor: str | None = None,
        wanted: GroupFilter | None = None,
    ) -> GroupPage:
        """A page of groups matching ``wanted`` (default: all), in its order (keyset pagination).

        ``project_id`` and ``state`` narrow ``wanted`` further (None: any). Raises
        ValueError for a cursor this method did not hand out (or one of another
        sort order), StoreError when the database fails.
        """
        wanted = wanted or GroupFilter()
        if project_id is not None:
            wanted = replace(wanted, project_ids=(project_id,))
        if state is not None:
            wanted = replace(wanted, state=state)
        after = group_queries.decode_cursor(cursor, wanted.sort) if cursor else None
        async with self._db.connect("listing groups failed") as conn:
            rows = await group_queries.load_page(conn, wanted, limit=limit + 1, after=after)
        keys = {group.id: key for group, key in rows if key is not None}
        groups = [group for group, _ in rows]
        if len(groups) <= limit:
            return GroupPage(groups=groups, next_cursor=None, issue_keys=keys)
        groups = groups[:limit]
        cursor = group_queries.encode_cursor(groups[-1], wanted.sort)
        return GroupPage(groups=groups, next_cursor=cursor, issue_keys=keys)

    def _sql(self, sql: str) -> str:
        # One SQL text for both backends: psycopg takes %s where sqlite3 takes ?.
        return sql.replace("?", "%s") if self._postgres else sql

    def _time(self, value: datetime) -> Any:
        # Raw driver calls skip SQLAlchemy's type processing (a large share of the
        # time on the hot path), so store times exactly as UTCDateTime does. A batch
        # stores most times more than once (a group's first and last seen are times of
        # its reports, which its samples store too): each is converted once per batch
        # (each conversion is ~14,000 instructions; once each, the engine path of
        # bench/ingest.py takes 2.4 % fewer per report on a Zipf mix, 3.5 % on a uniform one).
        memo = self._time_texts
        hit = memo.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        if self._postgres:
            stored: Any = value.astimezone(UTC)
        else:
            # "YYYY-MM-DD HH:MM:SS.ffffff", as SQLAlchemy writes it (isoformat is twice
            # as fast as strftime).
            stored = value.astimezone(UTC).isoformat(" ", "microseconds")[:26]
        memo[id(value)] = (value, stored)  # holding value keeps its id unique meanwhile
        return stored

    def _remember_names(self, batch_names: Iterable[str], found: dict[str, int]) -> None:
        if len(self._names) + len(found) > _NAMES_CACHE_MAX:
            # Bounded memory against clients that put ids in attribute names: start again
            # with this batch's names. A new dict, so a fold reading the old one (another
            # caller's, on the fold's thread) keeps every name it needs.
            old = self._names
            self._names = {name: old[name] for name in batch_names if name in old}
        self._names.update(found)  # only ever adds: safe beside a fold reading it

    def _upsert_groups(self, conn: SyncConnection, groups: list[GroupFold], now: datetime) -> None:
        updated_at = self._time(now)
        state = GroupState.OPEN.value
        by_key = {(g.project_id, g.fingerprint): g for g in groups}
        rows = [
            (
                g.project_id,
                g.fingerprint,
                state,
                g.first.classifier,
                g.first.message,
                g.count,
                self._time(g.first_seen),
                self._time(g.last_seen),
                g.first_version,
                g.last_version,
                None if g.first_version_at is None else to_epoch_ms(g.first_version_at),
                None if g.last_version_at is None else to_epoch_ms(g.last_version_at),
                0,
                updated_at,
            )
            for g in groups
        ]
        if self._postgres:
            stored = copy_upsert(conn, _GROUP_STAGE, rows)
        else:
            stored = []
            for chunk in power_of_two_chunks(rows, _MAX_GROUP_ROWS):
                sql = multi_row(_GROUP_UPSERT, len(chunk[0]), len(chunk))
                stored += conn.exec_driver_sql(sql, flat(chunk)).all()
        for group_id, project_id, fingerprint, count, stored_state in map(tuple, stored):
            group = by_key[(int(project_id), str(fingerprint))]
            group.group_id = int(group_id)
            group.stored_count = int(count)
            group.state = str(stored_state)
            # The stored count is ours alone only when no earlier report existed.
            group.new = group.stored_count == group.count

    def _upsert_counts(
        self, conn: SyncConnection, groups: list[GroupFold], name_ids: dict[str, int]
    ) -> None:
        # In key order (one lock order for concurrent batches, and each B-tree page visited
        # once): groups by id, then each group's few rows; sorting every row of a uniform
        # batch (~90,000) as one list costs several times more.
        rows = []
        for g in sorted(groups, key=_group_id):
            group_id = g.group_id
            own = [
                (group_id, name_ids[name], value, count, last_ms)
                for (name, value), (count, last_ms) in g.attributes.items()
            ]
            own.sort()
            rows += own
        upsert_rows(conn, _COUNT_UPSERT, _COUNT_STAGE, rows)

    def _upsert_samples(self, conn: SyncConnection, groups: list[GroupFold]) -> None:
        first_n, newest_m = self._samples_first, self._samples_newest
        rows: list[tuple[Any, ...]] = []
        for g in groups:
            group_id = g.group_id
            before = g.stored_count - g.count  # reports the group held before this batch
            # A new group's first report is its first sample and one of its newest: its
            # JSON is encoded once (half the encoding when most reports open a group).
            encoded: dict[int, tuple[Any, str]] = {}
            for i, report in enumerate(g.head()):
                if before + i < first_n:
                    stored = encoded[id(report)] = self._sample_fields(report)
                    rows.append((group_id, "first", before + i, *stored))
            for index, report in g.tail():
                slot = (before + index) % newest_m
                stored = encoded.get(id(report)) or self._sample_fields(report)
                rows.append((group_id, "newest", slot, *stored))
        upsert_rows(conn, _SAMPLE_UPSERT, _SAMPLE_STAGE, rows)

    def _sample_fields(self, report: CrashReport) -> tuple[Any, str]:
        """A sample row's received_at and payload."""
        return (self._time(report.timestamp), sample_payload(report))


def _name_ids(
    sql: Callable[[str], str], missing: list[str]
) -> Callable[[SyncConnection], dict[str, int]]:
    """The transaction interning ``missing`` attribute names: their ids, once committed."""

    def intern(conn: SyncConnection) -> dict[str, int]:
        conn.exec_driver_sql(sql(_NAME_INSERT), [(n,) for n in missing])
        found: dict[str, int] = {}
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]  # (rare: only names never seen)
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT name, id FROM attribute_names WHERE name IN ({marks})"  # noqa: S608 - only placeholders are formatted in
            result = conn.exec_driver_sql(sql(query), tuple(chunk))
            found.update((str(name), int(id_)) for name, id_ in map(tuple, result.all()))
        if len(found) < len(missing):
            raise StoreError("attribute names vanished while being interned")
        return found

    return intern


def _group_id(group: GroupFold) -> int:
    return group.group_id
