"""The manual paths of the lifecycle: create a group's ticket now, or link an existing issue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from syncengine.errors import StoreError
from syncengine.jira.client import JiraClient
from syncengine.store.audit import AuditRepository
from syncengine.store.groups import GroupRepository
from syncengine.store.links import IssueLinkRepository, LinkRecord
from syncengine.store.ticket_queue import TicketRequests
from syncengine.sync.tickets import CREATE, LOOKUP_FIELDS, snapshot_of

__all__ = ["ManualTickets"]


class ManualTickets:
    """The manual paths: create a group's ticket now, or link it to an existing issue."""

    def __init__(
        self,
        *,
        requests: TicketRequests,
        audit: AuditRepository,
        groups: GroupRepository,
        links: IssueLinkRepository,
        clients: Callable[[str], JiraClient],
        clock: Callable[[], datetime],
        wake: Callable[[], None],
    ) -> None:
        self._requests = requests
        self._audit = audit
        self._groups = groups
        self._links = links
        self._clients = clients
        self._clock = clock
        self._wake = wake

    async def create_now(self, group_id: int, *, actor: str) -> str:
        """Queue the group's ticket whatever the rules say; says what happened.

        Raises NotFound for an unknown group.
        """
        group = await self._groups.snapshot(group_id, top=1)
        link = await self._links.for_group(group_id)
        if link is not None:
            return f"group {group_id} already has {link.issue_key}"
        queued = await self._requests.request(
            group_id, kind=CREATE, actor=actor, fingerprint=group.fingerprint, now=self._clock()
        )
        if queued is not None:
            return f"the ticket of group {group_id} is already queued (outbox item {queued})"
        self._wake()
        return f"the ticket of group {group_id} is queued"

    async def link_existing(self, group_id: int, issue_key: str, *, actor: str) -> LinkRecord:
        """Link a group to an issue that already exists in Jira (read to check it does).

        Raises NotFound for an unknown group, JiraError when Jira does not have the
        issue, and StoreError when the group is linked already or the issue belongs
        to another group.
        """
        group = await self._groups.snapshot(group_id, top=1)
        existing = await self._links.for_group(group_id)
        if existing is not None:
            raise StoreError(
                f"group {group_id} is already linked to {existing.issue_key}; unlink it first"
            )
        issue = await self._clients(group.project).get_issue(issue_key, fields=LOOKUP_FIELDS)
        project_id = await self._requests.project_of(group_id)
        assert project_id is not None
        other = await self._links.for_issue(project_id, issue.id)
        if other is not None:
            raise StoreError(f"{issue.key} is already linked to group {other.group_id}")
        link = await self._links.link(
            project_id=project_id,
            group_id=group_id,
            issue_id=issue.id,
            issue_key=issue.key,
            snapshot=snapshot_of(group, issue),
            now=self._clock(),
            jira_updated_at=issue.updated,
            backlink=True,
        )
        self._wake()
        await self._audit.record(
            actor=actor,
            action="ticket.linked",
            detail={"issue": issue.key},
            now=self._clock(),
            project_id=project_id,
            group_id=group_id,
        )
        return link
