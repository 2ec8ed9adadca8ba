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

from syncengine.domain.groups import GroupState
from syncengine.store.group_edits import GroupEdit, GroupEdits, GroupFields
from syncengine.store.outbox import OutboxWork
from syncengine.store.work_kinds import LINK_PUSH

__all__ = ["PUSH", "ChangeResult", "GroupChanges"]

PUSH = LINK_PUSH


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
        edits: GroupEdits,
        *,
        syncing: Collection[str],
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        """``syncing``: the projects (by slug) whose changes travel to Jira (sync not off)."""
        self._edits = edits
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

        def decide(current: GroupFields) -> GroupEdit:
            values: dict[str, Any] = {"state": str(state)}
            if state is GroupState.RESOLVED:
                values.update(resolved_at=now, resolve_rule=resolve_rule)
            elif state is GroupState.OPEN:
                values.update(resolve_rule=None, resolved_at=None)
            return GroupEdit(before=current.state, after=str(state), values=values)

        return await self._change(group_id, "state", decide, actor=actor, now=now)

    async def assign(self, group_id: int, assignee: str | None, *, actor: str) -> ChangeResult:
        """Give a group to ``assignee`` (an e-mail), or to nobody."""
        value = (assignee.strip() if assignee else None) or None

        def decide(current: GroupFields) -> GroupEdit:
            return GroupEdit(before=current.assignee, after=value, values={"assignee": value})

        return await self._change(group_id, "assignee", decide, actor=actor, now=self._clock())

    async def record_outcome(self, work: OutboxWork, error: str | None) -> None:
        """Show the last Jira error of a group's outbox work on the group (cleared on success)."""
        if work.group_id is None:
            return
        await self._edits.set_sync_error(work.group_id, error)

    async def _change(
        self,
        group_id: int,
        field: str,
        decide: Callable[[GroupFields], GroupEdit],
        *,
        actor: str,
        now: datetime,
    ) -> ChangeResult:
        outcome = await self._edits.edit(
            group_id,
            field=field,
            decide=decide,
            actor=actor,
            now=now,
            push_kind=PUSH,
            pushes=self._syncing.__contains__,
        )
        if outcome.pushed:
            self._wake()
        return ChangeResult(
            group_id=group_id,
            field=field,
            before=outcome.before,
            after=outcome.after,
            pushed=outcome.pushed,
        )
