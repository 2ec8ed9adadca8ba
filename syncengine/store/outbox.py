"""The outbox: every Jira action owed, durable until it succeeds or an operator drops it.

Items are written in the same transaction as the change that causes them
(:meth:`OutboxRepository.add`). Workers claim due items under a lease: on
PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so many processes share the work; a
crashed worker's claims expire and are taken over. Items of one group (or one
support request) run strictly in order: an item is not claimed while an earlier
item of the same subject is unfinished, so a transition never overtakes the create.
Nothing is claimed for a project whose integration is Passive.

The claim costs O(batch), not O(pending): each item records on insert the earlier
unfinished item of its subject it waits behind (``waits_for``, :func:`waits_for`),
and hands its own ``waits_for`` on to its follower when it finishes, so the claim
reads only the partial index of items that wait for nothing, in due order. Dead
items block their own subject's followers but are never scanned, except dead link
syncs and back-links (:data:`DEAD_PASSES`): a later sync carries the link's latest state
and a back-link is a side comment, so a dead one stays visible for the operator but
holds nothing back (it hands its followers on when it dies, like a finished item). The
claim still checks each candidate against the per-subject index of unfinished items (one
probe), so ordering holds even when two PostgreSQL transactions queue items for
one subject at once; a follower whose predecessor finished in a transaction that
could not see it yet is released by the next claim that finds the queue short.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    and_,
    exists,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased

from syncengine.store.audit import AuditRepository
from syncengine.store.database import Database, id_chunks
from syncengine.store.tables import OutboxItem, Project
from syncengine.store.work_kinds import DEAD_PASSES

REQUEUED = "requeued"  # payload key: an operator retried the item (its tries may have landed)
__all__ = [
    "REQUEUED",
    "OutboxRepository",
    "OutboxWork",
    "State",
    "holds_back",
    "state_in",
    "waits_for",
]


class State:
    """Outbox item states."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"
    UNFINISHED = (PENDING, RUNNING, DEAD)


@dataclass(frozen=True, kw_only=True, slots=True)
class OutboxWork:
    """A claimed (or listed) outbox item, as workers and the dashboard see it."""

    id: int
    project_id: int
    group_id: int | None
    support_request_id: int | None
    kind: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    claimed_by: str | None
    created_at: datetime


def _subject(group_id: int | None, support_request_id: int | None) -> ColumnElement[bool]:
    if group_id is not None:
        return OutboxItem.group_id == group_id
    return OutboxItem.support_request_id == support_request_id


def holds_back(item: Any = OutboxItem) -> ColumnElement[bool]:
    """``item`` holds later items of its subject back: unfinished, and not a dead link sync.

    It keeps the ``state IN (unfinished)`` term as spelled in the per-subject partial
    indexes, so they still serve the probe.
    """
    return and_(
        state_in(item.state, State.UNFINISHED),
        or_(item.state != _literal(State.DEAD), item.kind.not_in(DEAD_PASSES)),
    )


def waits_for(*, group_id: int | None, support_request_id: int | None) -> ScalarSelect[Any] | None:
    """The value of a new item's ``waits_for``: the last item of its subject holding it back.

    A SQL expression evaluated inside the inserting statement (so it sees the
    inserting transaction's own earlier items); None for an item with no subject.
    """
    if group_id is None and support_request_id is None:
        return None
    return (
        select(func.max(OutboxItem.id))
        .where(_subject(group_id, support_request_id), holds_back())
        .scalar_subquery()
    )


def _literal(value: str) -> ColumnElement[str]:
    # Rendered into the SQL, not bound: planners match partial indexes against literals.
    return literal_column(f"'{value}'")


def state_in(column: QueryableAttribute[str], values: tuple[str, ...]) -> ColumnElement[bool]:
    """``column IN values`` with the values in the SQL, so partial indexes can serve it."""
    if len(values) == 1:
        return column == _literal(values[0])
    return column.in_([_literal(value) for value in values])


def _ready() -> ColumnElement[bool]:
    """The predicate of ``ix_outbox_ready`` (tables.OUTBOX_READY), as the claim spells it."""
    return and_(
        state_in(OutboxItem.state, (State.PENDING, State.RUNNING)), OutboxItem.waits_for.is_(None)
    )


def _blocked() -> ColumnElement[bool]:
    """An earlier item of the same subject holds it back (one probe of a per-subject index)."""
    group, support = aliased(OutboxItem), aliased(OutboxItem)
    return or_(
        exists().where(
            group.group_id == OutboxItem.group_id,
            group.id < OutboxItem.id,
            holds_back(group),
        ),
        exists().where(
            support.support_request_id == OutboxItem.support_request_id,
            support.id < OutboxItem.id,
            holds_back(support),
        ),
    )


