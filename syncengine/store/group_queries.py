"""Reading error groups back as :class:`~syncengine.domain.groups.GroupSnapshot` values."""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    and_,
    any_,
    bindparam,
    case,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from syncengine.domain.groups import AttributeValue, GroupSnapshot, GroupState
from syncengine.errors import NotFound
from syncengine.store.batch_fold import frames_from_payload
from syncengine.store.tables import (
    AttributeCount,
    AttributeName,
    ErrorGroup,
    IssueLink,
    Project,
    Sample,
)

__all__ = [
    "SEARCH_CANDIDATES",
    "SORTS",
    "GroupFilter",
    "GroupSort",
    "decode_cursor",
    "encode_cursor",
    "load_page",
    "load_snapshot",
    "search_candidates",
]

_GROUP_COLUMNS = (
    ErrorGroup.id,
    Project.slug,
    ErrorGroup.fingerprint,
    ErrorGroup.state,
    ErrorGroup.count,
    ErrorGroup.first_seen,
    ErrorGroup.last_seen,
    ErrorGroup.classifier,
    ErrorGroup.message,
    ErrorGroup.first_version,
    ErrorGroup.last_version,
    ErrorGroup.assignee,
    ErrorGroup.regression_count,
    ErrorGroup.last_sync_error,
    ErrorGroup.version_problem,
)


def _snapshot(row: Any, **extra: Any) -> GroupSnapshot:
    m = row._mapping
    extra.setdefault("classifier", m["classifier"])
    extra.setdefault("message", m["message"])
    return GroupSnapshot(
        id=m["id"],
        project=m["slug"],
        fingerprint=m["fingerprint"],
        state=GroupState(m["state"]),
        count=m["count"],
        first_seen=m["first_seen"],
        last_seen=m["last_seen"],
        first_version=m["first_version"],
        last_version=m["last_version"],
        assignee=m["assignee"],
        regression_count=m["regression_count"],
        last_sync_error=m["last_sync_error"],
        version_problem=m["version_problem"],
        **extra,
    )


async def load_snapshot(conn: AsyncConnection, group_id: int, *, top: int | None) -> GroupSnapshot:
    """The group with its attribute values ranked (count, then recency, then value).

    ``top`` keeps at most that many values per attribute. Raises NotFound.
    """
    row = (
        await conn.execute(
            select(*_GROUP_COLUMNS)
            .join(Project, Project.id == ErrorGroup.project_id)
            .where(ErrorGroup.id == group_id)
        )
    ).first()
    if row is None:
        raise NotFound(f"there is no error group {group_id}")
    # Byte order for the tie-break, the same on both backends (and as Python sorts).
    value = AttributeCount.value.collate("C" if conn.dialect.name == "postgresql" else "BINARY")
    rank = (
        func.row_number()
        .over(
            partition_by=AttributeCount.attribute_id,
            order_by=(AttributeCount.count.desc(), AttributeCount.last_seen.desc(), value),
        )
        .label("rank")
    )
    ranked = (
        select(
            AttributeName.name,
            AttributeCount.value,
            AttributeCount.count,
            AttributeCount.last_seen,
            rank,
        )
        .join(AttributeName, AttributeName.id == AttributeCount.attribute_id)
        .where(AttributeCount.group_id == group_id)
        .subquery()
    )
    query = select(ranked).order_by(ranked.c.name, ranked.c.rank)
    if top is not None:
        query = query.where(ranked.c.rank <= top)
    attributes: dict[str, list[AttributeValue]] = defaultdict(list)
    for name, val, count, last_seen, _ in await conn.execute(query):
        attributes[name].append(AttributeValue(value=val, count=count, last_seen=last_seen))
    # The callstack shown beside the group's classifier and message is the FIRST
    # report's, which set them: with a custom fingerprint the reports of one group can
    # differ in type and stack, and the newest one's stack would not match its type.
    first = and_(Sample.kind == "first", Sample.slot == 0)
    sample = (
        await conn.execute(
            select(Sample.payload, first)
            .where(Sample.group_id == group_id)
            .order_by(case((first, 0), else_=1), Sample.received_at.desc(), Sample.id.desc())
            .limit(1)
        )
    ).first()
    payload, is_first = sample if sample is not None else (None, False)
    extra: dict[str, Any] = {"attributes": {k: tuple(v) for k, v in attributes.items()}}
    if isinstance(payload, dict):
        extra["frames"] = frames_from_payload(payload)
        if not is_first:  # no first sample kept (ingest.samples_first = 0): all from this one
            extra["classifier"] = str(payload.get("classifier") or row._mapping["classifier"])
            extra["message"] = str(payload.get("message") or row._mapping["message"])
    return _snapshot(row, **extra)


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupFilter:
    """Which groups a list shows, and in what order.

    ``text`` matches a fingerprint, classifier or message containing it (any case)
    or a linked Jira key equal to it; ``project_ids`` None means every project.
    """

    project_ids: tuple[int, ...] | None = None
    text: str = ""
    state: GroupState | None = None
    assignee: str | None = None
    has_ticket: bool | None = None
    regressed: bool | None = None
    sort: GroupSort = "last_seen"


