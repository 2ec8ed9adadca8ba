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
within ``lock_wait`` seconds, or Jira fails for a passing reason, the delivery
is queued instead (a ``link.pull`` outbox item, durable, retried with backoff)
and answered: Jira does not redeliver forever, the outbox does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from syncengine.domain.merge import SyncMode
from syncengine.domain.webhooks import EventKind, JiraEvent
from syncengine.errors import JiraError
from syncengine.jira.errors import JiraNotFound
from syncengine.store.link_sync import LinkSyncStore
from syncengine.store.links import IssueLinkRepository
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
    ) -> None:
        self.lock_wait = lock_wait
        self._wake = wake
        self._projects = projects
        self._links = links
        self._store = store
        self._executor = executor
        self._clock = clock

    async def __call__(self, slug: str, event: JiraEvent) -> None:
        """Handle one event for project ``slug``.

        Raises JiraError or StoreError when it cannot be applied now (the receiver
        answers 500 and Jira delivers it again).
        """
        project = await self._projects.get(slug)
        if project is None:
            return
        link = await self._links.for_issue(project.id, event.issue_id)
        if link is None:
            return  # not an issue of ours
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
            return
        if (
            event.kind not in (EventKind.CREATED, EventKind.UPDATED)  # comments and the like
            or not project.integration_active  # Passive: the next poll covers this change
            or self._executor.config(slug).mode is SyncMode.OFF
        ):
            return
        try:
            await self._executor.sync(slug, link, wait=self.lock_wait)
        except JiraNotFound:
            # Deleted meanwhile (its own event unlinks it) or hidden from us: nothing to merge.
            log.warning("issue %s of group %s cannot be read", link.issue_key, link.group_id)
        except (LinkBusy, JiraError) as exc:
            if isinstance(exc, JiraError) and not exc.transient:
                raise
            queued = await self._store.queue_pull(
                project_id=project.id, group_id=link.group_id, now=self._clock()
            )
            log.info(
                "webhook for %s queued (%s)%s",
                link.issue_key,
                exc,
                "" if queued else "; a pull was already waiting",
            )
            self._wake()
