"""Ticket creation: exactly one Jira issue per group, even when Jira loses answers.

Every issue carries its group's identity twice: a label ``syncengine-<key>`` (JQL
finds it) and the issue property ``syncengine`` (``{"group": key, ...}``), set
atomically with the create. An outbox item on its first attempt creates; on any
later attempt the outcome of an earlier one is unknown (a lost answer, a crashed
worker), so the identity is searched for first and a found issue is linked
instead of creating a second. Creates of many groups go through bulk create, 50
issues a call, and retried batches search all their identities in one JQL query.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from syncengine.domain.createmeta import CreateMeta
from syncengine.domain.description import DescriptionRenderer
from syncengine.domain.fieldcheck import check_config
from syncengine.domain.fields import BuiltFields, TicketTemplate, build_fields, identity_label
from syncengine.domain.groups import GroupSnapshot
from syncengine.errors import JiraPermanentError, NotFound
from syncengine.jira import jql
from syncengine.jira.bodies import NewIssue
from syncengine.jira.client import JiraClient
from syncengine.jira.errors import JiraBadRequest, JiraInvalidIssueType
from syncengine.jira.models import JiraIssue
from syncengine.logs import bind
from syncengine.store.groups import GroupRepository
from syncengine.store.links import IssueLinkRepository, LinkRecord, Snapshot
from syncengine.store.outbox import OutboxWork
from syncengine.store.projects import ProjectRepository
from syncengine.store.work_kinds import TICKET_CREATE

__all__ = [
    "CREATE",
    "IDENTITY_PROPERTY",
    "LOOKUP_FIELDS",
    "TicketService",
    "group_key",
    "snapshot_of",
]

log = logging.getLogger(__name__)

CREATE = TICKET_CREATE
IDENTITY_PROPERTY = "syncengine"
LOOKUP_FIELDS = ("status", "assignee", "fixVersions", "labels", "updated", "resolution")


def group_key(project_slug: str, fingerprint: str) -> str:
    """A group's identity in Jira: stable across database rebuilds, short enough for a label."""
    digest = hashlib.sha256(f"{project_slug}\x00{fingerprint}".encode()).hexdigest()
    return digest[:16]


@dataclass(frozen=True, kw_only=True)
class _Site:
    """What creating issues in one project needs, fetched once per process."""

    client: JiraClient
    template: TicketTemplate
    createmeta: CreateMeta | None
    cloud: bool


def snapshot_of(group: GroupSnapshot, issue: JiraIssue | None = None) -> Snapshot:
    status = issue.status.name if issue is not None and issue.status is not None else None
    versions = issue.fix_versions if issue is not None else ()
    return Snapshot(
        state=str(group.state), status=status, assignee=group.assignee, fix_versions=versions
    )


