"""Pull-back: linked requests' Jira status and comments, refreshed into the store.

The portal only views; Jira manages. Nothing is asked of Jira for a Passive
project. Each round asks Jira one search (in chunks of :data:`CHUNK` identity
labels) for the issues updated since the last round (all of them on the first
round after start), then reads the comments of those only. A transient Jira
error ends the round for that project (the next round covers the same window);
a permanent one on one issue is written on its request for admins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import weakref
from collections.abc import Callable
from datetime import datetime

from syncengine.errors import JiraError, NotFound, StoreConflict
from syncengine.store.projects import ProjectRepository
from syncengine.store.support import JiraCommentData, SupportRepository, SupportRequestRecord
from syncengine.support.jira_port import IssueRef, SupportJira
from syncengine.support.targets import TargetLookup

__all__ = ["CHUNK", "SupportPuller"]

log = logging.getLogger(__name__)

CHUNK = 50  # identity labels per search: keeps the JQL well under Jira's length limits
# JQL's "updated" has minute precision and clocks drift: look back this much further.
_MARGIN_MINUTES = 2


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
        self._last_round: dict[str, datetime] = {}
        # Held only while a refresh runs or waits (weak values: no lock per request kept).
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()

    async def poll(self) -> int:
        """One round over every support project; returns how many requests changed."""
        changed = 0
        for slug in self.slugs():
            try:
                changed += await self.poll_project(slug)
            except JiraError as exc:
                log.warning("support pull-back of %s stopped: %s", slug, exc.user_message())
        return changed

    def _window(self, slug: str, now: datetime) -> int | None:
        last = self._last_round.get(slug)
        if last is None:
            return None
        return math.ceil(max((now - last).total_seconds(), 0) / 60) + _MARGIN_MINUTES

    async def poll_project(self, slug: str) -> int:
        """Refresh the project's requests changed in Jira; raises JiraError when Jira fails."""
        project = await self.projects.get(slug)
        if project is None or not project.integration_active:
            self._last_round.pop(slug, None)  # after Passive, start again from a full round
            return 0
        jira = self.targets(slug).jira
        started = self.clock()
        window = self._window(slug, started)
        linked = {r.identity_label: r for r in await self.requests.linked(project.id)}
        labels = sorted(linked)
        changed = 0
        for start in range(0, len(labels), CHUNK):
            found = await jira.changed(labels[start : start + CHUNK], within_minutes=window)
            for ref, status, issue_labels in found:
                request = next((linked[x] for x in issue_labels if x in linked), None)
                if request is None:
                    continue
                try:
                    changed += await self._apply(jira, request, ref, status)
                except JiraError as exc:
                    if exc.transient:
                        raise
                    await self.requests.set_error(request.id, exc.user_message(), now=self.clock())
        self._last_round[slug] = started
        return changed

    async def refresh(self, request_id: int) -> bool:
        """Refresh one request now (a webhook said its issue changed); raises JiraError."""
        request = await self.requests.get(request_id)
        if request is None:
            raise NotFound(f"support request {request_id} does not exist")
        if not request.jira_issue_id:
            return False
        for project in await self.projects.all():
            if project.id == request.project_id:
                if not project.integration_active:
                    return False
                jira = self.targets(project.slug).jira
                ref, status = await jira.issue_status(request.jira_issue_id)
                return bool(await self._apply(jira, request, ref, status))
        return False

    async def refresh_issue(self, issue_id: str) -> bool:
        """Refresh the request of Jira issue ``issue_id``, if one is linked to it.

        For the webhook receiver: a ``jira:issue_updated`` or ``comment_*`` event
        names the issue; False when no support request is linked to it or nothing
        changed. Raises JiraError.
        """
        request = await self.requests.by_issue(issue_id)
        return False if request is None else await self.refresh(request.id)

    async def _apply(
        self, jira: SupportJira, request: SupportRequestRecord, ref: IssueRef, status: str
    ) -> int:
        # One refresh of a request at a time in this process: a webhook's comment and update
        # events (and a poll round) for the same issue come together.
        lock = self._locks.get(request.id)
        if lock is None:
            lock = self._locks[request.id] = asyncio.Lock()
        async with lock:
            comments = [
                JiraCommentData(
                    id=c.id,
                    author=c.author,
                    body=c.body,
                    created_at=c.created_at,
                    updated_at=c.updated_at,
                )
                for c in await jira.comments(ref.id)
            ]
            for attempt in (1, 2):
                try:
                    changed = await self.requests.apply_pull(
                        request.id,
                        status=status,
                        issue_key=ref.key,
                        comments=comments,
                        now=self.clock(),
                    )
                except StoreConflict:
                    # Another process stored the same new comment a moment ago: merge again.
                    if attempt == 2:
                        raise
                    continue
                return int(changed)
        return 0  # not reached: the loop returns or raises

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
