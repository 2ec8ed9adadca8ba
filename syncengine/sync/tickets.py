"""Ticket creation: exactly one Jira issue per group, even when Jira loses answers.

Every issue carries its group's identity (see :mod:`syncengine.sync.ticket_identity`).
Creates of many groups go through bulk create, 50 issues a call.

A create whose outcome is unknown (a lost or late answer, a worker that died or
was paused mid-call) stays unknown until a lookup that can see it settles it: the
item keeps a write-ahead record (:mod:`syncengine.store.create_records`) and waits
out the client's timeout plus the site's search lag before the identity is looked
up and, if absent, created again. A worker paused between that record and the
create's first byte sends nothing once its claim has run out
(:mod:`syncengine.jira.send_by`): the worker that took the item over may have
created the issue by then. An operator's retry keeps the record, so it runs
the same wait and lookup. What still slips through (a search slower than
configured) is found by the duplicate sweep (:mod:`syncengine.sync.duplicates`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from syncengine.domain.createmeta import CreateMeta
from syncengine.domain.description import DescriptionRenderer
from syncengine.domain.fieldcheck import check_config
from syncengine.domain.fields import BuiltFields, TicketTemplate, build_fields, identity_label
from syncengine.domain.groups import GroupSnapshot
from syncengine.domain.impact import group_page
from syncengine.errors import (
    JiraError,
    JiraPermanentError,
    JiraTransientError,
    NotFound,
    StoreError,
)
from syncengine.jira.bodies import NewIssue
from syncengine.jira.client import JiraClient
from syncengine.jira.errors import (
    JiraBadRequest,
    JiraBulkNotSent,
    JiraBulkOutcomeUnknown,
    JiraInvalidIssueType,
    JiraOutcomeUnknown,
)
from syncengine.jira.models import BulkCreateFailure, CreatedIssue, JiraIssue
from syncengine.jira.send_by import send_before
from syncengine.logs import bind
from syncengine.store.create_records import (
    DEFAULT_SETTLE_SECONDS,
    CreateRecords,
    CreateUnsettled,
    may_exist,
    send_by,
)
from syncengine.store.groups import GroupRepository
from syncengine.store.links import IssueLinkRepository, LinkRecord, Snapshot
from syncengine.store.outbox import OutboxRepository, OutboxWork
from syncengine.store.projects import ProjectRepository
from syncengine.store.work_kinds import TICKET_CREATE
from syncengine.sync.created_status import read_statuses
from syncengine.sync.ticket_identity import (
    IDENTITY_PROPERTY,
    LOOKUP_FIELDS,
    Identity,
    find_issues,
)

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
        outbox: OutboxRepository,
        settle_seconds: Mapping[str, float] | None = None,
        public_url: str = "",
    ) -> None:
        """``settle_seconds``: per project, how long after a create's outcome became unknown
        Jira's search can be trusted to show it (default 330 s); ``public_url``: where the
        dashboard is served, for ``$group_url`` (empty expands to empty)."""
        self._public_url = public_url
        self._templates = dict(templates)
        self._records = CreateRecords(outbox, clock)
        self._settle = dict(settle_seconds or {})
        # Issues created whose link could not be written: group id -> issue id. Read back
        # with GET (always current) before anything else, whatever the search shows.
        self._unlinked: dict[int, str] = {}
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

    def _with_url(self, group: GroupSnapshot) -> GroupSnapshot:
        """The group with its dashboard address, which templates read as ``$group_url``."""
        if not self._public_url:
            return group
        return replace(group, url=group_page(self._public_url, group.id))

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
            self._with_url(group),
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

    def _settle_for(self, slug: str) -> timedelta:
        return timedelta(seconds=self._settle.get(slug, DEFAULT_SETTLE_SECONDS))

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
                self._unlinked.pop(work.group_id, None)
                outcomes[work.id] = None  # already linked: nothing owed
                continue
            try:
                pending.append((work, await self._groups.snapshot(work.group_id, top=10)))
            except NotFound:
                outcomes[work.id] = None  # the group is gone; nothing to create
        if not pending:
            return outcomes
        known = {w.id for w, g in pending if g.id in self._unlinked}
        waits = await self._records.waiting(
            [w for w, _ in pending], self._settle_for(slug), known=known
        )
        outcomes.update(waits)
        pending = [(w, g) for w, g in pending if w.id not in waits]
        if not pending:
            return outcomes
        site = await self._site(slug)
        pending = await self._adopt_existing(site, slug, project_id, pending, outcomes)
        built: list[tuple[OutboxWork, GroupSnapshot, NewIssue]] = []
        for work, group in pending:
            try:
                built.append((work, group, self._build(site, group, slug)))
            except JiraPermanentError as exc:
                outcomes[work.id] = exc
        built, deadline = await self._announce(built, outcomes)
        if built:
            with send_before(deadline, self._clock):
                outcomes.update(await self._send(site, slug, project_id, built))
        return outcomes

    async def _adopt_existing(
        self,
        site: _Site,
        slug: str,
        project_id: int,
        pending: list[tuple[OutboxWork, GroupSnapshot]],
        outcomes: dict[int, BaseException | None],
    ) -> list[tuple[OutboxWork, GroupSnapshot]]:
        """Link the groups whose issue exists already; the rest still need a create."""
        suspect = [
            (work, group)
            for work, group in pending
            if may_exist(work) or group.id in self._unlinked
        ]
        if not suspect:
            return pending
        identities = [
            Identity(key=group_key(slug, g.fingerprint), slug=slug, group_id=g.id)
            for _, g in suspect
        ]
        remembered = {g.id: self._unlinked[g.id] for _, g in suspect if g.id in self._unlinked}
        found = await find_issues(
            site.client, site.template.project_key, identities, remembered=remembered
        )
        still: list[tuple[OutboxWork, GroupSnapshot]] = []
        for work, group in pending:
            failure = found.failed.get(group.id)
            if failure is not None:  # this group's lookup failed: it waits; the others go on
                outcomes[work.id] = failure
                continue
            issue = found.issues.get(group.id)
            if issue is None:
                still.append((work, group))
                continue
            log.info(
                "group %s already has %s (an earlier create went through)", group.id, issue.key
            )
            await self._link(project_id, group, issue.id, issue.key, issue)
            outcomes[work.id] = None
        return still

    async def _announce(
        self,
        built: list[tuple[OutboxWork, GroupSnapshot, NewIssue]],
        outcomes: dict[int, BaseException | None],
    ) -> tuple[list[tuple[OutboxWork, GroupSnapshot, NewIssue]], datetime]:
        """Only items whose claim is still live, announced in the store, are sent, and
        only until the first of their claims is due to run out (less a margin for the
        clocks of other hosts): the time returned, for :func:`send_before`."""
        held = await self._records.announce([work for work, _, _ in built])
        for work, _, _ in built:
            if work.id not in held:
                outcomes[work.id] = JiraTransientError(
                    "this worker's claim on the ticket ran out before the create was sent; "
                    "nothing was sent"
                )
        deadline = send_by(min(held.values(), default=self._clock()))
        return [item for item in built if item[0].id in held], deadline

    async def _send(
        self,
        site: _Site,
        slug: str,
        project_id: int,
        built: list[tuple[OutboxWork, GroupSnapshot, NewIssue]],
    ) -> dict[int, BaseException | None]:
        works = [work for work, _, _ in built]
        window = self._settle_for(slug).total_seconds()
        try:
            if len(built) == 1:
                _, _, new = built[0]
                created = await site.client.create_issue(new.fields, properties=new.properties)
                outcomes = await self._record(site, project_id, built, {0: created})
            else:
                outcomes = await self._bulk(site, project_id, built)
        except JiraBulkNotSent as exc:
            done = await self._record(site, project_id, built, dict(exc.partial.created))
            done.update(await self._refusals(built, exc.partial.failed))
            unsent = [built[i][0] for i in exc.unsent if i < len(built)]
            await self._records.answered(unsent, unknown=False)
            done.update(dict.fromkeys((w.id for w in unsent), exc))
            return done
        except JiraBulkOutcomeUnknown as exc:
            done = await self._record(site, project_id, built, dict(exc.partial.created))
            done.update(await self._refusals(built, exc.partial.failed))
            lost = [built[i][0] for i in exc.unknown if i < len(built)]
            await self._records.answered(lost, unknown=True)
            unsettled = CreateUnsettled(str(exc), fix=exc.fix, retry_after=window)
            done.update(dict.fromkeys((w.id for w in lost), unsettled))
            return done
        except JiraOutcomeUnknown as exc:
            await self._records.answered(works, unknown=True)
            raise CreateUnsettled(str(exc), fix=exc.fix, retry_after=window) from exc
        except JiraError:
            # Jira answered: whatever it said, it did not create the issue.
            await self._records.answered(works, unknown=False)
            raise
        return outcomes

    async def _record(
        self,
        site: _Site,
        project_id: int,
        built: list[tuple[OutboxWork, GroupSnapshot, NewIssue]],
        created: Mapping[int, CreatedIssue],
    ) -> dict[int, BaseException | None]:
        """Link each created issue (a link that cannot be written is remembered here),
        then record the status Jira created the linked issues in."""
        outcomes: dict[int, BaseException | None] = {}
        linked: dict[str, int] = {}  # issue id -> link id
        for index, issue in created.items():
            work, group, _ = built[index]
            try:
                link = await self._link(project_id, group, issue.id, issue.key)
            except StoreError as exc:
                self._unlinked[group.id] = issue.id  # next attempt reads it back by id
                outcomes[work.id] = exc
                continue
            self._unlinked.pop(group.id, None)
            log.info("group %s: ticket %s created", group.id, issue.key)
            outcomes[work.id] = None
            if link.issue_id == issue.id:
                linked[issue.id] = link.id
        if linked:
            statuses = await read_statuses(site.client, list(linked))
            try:
                await self._links.note_statuses(
                    {linked[i]: name for i, name in statuses.items() if i in linked}
                )
            except StoreError as exc:  # the next sync records it; the tickets are linked
                log.warning("the status of new tickets was not recorded: %s", exc)
        return outcomes

    async def _bulk(
        self,
        site: _Site,
        project_id: int,
        built: list[tuple[OutboxWork, GroupSnapshot, NewIssue]],
    ) -> dict[int, BaseException | None]:
        result = await site.client.bulk_create([issue for _, _, issue in built])
        outcomes = await self._record(site, project_id, built, result.created)
        outcomes.update(await self._refusals(built, result.failed))
        for work, group, _ in built:
            if work.id not in outcomes:
                outcomes[work.id] = JiraBadRequest(
                    f"Jira's bulk create answer says nothing of group {group.id}", status=400
                )
        return outcomes

    async def _refusals(
        self,
        built: list[tuple[OutboxWork, GroupSnapshot, NewIssue]],
        failed: Sequence[BulkCreateFailure],
    ) -> dict[int, BaseException | None]:
        """The items of a bulk create Jira refused: nothing was created for them."""
        outcomes: dict[int, BaseException | None] = {}
        for failure in failed:
            if not 0 <= failure.index < len(built):
                continue
            work, group, _ = built[failure.index]
            detail = "; ".join(
                [*failure.messages, *(f"{k}: {v}" for k, v in failure.field_errors.items())]
            )
            outcomes[work.id] = JiraBadRequest(
                f"Jira refused the ticket for group {group.id}: {detail or 'no reason given'}",
                status=failure.status,
                fix="fix the fields it names in the project's jira settings "
                "(`syncengine doctor` checks them)",
            )
        await self._records.answered(
            [built[f.index][0] for f in failed if 0 <= f.index < len(built)], unknown=False
        )
        return outcomes
