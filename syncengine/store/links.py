"""Issue links: a group's Jira issue (by id AND key) and the last synced snapshot.

The snapshot is the base of the three-way merge: a Jira value equal to it is our
own echo. Links are found by issue id, never only by key (keys change when an
issue moves to another project).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from syncengine.errors import StoreConflict
from syncengine.store.database import Database
from syncengine.store.outbox import OutboxRepository
from syncengine.store.tables import IssueLink
from syncengine.store.work_kinds import LINK_BACKLINK

__all__ = ["IssueLinkRepository", "LinkRecord", "Snapshot"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    """What both sides agreed on at the last sync."""

    state: str | None = None
    status: str | None = None
    assignee: str | None = None
    fix_versions: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkRecord:
    """A group's link to its Jira issue."""

    id: int
    project_id: int
    group_id: int
    issue_id: str
    issue_key: str
    snapshot: Snapshot
    jira_updated_at: datetime | None
    synced_at: datetime | None
    created_at: datetime
    impact_written_at: datetime | None = None
    impact_fields: Mapping[str, Any] = field(default_factory=dict)
    """What the last impact write sent, by field name (or id)."""
    backlinked_at: datetime | None = None


def _impact_shown(written: Mapping[str, Any] | None) -> dict[str, Any]:
    written = written or {}
    names = written.get("names") or {}
    return {
        str(names.get(fid) or fid): value for fid, value in (written.get("fields") or {}).items()
    }


def _record(row: IssueLink) -> LinkRecord:
    versions = (row.snapshot_fix_versions or {}).get("names", [])
    return LinkRecord(
        id=row.id,
        project_id=row.project_id,
        group_id=row.group_id,
        issue_id=row.jira_issue_id,
        issue_key=row.jira_issue_key,
        snapshot=Snapshot(
            state=row.snapshot_state,
            status=row.snapshot_status,
            assignee=row.snapshot_assignee,
            fix_versions=tuple(versions),
        ),
        jira_updated_at=row.jira_updated_at,
        synced_at=row.synced_at,
        created_at=row.created_at,
        impact_written_at=row.impact_written_at,
        impact_fields=_impact_shown(row.impact_written),
        backlinked_at=row.backlinked_at,
    )


class IssueLinkRepository:
    """Reads and writes issue links."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def link(
        self,
        *,
        project_id: int,
        group_id: int,
        issue_id: str,
        issue_key: str,
        snapshot: Snapshot,
        now: datetime,
        jira_updated_at: datetime | None = None,
        backlink: bool = False,
    ) -> LinkRecord:
        """Link a group to an issue; an existing link of the group is returned unchanged.

        Linking is idempotent so a create retried after a lost answer converges on
        the one issue Jira has. With ``backlink`` (an issue the engine did not create)
        the back-link comment and remote link are queued in the same transaction, so
        each new link gets them exactly once.
        """
        try:
            async with self._db.session() as session:
                row = IssueLink(
                    project_id=project_id,
                    group_id=group_id,
                    jira_issue_id=issue_id,
                    jira_issue_key=issue_key,
                    snapshot_state=snapshot.state,
                    snapshot_status=snapshot.status,
                    snapshot_assignee=snapshot.assignee,
                    snapshot_fix_versions={"names": list(snapshot.fix_versions)},
                    jira_updated_at=jira_updated_at,
                    synced_at=now,
                    created_at=now,
                )
                session.add(row)
                await session.flush()
                if backlink:
                    OutboxRepository.add(
                        session,
                        project_id=project_id,
                        group_id=group_id,
                        kind=LINK_BACKLINK,
                        payload={"link_id": row.id, "issue_id": issue_id},
                        now=now,
                    )
                return _record(row)
        except StoreConflict:
            existing = await self.for_group(group_id)
            if existing is None:
                raise
            return existing

    async def for_group(self, group_id: int) -> LinkRecord | None:
        """The group's link, if it has one."""
        async with self._db.session() as session:
            row = await session.scalar(select(IssueLink).where(IssueLink.group_id == group_id))
            return None if row is None else _record(row)

    async def for_issue(self, project_id: int, issue_id: str) -> LinkRecord | None:
        """The link of the issue with this id in this project, if any."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(IssueLink).where(
                    IssueLink.project_id == project_id, IssueLink.jira_issue_id == issue_id
                )
            )
            return None if row is None else _record(row)

    async def for_issues(self, project_id: int, issue_ids: list[str]) -> dict[str, LinkRecord]:
        """The links of the given issue ids in a project, by issue id (one query)."""
        if not issue_ids:
            return {}
        async with self._db.session() as session:
            rows = await session.scalars(
                select(IssueLink).where(
                    IssueLink.project_id == project_id, IssueLink.jira_issue_id.in_(issue_ids)
                )
            )
            return {row.jira_issue_id: _record(row) for row in rows}

    async def for_project(self, project_id: int) -> list[LinkRecord]:
        """Every link of a project."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(IssueLink).where(IssueLink.project_id == project_id).order_by(IssueLink.id)
            )
            return [_record(row) for row in rows]

    async def save_snapshot(
        self,
        link_id: int,
        snapshot: Snapshot,
        *,
        now: datetime,
        issue_key: str | None = None,
        jira_updated_at: datetime | None = None,
    ) -> None:
        """Record what both sides now agree on (and the key, when the issue moved)."""
        async with self._db.session() as session:
            row = await session.get(IssueLink, link_id)
            if row is None:
                return
            row.snapshot_state = snapshot.state
            row.snapshot_status = snapshot.status
            row.snapshot_assignee = snapshot.assignee
            row.snapshot_fix_versions = {"names": list(snapshot.fix_versions)}
            row.synced_at = now
            if issue_key is not None:
                row.jira_issue_key = issue_key
            if jira_updated_at is not None:
                row.jira_updated_at = jira_updated_at

    async def note_statuses(self, statuses: Mapping[int, str]) -> None:
        """Record the Jira status each new link's issue was read in (link id -> status name).

        Only a link whose status is still unknown takes it: a sync that ran meanwhile
        read a status at least as fresh.
        """
        if not statuses:
            return
        async with self._db.session() as session:
            for link_id, status in statuses.items():
                await session.execute(
                    update(IssueLink)
                    .where(IssueLink.id == link_id, IssueLink.snapshot_status.is_(None))
                    .values(snapshot_status=status)
                )

    async def unlink(self, link_id: int) -> None:
        """Forget a link (the issue was deleted in Jira); the group stays."""
        async with self._db.session() as session:
            await session.execute(delete(IssueLink).where(IssueLink.id == link_id))
