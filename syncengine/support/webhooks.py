"""Jira webhook events → support requests: status and comments as soon as Jira says.

A delivery for an issue a support request is linked to refreshes that request (its
Jira status and comments, read now by id, as the pull-back round would), so the
portal shows a change within the delivery's time rather than at the next round.
Events for other issues get no say here. With the integration Passive nothing is
read; the pull-back round catches up when it is Active again, as it does when Jira
fails now.
"""

from __future__ import annotations

import logging

from syncengine.domain.webhooks import EventKind, Handled, JiraEvent, applied, ignored
from syncengine.errors import JiraError
from syncengine.store.projects import ProjectRepository
from syncengine.store.support import SupportRepository
from syncengine.support.pullback import SupportPuller

__all__ = ["SupportWebhooks"]

log = logging.getLogger(__name__)

_REFRESHED_BY = (EventKind.CREATED, EventKind.UPDATED, EventKind.COMMENT)


class SupportWebhooks:
    """A webhook event handler (``EventHandler``) for the support portal's requests."""

    def __init__(
        self, *, projects: ProjectRepository, requests: SupportRepository, puller: SupportPuller
    ) -> None:
        self._projects = projects
        self._requests = requests
        self._puller = puller

    async def __call__(self, slug: str, event: JiraEvent) -> Handled | None:
        """Refresh the request linked to the event's issue; None when none is linked.

        Never raises for Jira's failures: the next pull-back round covers them.
        """
        project = await self._projects.get(slug)
        if project is None:
            return None
        request = await self._requests.by_issue(event.issue_id, project_id=project.id)
        if request is None:
            return None
        if event.kind not in _REFRESHED_BY:
            return ignored(f"support request {request.id}: {event.webhook_event!r} is not read")
        if not project.integration_active:
            return ignored("the integration is Passive: the pull-back round catches up")
        try:
            await self._puller.refresh(request.id)
        except JiraError as exc:
            log.warning(
                "support request %s: webhook refresh failed, the pull-back round retries: %s",
                request.id,
                exc,
            )
            return ignored(f"support request {request.id}: Jira failed ({exc}); polled later")
        return applied()
