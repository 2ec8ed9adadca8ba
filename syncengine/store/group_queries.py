"""Reading error groups back as :class:`~syncengine.domain.groups.GroupSnapshot` values."""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from syncengine.domain.groups import AttributeValue, GroupSnapshot, GroupState
from syncengine.errors import NotFound
from syncengine.store.batch_fold import frames_from_payload
from syncengine.store.tables import AttributeCount, AttributeName, ErrorGroup, Project, Sample

__all__ = ["decode_cursor", "encode_cursor", "load_page", "load_snapshot"]

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
)


def _snapshot(row: Any, **extra: Any) -> GroupSnapshot:
    m = row._mapping
    return GroupSnapshot(
        id=m["id"],
        project=m["slug"],
        fingerprint=m["fingerprint"],
        state=GroupState(m["state"]),
        count=m["count"],
        first_seen=m["first_seen"],
        last_seen=m["last_seen"],
        classifier=m["classifier"],
        message=m["message"],
        first_version=m["first_version"],
        last_version=m["last_version"],
        assignee=m["assignee"],
        regression_count=m["regression_count"],
        last_sync_error=m["last_sync_error"],
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
    payload = (
        await conn.execute(
            select(Sample.payload)
            .where(Sample.group_id == group_id)
            .order_by(Sample.received_at.desc(), Sample.id.desc())
            .limit(1)
        )
    ).scalar()
    frames = frames_from_payload(payload) if isinstance(payload, dict) else ()
    return _snapshot(row, attributes={k: tuple(v) for k, v in attributes.items()}, frames=frames)


async def load_page(
    conn: AsyncConnection,
    project_id: int,
    *,
    state: GroupState | None,
    limit: int,
    after: tuple[datetime, int] | None,
) -> list[GroupSnapshot]:
    """Up to ``limit`` groups of the project, newest ``last_seen`` first, after the cursor."""
    query = (
        select(*_GROUP_COLUMNS)
        .join(Project, Project.id == ErrorGroup.project_id)
        .where(ErrorGroup.project_id == project_id)
        .order_by(ErrorGroup.last_seen.desc(), ErrorGroup.id.desc())
        .limit(limit)
    )
    if state is not None:
        query = query.where(ErrorGroup.state == state.value)
    if after is not None:
        last_seen, group_id = after
        query = query.where(
            or_(
                ErrorGroup.last_seen < last_seen,
                and_(ErrorGroup.last_seen == last_seen, ErrorGroup.id < group_id),
            )
        )
    return [_snapshot(row) for row in await conn.execute(query)]


def encode_cursor(group: GroupSnapshot) -> str:
    """An opaque cursor pointing just after ``group`` in newest-first order."""
    raw = f"{group.last_seen.isoformat()}|{group.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position a cursor points at; raises ValueError for one we did not hand out."""
    problem = ValueError(f"cursor {cursor!r} is not one this API handed out")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, group_id = raw.partition("|")
        when, position = datetime.fromisoformat(stamp), int(group_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise problem from exc
    if when.tzinfo is None:
        raise problem
    return when, position
