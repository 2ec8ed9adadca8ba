"""Pull-back: each linked request's Jira status and comments, refreshed into the store.

The portal only views; Jira manages. Nothing is asked of Jira for a Passive
project. A transient Jira error ends the round for that project (Jira is
struggling; the next round tries again); a permanent one is written on the
request for admins and the round goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from syncengine.errors import JiraError, NotFound
from syncengine.store.projects import ProjectRepository
from syncengine.store.support import JiraCommentData, SupportRepository, SupportRequestRecord
from syncengine.support.targets import TargetLookup

__all__ = ["SupportPuller"]

log = logging.getLogger(__name__)


class SupportPuller:
    """Refreshes support requests from Jira, by project or one at a time."""

    def __init__(
        self,
        *,
        requests: SupportRepository,
        projects: ProjectRepository,
        targets: TargetLookup,
        slugs: Callable[[], list[str]],
        clock: Callable[[], datetime],
    ) -> None:
        self.requests = requests
        self.projects = projects
        self.targets = targets
        self.slugs = slugs
        self.clock = clock

    async def poll(self) -> int:
        """One round over every support project; returns how many requests changed."""
        changed = 0
        for slug in self.slugs():
            try:
                changed += await self.poll_project(slug)
            except JiraError as exc:
                log.warning("support pull-back of %s stopped: %s", slug, exc.user_message())
        return changed

    async def poll_project(self, slug: str) -> int:
        """Refresh the project's linked requests; raises JiraError when Jira is unreachable."""
        project = await self.projects.get(slug)
        if project is None or not project.integration_active:
            return 0
        self.targets(slug)  # raises at once when the project has no Jira client
        changed = 0
        for request in await self.requests.linked(project.id):
            try:
                changed += await self._refresh(request, slug)
            except JiraError as exc:
                if exc.transient:
                    raise
                await self.requests.set_error(request.id, exc.user_message(), now=self.clock())
        return changed

    async def refresh(self, request_id: int) -> bool:
        """Refresh one request now (a webhook said its issue changed); raises JiraError."""
        request = await self.requests.get(request_id)
        if request is None:
            raise NotFound(f"support request {request_id} does not exist")
        for project in await self.projects.all():
            if project.id == request.project_id:
                if not project.integration_active:
                    return False
                return bool(await self._refresh(request, project.slug))
        return False

    async def _refresh(self, request: SupportRequestRecord, slug: str) -> int:
        if not request.jira_issue_id:
            return 0
        jira = self.targets(slug).jira
        ref, status = await jira.issue_status(request.jira_issue_id)
        comments = await jira.comments(request.jira_issue_id)
        changed = await self.requests.apply_pull(
            request.id,
            status=status,
            issue_key=ref.key,
            comments=[
                JiraCommentData(
                    id=c.id,
                    author=c.author,
                    body=c.body,
                    created_at=c.created_at,
                    updated_at=c.updated_at,
                )
                for c in comments
            ],
            now=self.clock(),
        )
        if request.last_error and request.jira_issue_key:
            await self.requests.set_error(request.id, None, now=self.clock())
        return int(changed)

    async def run(self, interval: Callable[[], float], stop: asyncio.Event) -> None:
        """Poll every ``interval()`` seconds until ``stop`` is set; never raises."""
        while not stop.is_set():
            try:
                await self.poll()
            except Exception:
                # The loop must outlive a bug in one round; the next round tries again.
                log.exception("support pull-back round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval())
