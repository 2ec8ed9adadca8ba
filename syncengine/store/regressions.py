"""The store side of regressions, inside the ingest transaction (a fold hook's connection).

Reopening is a conditional ``UPDATE ... WHERE state = 'resolved'``: of several
ingest transactions that find the same resolved group broken at once, exactly
one changes the row (the others see it open), so a regression is counted,
audited and sent to Jira once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from syncengine.store.database import SyncConnection, id_chunks
from syncengine.store.outbox import State, waits_for
from syncengine.store.tables import AuditLog, ErrorGroup, IssueLink, OutboxItem, Project
from syncengine.store.work_kinds import LINK_REGRESSION

__all__ = [
    "ResolvedGroup",
    "group_state",
    "note_version_problem",
    "reopen_regressed",
    "resolved_groups",
]

_MAX_PROBLEM = 2000  # characters of a version problem kept on the group


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolvedGroup:
    """A resolved group of the batch, with its rule and whether it is linked."""

    id: int
    project_id: int
    project_slug: str
    resolve_rule: list[dict[str, Any]] | None
    resolved_at: datetime | None
    linked: bool
    version_problem: str | None = None


def resolved_groups(conn: SyncConnection, group_ids: Sequence[int]) -> list[ResolvedGroup]:
    """The groups among ``group_ids`` that are resolved now (read in the caller's transaction)."""
    found: list[ResolvedGroup] = []
    for chunk in id_chunks(group_ids):
        rows = conn.execute(
            select(
                ErrorGroup.id,
                ErrorGroup.project_id,
                Project.slug,
                ErrorGroup.resolve_rule,
                ErrorGroup.resolved_at,
                IssueLink.id,
                ErrorGroup.version_problem,
            )
            .join(Project, Project.id == ErrorGroup.project_id)
            .outerjoin(IssueLink, IssueLink.group_id == ErrorGroup.id)
            .where(ErrorGroup.id.in_(chunk), ErrorGroup.state == "resolved")
        )
        found.extend(
            ResolvedGroup(
                id=row[0],
                project_id=row[1],
                project_slug=row[2],
                resolve_rule=row[3],
                resolved_at=row[4],
                linked=row[5] is not None,
                version_problem=row[6],
            )
            for row in rows
        )
    return found


def group_state(conn: SyncConnection, group_id: int) -> str:
    """The group's state as the caller's transaction sees it."""
    return str(conn.scalar(select(ErrorGroup.state).where(ErrorGroup.id == group_id)))


def reopen_regressed(
    conn: SyncConnection,
    group: ResolvedGroup,
    *,
    audit: dict[str, Any],
    outbox: dict[str, Any] | None,
    now: datetime,
) -> int | None:
    """Reopen ``group`` for a regression, once; returns its new regression count.

    None when another transaction reopened it first (nothing is written then).
    ``audit`` is the detail of the ``group.regression`` entry; ``outbox`` the
    payload of the ``link.regression`` item to queue (None: none).
    """
    result = conn.execute(
        update(ErrorGroup)
        .where(ErrorGroup.id == group.id, ErrorGroup.state == "resolved")
        .values(
            state="open",
            regression_count=ErrorGroup.regression_count + 1,
            last_regression_at=now,
            resolve_rule=None,
            resolved_at=None,
            version_problem=None,
            updated_at=now,
        )
    )
    if not result.rowcount:
        return None
    stored = conn.scalar(select(ErrorGroup.regression_count).where(ErrorGroup.id == group.id))
    count = int(stored or 0)
    conn.execute(
        insert(AuditLog).values(
            project_id=group.project_id,
            group_id=group.id,
            actor="ingest",
            action="group.regression",
            detail={**audit, "regression_count": count},
            created_at=now,
        )
    )
    if outbox is not None:
        conn.execute(
            insert(OutboxItem).values(
                project_id=group.project_id,
                group_id=group.id,
                kind=LINK_REGRESSION,
                payload={**outbox, "regression_count": count},
                state=State.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
                updated_at=now,
                waits_for=waits_for(group_id=group.id, support_request_id=None),
            )
        )
    return count


def note_version_problem(
    conn: SyncConnection, group: ResolvedGroup, problem: str | None, *, now: datetime
) -> bool:
    """Show ``problem`` (None: no problem) on ``group``; audit a new one. True when it changed.

    Written only when it differs from what the group shows, so a stream of reports
    with the same unreadable version writes the row and the audit log once.
    """
    problem = problem[:_MAX_PROBLEM] if problem else None
    if problem == group.version_problem:
        return False
    conn.execute(
        update(ErrorGroup)
        .where(ErrorGroup.id == group.id)
        .values(version_problem=problem, updated_at=now)
    )
    if problem is not None:
        conn.execute(
            insert(AuditLog).values(
                project_id=group.project_id,
                group_id=group.id,
                actor="ingest",
                action="group.version_unreadable",
                detail={"problem": problem},
                created_at=now,
            )
        )
    return True