class TicketService:
    """Runs ``ticket.create`` outbox items (one at a time, or in bulk)."""

    def __init__(
        self,
        *,
        templates: Mapping[str, TicketTemplate],
        projects: ProjectRepository,
        groups: GroupRepository,
        links: IssueLinkRepository,
        clients: Callable[[str], JiraClient],
        renderer: DescriptionRenderer,
        clock: Callable[[], datetime],
    ) -> None:
        self._templates = dict(templates)
        self._projects = projects
        self._groups = groups
        self._links = links
        self._clients = clients
        self._renderer = renderer
        self._clock = clock
        self._sites: dict[str, _Site] = {}
        self._slugs: dict[int, str] = {}

    def forget_createmeta(self) -> None:
        """Drop cached create screens (Jira admins change them; a job refreshes)."""
        self._sites.clear()

    async def revalidate(self, slug: str) -> list[str]:
        """Read project ``slug``'s create screen again and check the ticket fields against it.

        Returns the problems (empty when the configuration still fits); Jira errors
        propagate. Later creates use the fresh screen.
        """
        self._sites.pop(slug, None)
        site = await self._site(slug)
        if site.createmeta is None:
            return []
        problems = check_config(
            site.template, site.createmeta, cloud=site.cloud, renderer=self._renderer
        )
        return [f"{p.field}: {p.message} ({p.fix})" for p in problems]

    async def _slug(self, project_id: int) -> str:
        if project_id not in self._slugs:
            for project in await self._projects.all():
                self._slugs[project.id] = project.slug
        return self._slugs[project_id]

    async def _site(self, slug: str) -> _Site:
        site = self._sites.get(slug)
        if site is not None:
            return site
        client = self._clients(slug)
        # The URL may name the REST version; the client's config is what is spoken.
        template = replace(self._templates[slug], api_version=client.config.api_version)
        cloud = (await client.flavour()) == "cloud"
        try:
            createmeta = await client.create_meta(template.project_key, template.issue_type)
        except JiraInvalidIssueType as exc:
            names = ", ".join(exc.choices) or "none"
            raise JiraPermanentError(
                str(exc), fix=f"set projects.{slug}.jira.issue_type to one of: {names}"
            ) from exc
        site = _Site(client=client, template=template, createmeta=createmeta, cloud=cloud)
        self._sites[slug] = site
        return site

    def _build(self, site: _Site, group: GroupSnapshot, slug: str) -> NewIssue:
        key = group_key(slug, group.fingerprint)
        built: BuiltFields = build_fields(
            site.template,
            group,
            renderer=self._renderer,
            createmeta=site.createmeta,
            cloud=site.cloud,
            identity=identity_label(key),
        )
        if built.blocked:
            problems = "; ".join(
                f"{p.field}: {p.message} ({p.fix})" for p in built.problems if p.blocking
            )
            raise JiraPermanentError(
                f"the ticket for group {group.id} cannot be created: {problems}",
                fix=f"fix projects.{slug}.jira (run `syncengine doctor --project {slug}`)",
            )
        identity: dict[str, Any] = {"group": key, "project": slug, "group_id": group.id}
        return NewIssue(fields=built.fields, properties={IDENTITY_PROPERTY: identity})

    async def _find_existing(
        self, site: _Site, slug: str, groups: Sequence[GroupSnapshot]
    ) -> dict[int, JiraIssue]:
        """Issues Jira already has for ``groups`` (by identity label), by group id."""
        by_label = {identity_label(group_key(slug, g.fingerprint)): g.id for g in groups}
        query = (
            f"project = {jql.quote(site.template.project_key)} AND labels in {jql.values(by_label)}"
        )
        found: dict[int, JiraIssue] = {}
        async for issue in site.client.search(query, fields=LOOKUP_FIELDS):
            for label in issue.labels:
                group_id = by_label.get(label)
                if group_id is not None and group_id not in found:
                    found[group_id] = issue
        return found

    async def _link(
        self,
        project_id: int,
        group: GroupSnapshot,
        issue_id: str,
        key: str,
        issue: JiraIssue | None = None,
    ) -> LinkRecord:
        return await self._links.link(
            project_id=project_id,
            group_id=group.id,
            issue_id=issue_id,
            issue_key=key,
            snapshot=snapshot_of(group, issue),
            now=self._clock(),
            jira_updated_at=issue.updated if issue is not None else None,
        )

    async def create(self, work: OutboxWork) -> None:
        """Create (or find and link) the issue of one group."""
        outcome = await self.create_many([work])
        error = outcome[work.id]
        if error is not None:
            raise error

    async def create_many(self, works: list[OutboxWork]) -> dict[int, BaseException | None]:
        """Create the issues of several groups, bulk per project; each item's outcome."""
        outcomes: dict[int, BaseException | None] = {}
        by_project: dict[int, list[OutboxWork]] = {}
        for work in works:
            by_project.setdefault(work.project_id, []).append(work)
        for project_id, items in by_project.items():
            try:
                outcomes.update(await self._create_in_project(project_id, items))
            except Exception as exc:  # the project's whole batch shares the failure
                outcomes.update(dict.fromkeys((w.id for w in items), exc))
        return outcomes

    async def _create_in_project(
        self, project_id: int, works: list[OutboxWork]
    ) -> dict[int, BaseException | None]:
        slug = await self._slug(project_id)
        bind(project=slug)
        outcomes: dict[int, BaseException | None] = {}
        pending: list[tuple[OutboxWork, GroupSnapshot]] = []
        for work in works:
            if work.group_id is None:
                outcomes[work.id] = JiraPermanentError(f"outbox item {work.id} names no group")
                continue
            if await self._links.for_group(work.group_id) is not None:
                outcomes[work.id] = None  # already linked: nothing owed
                continue
            try:
                pending.append((work, await self._groups.snapshot(work.group_id, top=10)))
            except NotFound:
                outcomes[work.id] = None  # the group is gone; nothing to create
        if not pending:
            return outcomes
        site = await self._site(slug)
        retried = [group for work, group in pending if work.attempts > 1]
        if retried:
            found = await self._find_existing(site, slug, retried)
            still: list[tuple[OutboxWork, GroupSnapshot]] = []
            for work, group in pending:
                issue = found.get(group.id)
                if issue is None:
                    still.append((work, group))
                    continue
                log.info(
                    "group %s already has %s (an earlier create's answer was lost)",
                    group.id,
                    issue.key,
                )
                await self._link(project_id, group, issue.id, issue.key, issue)
                outcomes[work.id] = None
            pending = still
        built: list[tuple[OutboxWork, GroupSnapshot, NewIssue]] = []
        for work, group in pending:
            try:
                built.append((work, group, self._build(site, group, slug)))
            except JiraPermanentError as exc:
                outcomes[work.id] = exc
        if len(built) == 1:
            work, group, new = built[0]
            created = await site.client.create_issue(new.fields, properties=new.properties)
            await self._link(project_id, group, created.id, created.key)
            outcomes[work.id] = None
        elif built:
            outcomes.update(await self._bulk(site, project_id, built))
        return outcomes

    async def _bulk(
        self,
        site: _Site,
        project_id: int,
        built: list[tuple[OutboxWork, GroupSnapshot, NewIssue]],
    ) -> dict[int, BaseException | None]:
        outcomes: dict[int, BaseException | None] = {}
        result = await site.client.bulk_create([issue for _, _, issue in built])
        failures = {f.index: f for f in result.failed}
        for index, (work, group, _) in enumerate(built):
            created = result.created.get(index)
            if created is not None:
                await self._link(project_id, group, created.id, created.key)
                outcomes[work.id] = None
                continue
            failure = failures.get(index)
            if failure is None:
                outcomes[work.id] = JiraBadRequest(
                    f"Jira's bulk create answer says nothing of group {group.id}", status=400
                )
                continue
            detail = "; ".join(
                [*failure.messages, *(f"{k}: {v}" for k, v in failure.field_errors.items())]
            )
            outcomes[work.id] = JiraBadRequest(
                f"Jira refused the ticket for group {group.id}: {detail or 'no reason given'}",
                status=failure.status,
                fix="fix the fields it names in the project's jira settings "
                "(`syncengine doctor` checks them)",
            )
        return outcomes