def _active() -> ColumnElement[bool]:
    return exists().where(Project.id == OutboxItem.project_id, Project.integration_active.is_(True))


def _work(row: OutboxItem) -> OutboxWork:
    return OutboxWork(
        id=row.id,
        project_id=row.project_id,
        group_id=row.group_id,
        support_request_id=row.support_request_id,
        kind=row.kind,
        payload=dict(row.payload),
        state=row.state,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        claimed_by=row.claimed_by,
        created_at=row.created_at,
    )


class OutboxRepository:
    """Adds, claims and settles outbox items."""

    # How often a short claim looks for followers left waiting behind an item that
    # finished unseen (a PostgreSQL race, see the module docstring; a cheap read).
    ORPHAN_SWEEP_EVERY = timedelta(seconds=30)

    def __init__(self, db: Database) -> None:
        self._db = db
        self._swept_at: datetime | None = None

    @staticmethod
    def add(
        session: AsyncSession,
        *,
        project_id: int,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        group_id: int | None = None,
        support_request_id: int | None = None,
    ) -> OutboxItem:
        """Queue an item inside the caller's transaction (it commits with the change)."""
        row = OutboxItem(
            project_id=project_id,
            group_id=group_id,
            support_request_id=support_request_id,
            kind=kind,
            payload=payload,
            state=State.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        tail = waits_for(group_id=group_id, support_request_id=support_request_id)
        if tail is not None:
            row.waits_for = tail  # evaluated by the INSERT
        session.add(row)
        return row

    async def claim(
        self,
        worker: str,
        *,
        now: datetime,
        lease: timedelta,
        limit: int = 50,
        exclude_projects: Collection[int] = (),
    ) -> list[OutboxWork]:
        """Claim up to ``limit`` due items for ``worker`` until ``now + lease``.

        Items of ``exclude_projects`` are left for later (the worker's slots for those
        projects are full: taking their items would only hold them).

        Due means pending and past its next attempt, or running under an expired
        lease; the earliest due come first (by next attempt, then by id). Items
        whose project is Passive, or that wait behind an earlier unfinished item of
        the same group or support request, are left alone.
        """
        query = self._claim_query(now=now, limit=limit, exclude_projects=exclude_projects)
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
            for row in rows:
                row.state = State.RUNNING
                row.claimed_by = worker
                row.claimed_until = now + lease
                row.attempts += 1
                row.updated_at = now
            claimed = [_work(row) for row in rows]
        if len(claimed) < limit:
            await self._release_orphans(now)
        return claimed

    def _claim_query(
        self, *, now: datetime, limit: int, exclude_projects: Collection[int] = ()
    ) -> Select[OutboxItem]:
        due = or_(OutboxItem.state == _literal(State.PENDING), OutboxItem.claimed_until < now)
        query = (
            select(OutboxItem)
            .where(_ready(), OutboxItem.next_attempt_at <= now)
            .where(due, _active(), ~_blocked())
            .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
            .limit(limit)
        )
        if exclude_projects:
            query = query.where(OutboxItem.project_id.not_in(sorted(exclude_projects)))
        if self._db.is_postgres:
            query = query.with_for_update(of=OutboxItem, skip_locked=True)
        return query

    async def _release_orphans(self, now: datetime) -> None:
        # On PostgreSQL an item can be queued behind one whose completion committed
        # while the queuing transaction could not see it: nobody hands it on. Such
        # followers are set free here; the claim's per-subject check keeps the order.
        if self._swept_at is not None and now - self._swept_at < self.ORPHAN_SWEEP_EVERY:
            return
        self._swept_at = now
        predecessor = aliased(OutboxItem)
        alive = exists().where(predecessor.id == OutboxItem.waits_for, holds_back(predecessor))
        async with self._db.session() as session:
            orphans = (
                await session.scalars(
                    select(OutboxItem.id)
                    .where(OutboxItem.waits_for.is_not(None), ~alive)
                    .limit(1000)
                )
            ).all()
            if orphans:
                await session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.id.in_(orphans), ~alive)
                    .values(waits_for=None)
                )

    @staticmethod
    async def _hand_on(session: AsyncSession, item_id: int, *, dead: bool = False) -> None:
        # A finished item's followers now wait for what it waited for (usually nothing);
        # so do a dead link sync's (``dead``): later syncs of the link supersede it.
        finished = aliased(OutboxItem)
        query = update(OutboxItem).where(OutboxItem.waits_for == item_id)
        if dead:
            query = query.where(
                exists().where(finished.id == item_id, finished.kind.in_(DEAD_PASSES))
            )
        await session.execute(
            query.values(
                waits_for=select(finished.waits_for).where(finished.id == item_id).scalar_subquery()
            )
        )

    async def _settle(
        self,
        item_id: int,
        worker: str,
        values: dict[str, Any],
        *,
        note: dict[str, Any] | None = None,
    ) -> bool:
        # Only the current lease holder may settle: a worker whose lease expired
        # and was taken over must not overwrite the new holder's outcome.
        async with self._db.session() as session:
            result = await session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id == item_id,
                    OutboxItem.state == State.RUNNING,
                    OutboxItem.claimed_by == worker,
                )
                .values(**values)
            )
            settled = bool(result.rowcount)  # type: ignore[attr-defined]
            if settled and note:
                row = await session.get(OutboxItem, item_id)
                if row is not None:
                    row.payload = {**dict(row.payload), **note}
            if settled and values["state"] in (State.DONE, State.DEAD):
                await self._hand_on(session, item_id, dead=values["state"] == State.DEAD)
            return settled

    async def complete(self, item_id: int, worker: str, *, now: datetime) -> bool:
        """Mark a claimed item done; False when the claim was lost."""
        return await self._settle(
            item_id,
            worker,
            {
                "state": State.DONE,
                "claimed_by": None,
                "claimed_until": None,
                "last_error": None,
                "updated_at": now,
            },
        )

    async def retry_later(
        self, item_id: int, worker: str, *, error: str, when: datetime, now: datetime
    ) -> bool:
        """Put a claimed item back for another attempt at ``when``."""
        return await self._settle(
            item_id,
            worker,
            {
                "state": State.PENDING,
                "claimed_by": None,
                "claimed_until": None,
                "last_error": error,
                "next_attempt_at": when,
                "updated_at": now,
            },
        )

    async def kill(
        self, item_id: int, worker: str, *, error: str, now: datetime, exhausted: bool = False
    ) -> bool:
        """Mark a claimed item dead: it waits, visible, until an operator retries or drops it.

        Its subject's later items wait behind it, unless it is a link sync or a back-link
        (:data:`DEAD_PASSES`). ``exhausted``: it
        failed for passing reasons until it ran out of attempts (``payload["exhausted"]``,
        which the poll's repair of links looks for).
        """
        return await self._settle(
            item_id,
            worker,
            {
                "state": State.DEAD,
                "claimed_by": None,
                "claimed_until": None,
                "last_error": error,
                "updated_at": now,
            },
            note={"exhausted": exhausted},
        )

    async def annotate(
        self,
        item_ids: list[int],
        worker: str,
        values: dict[str, Any],
        *,
        now: datetime,
        live_claim: bool = False,
    ) -> dict[int, datetime]:
        """Merge ``values`` into the payloads of the items ``worker`` holds; their ids, each
        with the time its claim runs out.

        Keys set to None are removed. With ``live_claim`` an item whose lease has run
        out is left alone (a paused worker must not act on an item another may hold):
        write-ahead records go through here just before the action they announce, which
        must then happen before the claim runs out (``syncengine.jira.send_by``).
        """
        if not item_ids:
            return {}
        query = select(OutboxItem).where(
            OutboxItem.id.in_(item_ids),
            OutboxItem.state == State.RUNNING,
            OutboxItem.claimed_by == worker,
        )
        if live_claim:
            query = query.where(OutboxItem.claimed_until > now)
        if self._db.is_postgres:
            query = query.with_for_update(of=OutboxItem)
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
            for row in rows:
                merged = {**row.payload, **values}
                row.payload = {k: v for k, v in merged.items() if v is not None}
            return {row.id: row.claimed_until or now for row in rows}

    async def release(self, worker: str, *, now: datetime) -> int:
        """Give back every claim of ``worker`` (graceful stop); returns how many."""
        async with self._db.session() as session:
            result = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.state == State.RUNNING, OutboxItem.claimed_by == worker)
                .values(
                    state=State.PENDING,
                    claimed_by=None,
                    claimed_until=None,
                    attempts=OutboxItem.attempts - 1,
                    updated_at=now,
                )
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def wake_backoffs(self, project_id: int, *, now: datetime, keep: Collection[str]) -> int:
        """Make due the project's pending items backing off after a failure (how many); one
        whose payload sets a ``keep`` key waits for a reason of its own and keeps its time."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(OutboxItem.id, OutboxItem.payload).where(
                    OutboxItem.project_id == project_id,
                    OutboxItem.state == _literal(State.PENDING),
                    OutboxItem.attempts > 0,
                    OutboxItem.next_attempt_at > now,
                )
            )
            ids = [i for i, payload in rows if all(payload.get(k) is None for k in keep)]
            woken = 0
            for chunk in id_chunks(ids):
                due = update(OutboxItem).where(
                    OutboxItem.id.in_(chunk), OutboxItem.next_attempt_at > now
                )
                result = await session.execute(due.values(next_attempt_at=now))
                woken += int(result.rowcount)  # type: ignore[attr-defined]
            return woken

    async def live_until(self, item_id: int, worker: str, *, now: datetime) -> datetime | None:
        """When ``worker``'s claim on the item runs out (None: it has; another may hold it)."""
        async with self._db.session() as session:
            return await session.scalar(
                select(OutboxItem.claimed_until).where(
                    OutboxItem.id == item_id,
                    OutboxItem.state == State.RUNNING,
                    OutboxItem.claimed_by == worker,
                    OutboxItem.claimed_until > now,
                )
            )

    async def extend(self, item_id: int, worker: str, *, until: datetime) -> bool:
        """Extend a claim's lease while slow work goes on."""
        async with self._db.session() as session:
            result = await session.execute(
                update(OutboxItem)
                .where(
                    OutboxItem.id == item_id,
                    OutboxItem.claimed_by == worker,
                    OutboxItem.state == State.RUNNING,
                )
                .values(claimed_until=until)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def extend_claims(
        self, item_ids: Collection[int], worker: str, *, until: datetime
    ) -> set[int]:
        """Extend the claims ``worker`` holds on ``item_ids`` (its heartbeat while work is in
        flight): one statement per 500 items, however many are in hand; returns the ids
        that were still its own (now held until ``until``)."""
        ids = sorted(item_ids)
        extended: set[int] = set()
        for start in range(0, len(ids), 500):
            async with self._db.session() as session:
                result = await session.scalars(
                    update(OutboxItem)
                    .where(
                        OutboxItem.id.in_(ids[start : start + 500]),
                        OutboxItem.claimed_by == worker,
                        OutboxItem.state == State.RUNNING,
                    )
                    .values(claimed_until=until)
                    .returning(OutboxItem.id)
                )
                extended.update(result.all())
        return extended

    async def requeue(self, item_id: int, *, actor: str, now: datetime) -> bool:
        """Operator action: a dead item goes back to pending with a fresh attempt count."""
        return await self._operator(
            item_id,
            actor,
            "outbox.retry",
            now,
            {"state": State.PENDING, "attempts": 0, "next_attempt_at": now},
        )

    async def drop(self, item_id: int, *, actor: str, now: datetime) -> bool:
        """Operator action: give up on an item for good (kept as done, audited)."""
        return await self._operator(item_id, actor, "outbox.drop", now, {"state": State.DONE})

    async def _operator(
        self, item_id: int, actor: str, action: str, now: datetime, values: dict[str, Any]
    ) -> bool:
        async with self._db.session() as session:
            row = await session.get(OutboxItem, item_id)
            if row is None or row.state not in (State.DEAD, State.PENDING):
                return False
            detail = {"item": item_id, "kind": row.kind, "last_error": row.last_error}
            for key, value in values.items():
                setattr(row, key, value)
            if action == "outbox.retry":
                row.payload = {**row.payload, REQUEUED: True}
            row.updated_at = now
            if row.state == State.DONE:
                await session.flush()
                await self._hand_on(session, item_id)
            AuditRepository.add(
                session,
                project_id=row.project_id,
                group_id=row.group_id,
                actor=actor,
                action=action,
                detail=detail,
                now=now,
            )
            return True

    async def get(self, item_id: int) -> OutboxWork | None:
        """One item by id."""
        async with self._db.session() as session:
            row = await session.get(OutboxItem, item_id)
            return None if row is None else _work(row)

    async def list(
        self,
        *,
        project_id: int | None = None,
        states: tuple[str, ...] = State.UNFINISHED,
        limit: int = 100,
    ) -> list[OutboxWork]:
        """Items in ``states``, oldest first."""
        query = select(OutboxItem).where(OutboxItem.state.in_(states))
        if project_id is not None:
            query = query.where(OutboxItem.project_id == project_id)
        async with self._db.session() as session:
            rows = await session.scalars(query.order_by(OutboxItem.id).limit(limit))
            return [_work(row) for row in rows]

    async def depth(self) -> dict[str, tuple[int, datetime | None]]:
        """Per state: how many items, and when the oldest was created (for metrics)."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(OutboxItem.state, func.count(), func.min(OutboxItem.created_at))
                .where(state_in(OutboxItem.state, State.UNFINISHED))
                .group_by(OutboxItem.state)
            )
            return {state: (count, oldest) for state, count, oldest in rows}

    async def next_due(self) -> datetime | None:
        """When the earliest claimable pending item becomes due (so a worker can sleep
        until then): items of Passive projects and items that wait do not count."""
        async with self._db.session() as session:
            return await session.scalar(
                select(OutboxItem.next_attempt_at)
                .where(_ready(), OutboxItem.state == _literal(State.PENDING))
                .where(_active(), ~_blocked())
                .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
                .limit(1)
            )
