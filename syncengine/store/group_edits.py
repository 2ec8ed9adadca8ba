"""Engine-side edits of one group (state, assignee, resolved-until), audited, with their push.

An edit, its audit entry and — when the group is linked and its project syncs to
Jira — the outbox item that carries it to Jira are written in ONE transaction.
The caller decides the new values from the current ones (:class:`GroupFields`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from syncengine.errors import NotFound
from syncengine.store.audit import AuditRepository
from syncengine.store.database import Database
from syncengine.store.outbox import OutboxRepository
from syncengine.store.tables import ErrorGroup, IssueLink, Project

__all__ = ["EditOutcome", "GroupEdit", "GroupEdits", "GroupFields"]

_EDITABLE = frozenset({"state", "assignee", "resolve_rule", "resolved_at"})


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupFields:
    """The values of a group an edit is decided on."""

    state: str
    assignee: str | None
    resolve_rule: list[dict[str, Any]] | None
    resolved_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupEdit:
    """An edit: the value shown before and after, and the columns to set."""

    before: Any
    after: Any
    values: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True, slots=True)
class EditOutcome:
    """What an edit did: the values before and after, and whether Jira is owed a push."""

    before: Any
    after: Any
    pushed: bool


class GroupEdits:
    """Applies edits to groups (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def edit(
        self,
        group_id: int,
        *,
        field: str,
        decide: Callable[[GroupFields], GroupEdit],
        actor: str,
        now: datetime,
        push_kind: str,
        pushes: Callable[[str], bool],
    ) -> EditOutcome:
        """Apply ``decide``'s edit to the group, locked; audit it and queue its push.

        ``pushes(slug)`` says whether the group's project sends changes to Jira.
        Raises NotFound for an unknown group, ValueError for a column that is not
        editable.
        """
        async with self._db.session() as session:
            row = await session.get(ErrorGroup, group_id, with_for_update=self._db.is_postgres)
            if row is None:
                raise NotFound(f"no error group {group_id}")
            edit = decide(
                GroupFields(
                    state=row.state,
                    assignee=row.assignee,
                    resolve_rule=row.resolve_rule,
                    resolved_at=row.resolved_at,
                )
            )
            unknown = set(edit.values) - _EDITABLE
            if unknown:
                raise ValueError(f"not editable: {sorted(unknown)}")
            for column, value in edit.values.items():
                setattr(row, column, value)
            row.updated_at = now
            pushed = False
            if edit.before != edit.after:
                AuditRepository.add(
                    session,
                    actor=actor,
                    action=f"group.{field}",
                    detail={"before": edit.before, "after": edit.after},
                    now=now,
                    project_id=row.project_id,
                    group_id=row.id,
                )
                pushed = await _owes_push(session, row, pushes)
                if pushed:
                    OutboxRepository.add(
                        session,
                        project_id=row.project_id,
                        group_id=row.id,
                        kind=push_kind,
                        payload={"fields": [field], "actor": actor},
                        now=now,
                    )
        return EditOutcome(before=edit.before, after=edit.after, pushed=pushed)

    async def set_sync_error(self, group_id: int, error: str | None) -> None:
        """Show the last Jira error of a group's outbox work on it (None clears it)."""
        async with self._db.session() as session:
            await session.execute(
                update(ErrorGroup)
                .where(ErrorGroup.id == group_id)
                .values(last_sync_error=error[:2000] if error else None)
            )


async def _owes_push(session: AsyncSession, row: ErrorGroup, pushes: Callable[[str], bool]) -> bool:
    linked = await session.scalar(select(IssueLink.id).where(IssueLink.group_id == row.id))
    if linked is None:
        return False
    slug = await session.scalar(select(Project.slug).where(Project.id == row.project_id))
    return pushes(slug or "")