GroupSort = Literal["last_seen", "count"]
SORTS: tuple[GroupSort, ...] = ("last_seen", "count")


def _where(query: Select[*tuple[Any, ...]], wanted: GroupFilter) -> Select[*tuple[Any, ...]]:
    if wanted.project_ids is not None:
        query = query.where(ErrorGroup.project_id.in_(wanted.project_ids))
    if wanted.state is not None:
        query = query.where(ErrorGroup.state == wanted.state.value)
    if wanted.assignee:
        query = query.where(func.lower(ErrorGroup.assignee) == wanted.assignee.strip().lower())
    if wanted.has_ticket is not None:
        linked = IssueLink.id.is_not(None)
        query = query.where(linked if wanted.has_ticket else ~linked)
    if wanted.regressed is not None:
        query = query.where(
            ErrorGroup.regression_count > 0
            if wanted.regressed
            else ErrorGroup.regression_count == 0
        )
    if text := wanted.text.strip():
        lowered = text.lower()
        query = query.where(
            or_(
                func.lower(ErrorGroup.fingerprint).contains(lowered, autoescape=True),
                func.lower(ErrorGroup.classifier).contains(lowered, autoescape=True),
                func.lower(ErrorGroup.message).contains(lowered, autoescape=True),
                IssueLink.jira_issue_key == text.upper(),
            )
        )
    return query


async def load_page(
    conn: AsyncConnection,
    wanted: GroupFilter,
    *,
    limit: int,
    after: tuple[datetime | int, int] | None,
) -> list[tuple[GroupSnapshot, str | None]]:
    """Up to ``limit`` groups matching ``wanted`` in its order, after the cursor position.

    Each comes with its linked Jira key (None when unlinked). Order: the sort key
    descending, then id descending, so pages never skip or repeat a group.
    """
    key = ErrorGroup.count if wanted.sort == "count" else ErrorGroup.last_seen
    text = wanted.text.strip()
    candidates = await search_candidates(conn, text) if text else None
    if candidates is not None:
        # Few groups contain the text: read them (and the one linked to that key) by id.
        linked = select(IssueLink.group_id).where(IssueLink.jira_issue_key == text.upper())
        candidates += (await conn.execute(linked)).scalars()
        query = _page_query(wanted, key, limit, after, candidates=_among(conn, candidates))
        return [(_snapshot(r), r._mapping["jira_issue_key"]) for r in await conn.execute(query)]
    project_ids = wanted.project_ids
    if project_ids is None:
        project_ids = tuple((await conn.execute(select(Project.id))).scalars())
    states = (wanted.state,) if wanted.state is not None else tuple(GroupState)
    arms = [(pid, state) for pid in project_ids for state in states]
    if text:
        # Too common a text for the index: walk the list in its order (a merge of the
        # (project, state, key) indexes, ids only) and test the text on each stretch of
        # it, so the page costs about limit / share-of-groups-matching rows; filtering
        # each (project, state) index on its own would read all of those without a match.
        return await _scan_in_order(conn, wanted, key, arms=arms, limit=limit, after=after)
    query = _merged_query(wanted, key, arms, limit, after)
    return [(_snapshot(row), row._mapping["jira_issue_key"]) for row in await conn.execute(query)]


