"""The outbox: every Jira action owed, durable until it succeeds or an operator drops it.

Items are written in the same transaction as the change that causes them
(:meth:`OutboxRepository.add`). Workers claim due items under a lease: on
PostgreSQL with ``FOR UPDATE SKIP LOCKED`` so many processes share the work; a
crashed worker's claims expire and are taken over. Items of one group (or one
support request) run strictly in order: an item is not claimed while an earlier
item of the same subject is unfinished, so a transition never overtakes the create.
Nothing is claimed for a project whose integration is Passive.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from syncengine.store.audit import AuditRepository
from syncengine.store.database import Database
from syncengine.store.tables import OutboxItem, Project

__all__ = ["OutboxRepository", "OutboxWork", "State"]


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

    def __init__(self, db: Database) -> None:
        self._db = db

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
        lease. Items whose project is Passive, or that wait behind an earlier
        unfinished item of the same group or support request, are left alone.
        """
        earlier = aliased(OutboxItem)
        blocked = exists().where(
            earlier.id < OutboxItem.id,
            earlier.state.in_(State.UNFINISHED),
            or_(
                and_(OutboxItem.group_id.is_not(None), earlier.group_id == OutboxItem.group_id),
                and_(
                    OutboxItem.support_request_id.is_not(None),
                    earlier.support_request_id == OutboxItem.support_request_id,
                ),
            ),
        )
        due = or_(
            and_(OutboxItem.state == State.PENDING, OutboxItem.next_attempt_at <= now),
            and_(OutboxItem.state == State.RUNNING, OutboxItem.claimed_until < now),
        )
        query = (
            select(OutboxItem)
            .join(Project, Project.id == OutboxItem.project_id)
            .where(due, Project.integration_active.is_(True), ~blocked)
            .order_by(OutboxItem.id)
            .limit(limit)
        )
        if exclude_projects:
            query = query.where(OutboxItem.project_id.not_in(sorted(exclude_projects)))
        if self._db.is_postgres:
            query = query.with_for_update(of=OutboxItem, skip_locked=True)
        async with self._db.session() as session:
            rows = (await session.scalars(query)).all()
            for row in rows:
                row.state = State.RUNNING
                row.claimed_by = worker
                row.claimed_until = now + lease
                row.attempts += 1
                row.updated_at = now
            return [_work(row) for row in rows]

    async def _settle(self, item_id: int, worker: str, values: dict[str, Any]) -> bool:
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
            return bool(result.rowcount)  # type: ignore[attr-defined]

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

    async def kill(self, item_id: int, worker: str, *, error: str, now: datetime) -> bool:
        """Mark a claimed item dead: it waits, visible, until an operator retries or drops it."""
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
        )

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

    async def extend_claims(self, worker: str, *, until: datetime) -> int:
        """Extend every claim ``worker`` holds (its heartbeat while work is in flight)."""
        async with self._db.session() as session:
            result = await session.execute(
                update(OutboxItem)
                .where(OutboxItem.claimed_by == worker, OutboxItem.state == State.RUNNING)
                .values(claimed_until=until)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

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
            row.updated_at = now
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
                .where(OutboxItem.state != State.DONE)
                .group_by(OutboxItem.state)
            )
            return {state: (count, oldest) for state, count, oldest in rows}

    async def next_due(self) -> datetime | None:
        """When the earliest pending item becomes due (so a worker can sleep until then)."""
        async with self._db.session() as session:
            return await session.scalar(
                select(func.min(OutboxItem.next_attempt_at)).where(
                    OutboxItem.state == State.PENDING
                )
            )
