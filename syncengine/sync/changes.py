"""Engine-side changes of a group (state, assignee, resolved-until) and what they owe Jira.

A change, its audit entry and — when the group is linked and the project syncs
to Jira — a ``link.push`` outbox item are written in ONE transaction, so the
change and the work it causes commit together. The push item names the fields
that changed; its handler merges them with Jira's current values
(:mod:`syncengine.domain.merge`) before sending anything.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from syncengine.domain.groups import GroupState
from syncengine.errors import NotFound
from syncengine.store.audit import AuditRepository
from syncengine.store.database import Database
from syncengine.store.outbox import OutboxRepository, OutboxWork
from syncengine.store.tables import ErrorGroup, IssueLink, Project

__all__ = ["PUSH", "ChangeResult", "GroupChanges"]

PUSH = "link.push"


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeResult:
    """What a change did: the values before and after, and whether Jira is owed a push."""

    group_id: int
    field: str
    before: Any
    after: Any
    pushed: bool


class GroupChanges:
    """Changes groups on behalf of people (dashboard, API, CLI)."""

    def __init__(
        self,
        db: Database,
        *,
        syncing: Collection[str],
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        """``syncing``: the projects (by slug) whose changes travel to Jira (sync not off)."""
        self._db = db
        self._syncing = frozenset(syncing)
        self._clock = clock
        self._wake = wake

    async def set_state(
        self,
        group_id: int,
        state: GroupState,
        *,
        actor: str,
        resolve_rule: list[dict[str, Any]] | None = None,
    ) -> ChangeResult:
        """Move a group to ``state``; resolving may carry a resolved-until rule.

        Reopening clears the rule. Raises NotFound for an unknown group.
        """
        now = self._clock()

        def apply(row: ErrorGroup) -> tuple[Any, Any]:
            before = row.state
            row.state = str(state)
            if state is GroupState.RESOLVED:
                row.resolved_at = now
                row.resolve_rule = resolve_rule
            elif state is GroupState.OPEN:
                row.resolve_rule = None
                row.resolved_at = None
            return before, str(state)

        return await self._change(group_id, "state", apply, actor=actor, now=now)

    async def assign(self, group_id: int, assignee: str | None, *, actor: str) -> ChangeResult:
        """Give a group to ``assignee`` (an e-mail), or to nobody."""
        value = assignee.strip() if assignee else None

        def apply(row: ErrorGroup) -> tuple[Any, Any]:
            before = row.assignee
            row.assignee = value or None
            return before, row.assignee

        return await self._change(group_id, "assignee", apply, actor=actor, now=self._clock())

    async def record_outcome(self, work: OutboxWork, error: str | None) -> None:
        """Show the last Jira error of a group's outbox work on the group (cleared on success)."""
        if work.group_id is None:
            return
        async with self._db.session() as session:
            await session.execute(
                update(ErrorGroup)
                .where(ErrorGroup.id == work.group_id)
                .values(last_sync_error=error[:2000] if error else None)
            )

    async def _change(
        self,
        group_id: int,
        field: str,
        apply: Callable[[ErrorGroup], tuple[Any, Any]],
        *,
        actor: str,
        now: datetime,
    ) -> ChangeResult:
        async with self._db.session() as session:
            row = await session.get(ErrorGroup, group_id, with_for_update=self._db.is_postgres)
            if row is None:
                raise NotFound(f"no error group {group_id}")
            before, after = apply(row)
            row.updated_at = now
            pushed = False
            if before != after:
                AuditRepository.add(
                    session,
                    actor=actor,
                    action=f"group.{field}",
                    detail={"before": before, "after": after},
                    now=now,
                    project_id=row.project_id,
                    group_id=row.id,
                )
                pushed = await self._owes_push(session, row)
                if pushed:
                    OutboxRepository.add(
                        session,
                        project_id=row.project_id,
                        group_id=row.id,
                        kind=PUSH,
                        payload={"fields": [field], "actor": actor},
                        now=now,
                    )
        if pushed:
            self._wake()
        return ChangeResult(
            group_id=group_id, field=field, before=before, after=after, pushed=pushed
        )

    async def _owes_push(self, session: Any, row: ErrorGroup) -> bool:
        linked = await session.scalar(select(IssueLink.id).where(IssueLink.group_id == row.id))
        if linked is None:
            return False
        slug = await session.scalar(select(Project.slug).where(Project.id == row.project_id))
        return (slug or "") in self._syncing