def _merged_query(
    wanted: GroupFilter,
    key: Any,
    arms: list[tuple[int, GroupState]],
    limit: int,
    after: tuple[datetime | int, int] | None,
    *,
    columns: tuple[Any, ...] | None = None,
) -> Select[*tuple[Any, ...]]:
    if len(arms) <= 1 or len(arms) > _MERGE_ARMS:
        return _page_query(wanted, key, limit, after, columns=columns)
    # Each (project, state)'s page comes off its (project, state, key) index; the pages
    # are merged. One query over several would sort every matching group (seconds at 1 M).
    pages = union_all(
        *(
            select(
                _page_query(
                    replace(wanted, project_ids=(pid,), state=state),
                    key,
                    limit,
                    after,
                    columns=columns,
                ).subquery()
            )
            for pid, state in arms
        )
    ).subquery()
    return select(pages).order_by(pages.c[key.key].desc(), pages.c.id.desc()).limit(limit)


async def _scan_in_order(
    conn: AsyncConnection,
    wanted: GroupFilter,
    key: Any,
    *,
    arms: list[tuple[int, GroupState]],
    limit: int,
    after: tuple[datetime | int, int] | None,
) -> list[tuple[GroupSnapshot, str | None]]:
    untexted = replace(wanted, text="")
    found: list[tuple[GroupSnapshot, str | None]] = []
    stretch = min(max(limit, 1) * _SCAN_PER_ROW, _SCAN_MOST)
    while True:
        ids = (
            await conn.execute(
                _merged_query(untexted, key, arms, stretch, after, columns=(key, ErrorGroup.id))
            )
        ).all()
        if not ids:
            return found
        among = _among(conn, [i for _, i in ids])
        query = _page_query(wanted, key, limit - len(found), None, candidates=among)
        found += [(_snapshot(r), r._mapping["jira_issue_key"]) for r in await conn.execute(query)]
        if len(found) >= limit or len(ids) < stretch:
            return found
        after = (ids[-1][0], ids[-1][1])
        stretch = min(stretch * 4, _SCAN_MOST)


# Up to this many (project, state) pairs a list is merged from their pages.
_MERGE_ARMS = 256
# A common text is tested on stretches of the list, the first of this many groups per
# group of the page (enough when 1 in 50 match), each next one 4x longer, up to the most.
_SCAN_PER_ROW = 50
_SCAN_MOST = 64_000
# Past this many groups containing a text, the search index is no help: such a common
# text is found soon enough by reading the list's index in order.
SEARCH_CANDIDATES = 5000
# On PostgreSQL, a text its statistics say this many groups hold skips the index at once.
SEARCH_ESTIMATE_MOST = 4 * SEARCH_CANDIDATES


async def search_candidates(conn: AsyncConnection, text: str) -> list[int] | None:
    """Ids of the groups whose fingerprint, classifier or message may contain ``text``.

    Read off the trigram index (migration 0016): a superset of the groups that do
    (the caller still tests the text itself). None when the index cannot narrow the
    search: ``text`` shorter than three characters, or more than
    :data:`SEARCH_CANDIDATES` groups contain it.
    """
    if len(text) < 3:
        return None
    if conn.dialect.name == "postgresql":
        escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        if await _planned_rows(conn, pattern) > SEARCH_ESTIMATE_MOST:
            return None
        result = await conn.exec_driver_sql(
            "SELECT group_id FROM group_search WHERE body LIKE %s LIMIT %s",
            (pattern, SEARCH_CANDIDATES + 1),
        )
    else:
        phrase = '"' + text.replace('"', '""') + '"'
        result = await conn.exec_driver_sql(
            "SELECT rowid FROM group_search WHERE group_search MATCH ? LIMIT ?",
            (phrase, SEARCH_CANDIDATES + 1),
        )
    ids = [int(row[0]) for row in result.all()]
    return ids if len(ids) <= SEARCH_CANDIDATES else None


