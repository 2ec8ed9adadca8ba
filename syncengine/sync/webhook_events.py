"""Jira webhook events → link syncs (run by :mod:`syncengine.sync.webhook_inbox`).

The receiver (:mod:`syncengine.web.webhook_receiver`) has verified and de-duplicated the
delivery. Here an event for a linked issue is merged like a poll result, but
with Jira's CURRENT issue, read by id: Jira redelivers for half an hour and
out of order, so a payload may describe an older state than the issue's (and
an "assigned" event may come with an empty changelog). Reading by id also
follows an issue moved to another project: its new key is stored. A deleted
issue unlinks its group (the group stays) and is audited. With the integration
Passive nothing is read from Jira; the poll catches up when it is Active again.

The issue is read under the link's lock (a push or poll of the same link runs
first, so the read is never older than their writes). When the lock is not had
within ``lock_wait`` seconds, the merge is not done within ``answer_within``
seconds (a slow Jira), or Jira fails for a passing reason, the delivery is queued
instead (a ``link.pull`` outbox item, durable, retried with backoff) and answered:
Jira does not redeliver forever, the outbox does. A webhook merge never writes to
Jira, so one cut off is only done again by the queued pull.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from syncengine.domain.merge import SyncMode
from syncengine.domain.webhooks import EventKind, Handled, JiraEvent, applied, ignored, queued
from syncengine.errors import JiraError
from syncengine.jira.errors import JiraNotFound
from syncengine.store.link_sync import LinkSyncStore
from syncengine.store.links import IssueLinkRepository, LinkRecord
from syncengine.store.locks import LinkBusy
from syncengine.store.projects import ProjectRepository
from syncengine.sync.executor import LinkSync

__all__ = ["WebhookEvents"]

log = logging.getLogger(__name__)


class WebhookEvents:
    """Handles verified Jira events for linked issues."""

    def __init__(
        self,
        *,
        projects: ProjectRepository,
        links: IssueLinkRepository,
        store: LinkSyncStore,
        executor: LinkSync,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
        lock_wait: float = 2.0,
        answer_within: float = 5.0,
        impact_only: Callable[[str, set[str]], bool] = lambda _slug, _fields: False,
    ) -> None:
        """``impact_only(slug, fields)`` says a change touched only impact fields;
        ``answer_within``: seconds a merge may hold the delivery's answer (Jira retries a
        delivery answered slowly) before it is queued instead."""
        self.lock_wait = lock_wait
        self.answer_within = answer_within
        self._impact_only = impact_only
        self._wake = wake
        self._projects = projects
        self._links = links
        self._store = store
        self._executor = executor
        self._clock = clock

    async def __call__(self, slug: str, event: JiraEvent) -> Handled:
        """Handle one event for project ``slug``; say whether it was applied or why not.

        Raises JiraError or StoreError when it cannot be applied now (the receiver
        answers 500 and Jira delivers it again).
        """
        project = await self._projects.get(slug)
        if project is None:
            return ignored(f"there is no project {slug!r}")
        link = await self._links.for_issue(project.id, event.issue_id)
        if link is None:
            return ignored(f"not linked: issue {event.issue_id} is not linked to an error group")
        if event.kind is EventKind.DELETED:
            await self._store.unlink(
                link.id,
                group_id=link.group_id,
                project_id=project.id,
                detail={"issue_id": link.issue_id, "issue": link.issue_key, "via": "webhook"},
                now=self._clock(),
            )
            log.info(
                "issue %s was deleted in Jira; group %s unlinked", link.issue_key, link.group_id
            )
            return applied()
        skip = self._skip(slug, event, active=project.integration_active)
        if skip is not None:
            return ignored(skip)
        if event.kind is EventKind.UPDATED and self._impact_only(
            slug, {change.field for change in event.changes}
        ):
            return ignored("impact fields only: nothing the two-way sync merges changed")
        return await self._merge(slug, project.id, link)

    async def _merge(self, slug: str, project_id: int, link: LinkRecord) -> Handled:
        """Merge the issue now, or queue a ``link.pull`` when that cannot be done now."""
        try:
            async with asyncio.timeout(self.answer_within):
                await self._executor.sync(slug, link, wait=self.lock_wait)
        except TimeoutError:
            return await self._queue(project_id, link, f"not merged within {self.answer_within:g}s")
        except JiraNotFound:
            # Deleted meanwhile (its own event unlinks it) or hidden from us: nothing to merge.
            log.warning("issue %s of group %s cannot be read", link.issue_key, link.group_id)
            return ignored(f"issue {link.issue_key} cannot be read (deleted or hidden)")
        except (LinkBusy, JiraError) as exc:
            if isinstance(exc, JiraError) and not exc.transient:
                raise
            return await self._queue(project_id, link, str(exc))
        return applied()

    async def _queue(self, project_id: int, link: LinkRecord, why: str) -> Handled:
        waiting = not await self._store.queue_pull(
            project_id=project_id, group_id=link.group_id, now=self._clock()
        )
        log.info(
            "webhook for %s queued (%s)%s",
            link.issue_key,
            why,
            "; a pull was already waiting" if waiting else "",
        )
        self._wake()
        return queued(f"issue {link.issue_key} is merged by the outbox (link.pull): {why}")

    def _skip(self, slug: str, event: JiraEvent, *, active: bool) -> str | None:
        """Why a created/updated-style event for a linked issue is not merged, or None."""
        if event.kind is EventKind.COMMENT:
            return "comment only: comments on linked issues are not synced"
        if event.kind not in (EventKind.CREATED, EventKind.UPDATED):
            return f"unknown event {event.webhook_event!r}"
        if not active:
            return "the integration is Passive: the next poll catches up"
        if self._executor.config(slug).mode is SyncMode.OFF:
            return "sync is off for this project"
        return None
