"""The store side of queueing tickets: inside the ingest fold (ticket rules) and by hand.

In the fold (blocking functions taking the fold's connection, so what they write
commits with the batch's reports): the groups' states, which groups are taken (linked, or
a create queued), the windowed per-minute counts, and the ``ticket.create`` items.
By hand (:class:`TicketRequests`): "create the ticket now", audited, at most once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, bindparam, func, insert, select, union

from syncengine.store.audit import AuditRepository
from syncengine.store.database import (
    OUTBOX_ID_CHUNK,
    Database,
    SyncConnection,
    conflict_insert,
    id_chunks,
)
from syncengine.store.outbox import OutboxRepository, State, holds_back, state_in
from syncengine.store.tables import ErrorGroup, GroupMinuteCount, IssueLink, OutboxItem, Project

__all__ = [
    "DueTicket",
    "TicketRequests",
    "add_minute_counts",
    "project_slugs",
    "queue_tickets",
    "tails",
    "taken_groups",
    "window_sums",
]


@dataclass(frozen=True, kw_only=True, slots=True)
class DueTicket:
    """A group whose ticket the rules say is due, and why; ``new_group``: the fold's batch
    created it (so no outbox item can name it yet)."""

    project_id: int
    group_id: int
    reason: str
    new_group: bool = False


def project_slugs(conn: SyncConnection) -> dict[int, str]:
    """Every project's slug by id."""
    rows = conn.execute(select(Project.id, Project.slug))
    return {int(pid): str(slug) for pid, slug in rows.all()}


# Built once: the ticket planner asks in every fold, and building the statements took
# more of its time than running them (the SQL, expanded per call, is the same).
_LINKED = select(IssueLink.group_id).where(IssueLink.group_id.in_(bindparam("ids", expanding=True)))
# The states as literals (state_in), as ix_outbox_group_unfinished spells them: with bound
# values SQLite cannot prove the partial index applies, and scanned the whole outbox.
_QUEUED = select(OutboxItem.group_id).where(
    OutboxItem.group_id.in_(bindparam("ids", expanding=True)),
    OutboxItem.kind == bindparam("kind"),
    state_in(OutboxItem.state, State.UNFINISHED),
)
_TAILS = (
    select(OutboxItem.group_id, func.max(OutboxItem.id))
    .where(OutboxItem.group_id.in_(bindparam("ids", expanding=True)), holds_back())
    .group_by(OutboxItem.group_id)
)


# One statement, not one per table: the fold asks in nearly every batch of single events.
_TAKEN: CompoundSelect[Any] = union(_LINKED, _QUEUED)


def taken_groups(conn: SyncConnection, group_ids: Sequence[int], *, kind: str) -> set[int]:
    """Groups among ``group_ids`` that are linked or have an unfinished ``kind`` item."""
    found: set[int] = set()
    for ids in id_chunks(group_ids, most=OUTBOX_ID_CHUNK):  # one outbox read per batch
        rows = conn.execute(_TAKEN, {"ids": ids, "kind": kind})
        found.update(int(gid) for gid in rows.scalars() if gid is not None)
    return found


def queue_tickets(
    conn: SyncConnection, due: Sequence[DueTicket], *, kind: str, now: datetime
) -> None:
    """Queue one ``kind`` item per due group, in the fold's transaction."""
    if not due:
        return
    # One item per group here; each waits behind its group's last unfinished item (a
    # group the batch created has none: its id is new, and a group's items go with it).
    behind = tails(conn, [item.group_id for item in due if not item.new_group])
    rows: list[dict[str, Any]] = [
        {
            "project_id": item.project_id,
            "group_id": item.group_id,
            "support_request_id": None,
            "kind": kind,
            "payload": {"reason": item.reason},
            "state": State.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
            "waits_for": behind.get(item.group_id),
        }
        for item in due
    ]
    conn.execute(insert(OutboxItem), rows)


def tails(conn: SyncConnection, group_ids: list[int]) -> dict[int, int]:
    """For bulk inserts: each group's last item holding new ones back (none: absent)."""
    if not group_ids:
        return {}
    found: dict[int, int] = {}
    # Distinct: a group's max is never split. One list per batch, each id one probe of
    # ix_outbox_group_unfinished (test_outbox_claim checks the plan).
    for ids in id_chunks(set(group_ids), most=OUTBOX_ID_CHUNK):
        rows = conn.execute(_TAILS, {"ids": ids})
        found.update((int(gid), int(tail)) for gid, tail in rows if gid is not None)
    return found


def add_minute_counts(
    conn: SyncConnection, counts: Sequence[tuple[int, int]], *, minute: int
) -> None:
    """Add each (group id, count) to the group's count of epoch minute ``minute``."""
    statement = conflict_insert(conn, GroupMinuteCount)
    rows = sorted(
        ({"group_id": gid, "minute": minute, "count": count} for gid, count in counts),
        key=lambda r: r["group_id"],  # one lock order for concurrent batches
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["group_id", "minute"],
            set_={"count": GroupMinuteCount.count + statement.excluded.count},
        ),
        rows,
    )


def window_sums(conn: SyncConnection, group_ids: Sequence[int], *, since: int) -> dict[int, int]:
    """Per group, its reports counted in epoch minutes ``since`` and later."""
    found: dict[int, int] = {}
    for ids in id_chunks(set(group_ids)):  # distinct: a group's sum is never split
        sums = conn.execute(
            select(GroupMinuteCount.group_id, func.sum(GroupMinuteCount.count))
            .where(GroupMinuteCount.group_id.in_(ids), GroupMinuteCount.minute >= since)
            .group_by(GroupMinuteCount.group_id)
        )
        found.update((int(gid), int(total)) for gid, total in sums)
    return found


class TicketRequests:
    """Tickets asked for by a person: queued once, audited with the request."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def project_of(self, group_id: int) -> int | None:
        """The project id of a group (None when there is no such group)."""
        async with self._db.session() as session:
            found = await session.scalar(
                select(ErrorGroup.project_id).where(ErrorGroup.id == group_id)
            )
            return int(found) if found is not None else None

    async def request(
        self, group_id: int, *, kind: str, actor: str, fingerprint: str, now: datetime
    ) -> int | None:
        """Queue the group's ``kind`` item and audit the request, unless one waits already.

        Returns the id of the item that was already queued, or None when this call
        queued it.
        """
        async with self._db.session() as session:
            queued = await session.scalar(
                select(OutboxItem.id).where(
                    OutboxItem.group_id == group_id,
                    OutboxItem.kind == kind,
                    OutboxItem.state.in_(State.UNFINISHED),
                )
            )
            if queued is not None:
                return int(queued)
            project_id = await session.scalar(
                select(ErrorGroup.project_id).where(ErrorGroup.id == group_id)
            )
            assert project_id is not None
            OutboxRepository.add(
                session,
                project_id=project_id,
                group_id=group_id,
                kind=kind,
                payload={"reason": f"requested by {actor}"},
                now=now,
            )
            AuditRepository.add(
                session,
                actor=actor,
                action="ticket.requested",
                detail={"fingerprint": fingerprint},
                now=now,
                project_id=project_id,
                group_id=group_id,
            )
        return None
