"""The duplicate sweep: a second issue for one group that still slipped through is closed.

The create path waits out the consistency window before it trusts a miss (see
:mod:`syncengine.sync.tickets`), so a duplicate needs a Jira slower than configured
(a search lagging past ``search_lag_seconds``, a create finished long after the
client gave up). This periodic job reads the issues created in each Active
project's Jira project over the last ``horizon`` — by then search shows them — and
for every group with more than one issue (identity label and property, both)
keeps the linked one and, for each other: links it to the kept one as a
*Duplicate*, moves it to a done status (resolution Duplicate where the
transition asks for one), comments why, takes the identity label off (so no
lookup adopts it again) and writes ``ticket.duplicate_closed`` to the audit log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from syncengine.domain.fields import identity_label
from syncengine.errors import JiraError
from syncengine.jira import jql
from syncengine.jira.client import JiraClient
from syncengine.jira.models import JiraIssue
from syncengine.store.audit import AuditRepository
from syncengine.store.links import IssueLinkRepository
from syncengine.store.projects import ProjectRepository
from syncengine.sync.ticket_identity import IDENTITY_PROPERTY, LOOKUP_FIELDS, identity_of

__all__ = ["ACTOR", "DuplicateSweep"]

log = logging.getLogger(__name__)

ACTOR = "syncengine"


def _identity_labels(issue: JiraIssue) -> set[str]:
    found = identity_of(issue) or {}
    return {identity_label(str(found.get("group")))} if found.get("group") else set()


class DuplicateSweep:
    """Finds and closes duplicate issues of one group (see the module docstring)."""

    def __init__(
        self,
        *,
        projects: ProjectRepository,
        links: IssueLinkRepository,
        audit: AuditRepository,
        clients: Callable[[str], JiraClient],
        project_keys: Mapping[str, str],
        clock: Callable[[], datetime],
        horizon: timedelta = timedelta(hours=48),
    ) -> None:
        self._projects = projects
        self._links = links
        self._audit = audit
        self._clients = clients
        self._keys = dict(project_keys)
        self._clock = clock
        self._horizon = horizon

    async def sweep(self) -> int:
        """Sweep every Active project; how many duplicates were closed.

        A project whose Jira fails is logged and left for the next run; the others go on.
        """
        closed = 0
        for project in await self._projects.all():
            if not project.integration_active or project.slug not in self._keys:
                continue
            try:
                closed += await self.sweep_project(project.slug, project.id)
            except JiraError as exc:
                log.warning("duplicate sweep of %s failed: %s", project.slug, exc.user_message())
        return closed

    async def sweep_project(self, slug: str, project_id: int) -> int:
        """Close the duplicates among project ``slug``'s recent issues; how many."""
        client = self._clients(slug)
        since = (self._clock() - self._horizon).strftime("%Y-%m-%d %H:%M")
        query = (
            f"project = {jql.quote(self._keys[slug])} AND created >= {jql.quote(since)} "
            "ORDER BY created ASC"
        )
        by_group: dict[int, list[JiraIssue]] = {}
        async for issue in client.search(
            query, fields=LOOKUP_FIELDS, properties=(IDENTITY_PROPERTY,)
        ):
            found = identity_of(issue)
            if found is None or found.get("project") != slug:
                continue
            key, group_id = found.get("group"), found.get("group_id")
            if not isinstance(key, str) or not isinstance(group_id, int):
                continue
            if identity_label(key) in issue.labels:  # detached issues lost the label
                by_group.setdefault(group_id, []).append(issue)
        closed = 0
        for group_id, issues in by_group.items():
            if len(issues) < 2:
                continue
            link = await self._links.for_group(group_id)
            if link is None:
                continue  # its create is still settling: the lookup links one, then we sweep
            for duplicate in issues:
                if duplicate.id == link.issue_id:
                    continue
                try:
                    # The search's copy can be minutes old: a duplicate closed by the last
                    # sweep may still carry its label there. Jira's own copy decides.
                    current = await client.get_issue(
                        duplicate.id, fields=LOOKUP_FIELDS, properties=(IDENTITY_PROPERTY,)
                    )
                    if not set(current.labels) & set(duplicate.labels) & _identity_labels(current):
                        continue
                    await self._close(client, current, link.issue_key, project_id, group_id)
                except JiraError as exc:  # one stuck duplicate never stops the others
                    log.warning("could not close duplicate %s: %s", duplicate.key, exc)
                    continue
                closed += 1
        return closed

    async def _close(
        self, client: JiraClient, duplicate: JiraIssue, keep: str, project_id: int, group_id: int
    ) -> None:
        # Each step is safe to repeat (the comment is looked for first): a sweep cut short
        # is finished by the next one.
        await client.link_issues("Duplicate", outward=duplicate.key, inward=keep)
        done = duplicate.status is not None and duplicate.status.category_key == "done"
        if not done:
            await self._to_done(client, duplicate.key)
        marker = f"Duplicate of {keep}: syncengine made a second issue"
        if not any(marker in c.text for c in await client.comments(duplicate.key)):
            await client.add_comment(
                duplicate.key,
                f"{marker} for one error group (Jira had not yet shown the first when the "
                f"create was retried). Follow {keep}.",
            )
        found = identity_of(duplicate) or {}
        label = identity_label(str(found.get("group")))
        await client.edit_issue(duplicate.key, update={"labels": [{"remove": label}]}, notify=False)
        await self._audit.record(
            actor=ACTOR,
            action="ticket.duplicate_closed",
            detail={"issue": duplicate.key, "duplicate_of": keep},
            now=self._clock(),
            project_id=project_id,
            group_id=group_id,
        )
        log.info("closed %s as a duplicate of %s", duplicate.key, keep)

    async def _to_done(self, client: JiraClient, issue: str) -> None:
        choices = [
            t
            for t in await client.transitions(issue)
            if t.available and t.to_status is not None and t.to_status.category_key == "done"
        ]
        if not choices:
            return  # the workflow offers no way to done from here: linked and commented only
        # Prefer a transition that takes a resolution, then one to a status called Done.
        choices.sort(
            key=lambda t: (
                "resolution" not in t.fields,
                t.to_status is None or t.to_status.name != "Done",
            )
        )
        chosen = choices[0]
        fields = {"resolution": {"name": "Duplicate"}} if "resolution" in chosen.fields else None
        await client.transition_issue(issue, chosen.id, fields=fields)