async def _planned_rows(conn: AsyncConnection, pattern: str) -> float:
    """How many groups PostgreSQL's statistics say hold ``pattern`` (a planning, no scan).

    The trigram index cannot stop at a limit: for a text a few percent of the groups
    hold, it gathers every match first (100-250 ms at 1 M groups), only for the
    search to find there are too many. The planner's estimate (from a sample of the
    column) tells such a text for about a millisecond; a text it takes for rarer
    than it is still goes to the index, as before.
    """
    result = await conn.exec_driver_sql(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM group_search WHERE body LIKE %s", (pattern,)
    )
    plan = result.scalar_one()
    return float(plan[0]["Plan"]["Plan Rows"])


def _among(conn: AsyncConnection, ids: list[int]) -> ColumnElement[bool]:
    """``error_groups.id`` is one of ``ids`` (thousands, from the search index or a stretch).

    On PostgreSQL one array parameter: as ``IN`` each id was its own parameter, and
    binding and planning 2,500 of them took five times what running the query did.
    """
    if conn.dialect.name == "postgresql":
        return ErrorGroup.id == any_(bindparam("ids", ids, type_=ARRAY(BigInteger)))
    return ErrorGroup.id.in_(ids)


def _page_query(
    wanted: GroupFilter,
    key: Any,
    limit: int,
    after: tuple[datetime | int, int] | None,
    *,
    candidates: ColumnElement[bool] | None = None,
    columns: tuple[Any, ...] | None = None,
) -> Select[*tuple[Any, ...]]:
    if columns is not None:  # the keys alone, off the index (filters that need no join)
        base = select(*columns)
        if wanted.has_ticket is not None:
            base = base.outerjoin(IssueLink, IssueLink.group_id == ErrorGroup.id)
    else:
        base = (
            select(*_GROUP_COLUMNS, IssueLink.jira_issue_key)
            .join(Project, Project.id == ErrorGroup.project_id)
            .outerjoin(IssueLink, IssueLink.group_id == ErrorGroup.id)
        )
    query = _where(base, wanted)
    if candidates is not None:
        query = query.where(candidates)
    if after is not None:
        value, group_id = after
        # "key <= value" is implied; spelled out, it makes the page a range of the index.
        query = query.where(
            key <= value, or_(key < value, and_(key == value, ErrorGroup.id < group_id))
        )
    return query.order_by(key.desc(), ErrorGroup.id.desc()).limit(limit)


def encode_cursor(group: GroupSnapshot, sort: GroupSort = "last_seen") -> str:
    """An opaque cursor pointing just after ``group`` in the ``sort`` order."""
    value = str(group.count) if sort == "count" else group.last_seen.isoformat()
    raw = f"{value}|{group.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_INT64 = 2**63  # what a cursor's numbers stay below (the store's integers are 64-bit)


def decode_cursor(cursor: str, sort: GroupSort = "last_seen") -> tuple[datetime | int, int]:
    """The position a cursor points at; raises ValueError for one we did not hand out."""
    problem = ValueError(f"cursor {cursor[:100]!r} is not one this API handed out")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, group_id = raw.partition("|")
        position = int(group_id)
        if sort == "count":
            count = int(stamp)
            if not (0 <= count < _INT64 and 0 <= position < _INT64):
                raise problem
            return count, position
        when = datetime.fromisoformat(stamp)
        if when.tzinfo is None or not 0 <= position < _INT64:
            raise problem
        # Stored times are UTC: a time that has none (year 1 at +14:00) was never handed out.
        when.astimezone(UTC)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError) as exc:
        raise problem from exc
    return when, position
