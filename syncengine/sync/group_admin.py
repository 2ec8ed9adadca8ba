"""What people see of a group and do to it, from the dashboard or the API (one service).

Every action is audited by the engine service it calls; state and assignee
changes of a linked group queue a ``link.push`` to Jira (see
:mod:`syncengine.sync.changes`). A group is looked up under a project (API) or on
its own (pages); :meth:`GroupAdmin.detail` raises NotFound when it is not where
it was asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncengine.domain.groups import GroupSnapshot, GroupState
from syncengine.domain.resolve import InvalidRule, ResolveRule
from syncengine.errors import InvalidInput, NotFound, StoreError
from syncengine.store.audit import AuditEntry, AuditRepository
from syncengine.store.group_queries import GroupFilter
from syncengine.store.groups import GroupPage, GroupRepository
from syncengine.store.history import DayCount, HistoryRepository
from syncengine.store.link_sync import LinkSyncStore
from syncengine.store.links import IssueLinkRepository, LinkRecord
from syncengine.store.projects import ProjectRecord, ProjectRepository
from syncengine.sync.changes import ChangeResult, GroupChanges
from syncengine.sync.manual import ManualResolution
from syncengine.sync.manual_tickets import ManualTickets

__all__ = ["ISSUE_KEY", "MAX_TOP", "AttributeShare", "GroupAdmin", "GroupDetail"]

ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]+-[1-9][0-9]*$")
MAX_TOP = 100
HISTORY_DAYS = 30
_MAX_EMAIL = 320
_MAX_ID = 2**63 - 1


@dataclass(frozen=True, kw_only=True, slots=True)
class AttributeShare:
    """One value of an attribute: how many of the group's reports carried it, and their share."""

    value: str
    count: int
    share: float  # of all the group's reports, 0..1
    last_seen: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupDetail:
    """A group with its top attribute values, Jira link, resolution and audit trail."""

    group: GroupSnapshot
    attributes: dict[str, list[AttributeShare]]
    link: LinkRecord | None
    issue_url: str | None
    resolve_rule: list[dict[str, Any]] | None
    resolved_at: datetime | None
    audit: list[AuditEntry]
    history: list[DayCount]


class GroupAdmin:
    """Reads groups for people and carries out what they ask (see the module docstring)."""

    def __init__(
        self,
        *,
        projects: ProjectRepository,
        groups: GroupRepository,
        links: IssueLinkRepository,
        audit: AuditRepository,
        history: HistoryRepository,
        sync_store: LinkSyncStore,
        changes: GroupChanges,
        tickets: ManualTickets,
        resolution: ManualResolution,
        jira_urls: Mapping[str, str],
        clock: Callable[[], datetime],
    ) -> None:
        self._projects = projects
        self._groups = groups
        self._links = links
        self._audit = audit
        self._history = history
        self._sync_store = sync_store
        self._changes = changes
        self._tickets = tickets
        self.resolution = resolution
        self._jira_urls = {slug: url.rstrip("/") for slug, url in jira_urls.items() if url}
        self._clock = clock

    async def projects(self) -> list[ProjectRecord]:
        """Every stored project (for filters)."""
        return await self._projects.all()

    async def project(self, slug: str) -> ProjectRecord:
        """The stored project ``slug``; NotFound when there is none."""
        record = await self._projects.get(slug)
        if record is None:
            raise NotFound(f"there is no project {slug!r}")
        return record

    async def page(
        self,
        project_id: int | None,
        *,
        limit: int,
        cursor: str | None = None,
        wanted: GroupFilter | None = None,
    ) -> GroupPage:
        """A page of groups (see :meth:`GroupRepository.page`; ValueError for a stale cursor)."""
        return await self._groups.page(project_id, limit=limit, cursor=cursor, wanted=wanted)

    def issue_url(self, project_slug: str, key: str) -> str | None:
        """The browser address of Jira issue ``key`` (None when the project has no Jira URL)."""
        site = self._jira_urls.get(project_slug)
        return f"{site}/browse/{key}" if site else None

    async def detail(
        self, group_id: int, *, project: str | None = None, top: int = 10
    ) -> GroupDetail:
        """Everything the group page shows; raises NotFound (also for another project's group)."""
        missing = NotFound(
            f"project {project!r} has no group {group_id}"
            if project
            else f"no error group {group_id}"
        )
        if not 0 < group_id <= _MAX_ID:
            raise missing
        try:
            group = await self._groups.snapshot(group_id, top=top)
        except NotFound as exc:
            raise missing from exc
        if project is not None and group.project != project:
            raise missing
        total = max(group.count, 1)
        attributes = {
            name: [
                AttributeShare(
                    value=v.value, count=v.count, share=v.count / total, last_seen=v.last_seen
                )
                for v in values
            ]
            for name, values in sorted(group.attributes.items())
        }
        link = await self._links.for_group(group_id)
        resolution = await self._sync_store.group(group_id)
        return GroupDetail(
            group=group,
            attributes=attributes,
            link=link,
            issue_url=self.issue_url(group.project, link.issue_key) if link else None,
            resolve_rule=resolution.resolve_rule if resolution else None,
            resolved_at=resolution.resolved_at if resolution else None,
            audit=await self._audit.for_group(group_id, limit=50),
            history=await self._history.for_group(
                group_id, days=HISTORY_DAYS, today=self._clock().date()
            ),
        )

    async def change_state(
        self,
        group_id: int,
        state: GroupState,
        *,
        actor: str,
        until_version: str | None = None,
        rule: list[Any] | None = None,
    ) -> ChangeResult:
        """Move a group to ``state``; resolving may name a version or a Backtrace rule.

        Raises NotFound (no group) and InvalidInput (a rule or version where they do
        not belong, or a rule that cannot be used).
        """
        until_version = (until_version or "").strip() or None
        if state is not GroupState.RESOLVED or (until_version is None and rule is None):
            if until_version is not None or rule is not None:
                raise InvalidInput({"state": "a version or rule goes only with state 'resolved'"})
            return await self._changes.set_state(group_id, state, actor=actor)
        try:
            result, _ = await self.resolution.resolve(
                group_id, actor=actor, until_version=until_version, rule_json=rule
            )
        except InvalidRule as exc:
            raise InvalidInput({"rule": "; ".join(exc.problems)}) from exc
        return result

    async def assign(self, group_id: int, assignee: str | None, *, actor: str) -> ChangeResult:
        """Give the group to ``assignee`` (an e-mail), or nobody for None/blank.

        Raises NotFound and InvalidInput (not an e-mail address).
        """
        value = (assignee or "").strip()
        if value and (
            "@" not in value or len(value) > _MAX_EMAIL or any(c.isspace() for c in value)
        ):
            raise InvalidInput(
                {"assignee": "give the assignee's e-mail address, or leave it empty"}
            )
        return await self._changes.assign(group_id, value or None, actor=actor)

    async def link_issue(self, group_id: int, key: str, *, actor: str) -> LinkRecord:
        """Link the group to existing Jira issue ``key`` (read from Jira first).

        Raises NotFound, InvalidInput (a malformed key, or a link that already
        exists), and JiraError when Jira does not have the issue.
        """
        key = key.strip().upper()
        if not ISSUE_KEY.match(key):
            raise InvalidInput({"issue_key": f"{key!r} is not an issue key like CRASH-12"})
        try:
            return await self._tickets.link_existing(group_id, key, actor=actor)
        except StoreError as exc:
            if type(exc) is not StoreError:  # busy or failing store: not the caller's to fix
                raise
            raise InvalidInput({"issue_key": str(exc)}) from exc

    async def create_ticket(self, group_id: int, *, actor: str) -> str:
        """Queue the group's ticket now, whatever the rules say; says what happened."""
        return await self._tickets.create_now(group_id, actor=actor)

    async def resolve(
        self,
        group_id: int,
        *,
        actor: str,
        until_version: str | None = None,
        rule_json: Any = None,
    ) -> tuple[ChangeResult, ResolveRule]:
        """Resolve until a version or rule (or until seen again); NotFound, InvalidRule."""
        return await self.resolution.resolve(
            group_id, actor=actor, until_version=until_version, rule_json=rule_json
        )

    async def reopen(self, group_id: int, *, actor: str) -> ChangeResult:
        """Reopen a group (its rule is cleared); NotFound for an unknown group."""
        return await self.resolution.reopen(group_id, actor=actor)
