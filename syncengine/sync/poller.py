"""The JQL poll: linked issues changed since the project's watermark, page by page.

Per project and run: ONE search (``updated >= -Nm``, a relative period, so the
Jira user's time zone and the clocks' skew do not matter; ``N`` covers the time
since the watermark plus an overlap), with only the fields a sync reads, paged
(100 issues a call on Cloud). Unchanged issues are not returned, so a run costs
one call when nothing changed and one per 100 changed issues otherwise. An issue
seen before at the same ``updated`` time (the overlap) is skipped.

When is a run due: always at the poll interval when the project has no webhook
secret; with one, when webhooks have been silent longer than
``webhook_silence_seconds`` — and at least once per that period anyway, so a
lost delivery is caught within it. Passive projects are not polled (their
watermark stays, so the first run after activation catches up).

An issue moved to another Jira project while no webhook told of it keeps its old key
in the link, so the project's search no longer finds it: the same search also asks,
by id, whether any of the next ``MOVED_CHUNK`` linked issues (round robin over the
links) now lives outside the project; one found is synced, and followed by id after.

A run that got Jira's answer then repairs the project's link syncs
(:class:`~syncengine.store.link_repair.LinkRepair`): the ones waiting on a backoff are
due at once, and a link whose last push ran out of attempts is pushed again, so every
link converges within one poll cycle once Jira's faults stop.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from syncengine.errors import JiraError
from syncengine.jira import jql
from syncengine.jira.errors import JiraBadRequest
from syncengine.logs import bound
from syncengine.store.cursors import CursorRecord, CursorRepository
from syncengine.store.link_repair import LinkRepair
from syncengine.store.link_sync import LinkSyncStore, PollScope
from syncengine.store.links import IssueLinkRepository
from syncengine.store.projects import ProjectRepository
from syncengine.sync.executor import LinkSync
from syncengine.sync.link_values import ISSUE_FIELDS

__all__ = ["OVERLAP", "PollResult", "PollWatch", "Poller", "poll_jql"]

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=2)
PAGE_SIZE = 100
MOVED_CHUNK = 100


@dataclass(frozen=True, kw_only=True, slots=True)
class PollWatch:
    """What decides whether a project's poll is due: webhooks, and the silence that counts."""

    webhook_secret_set: bool
    webhook_silence_seconds: int


@dataclass(frozen=True, kw_only=True, slots=True)
class PollResult:
    """What one run did: ``skipped`` says why it did not search."""

    pages: int = 0
    seen: int = 0
    synced: int = 0
    skipped: str | None = None
    woken: int = 0
    """Link syncs waiting on a backoff that this run made due (Jira answers again)."""
    requeued: int = 0
    """Links whose last push ran out of attempts, pushed again (see ``store.link_repair``)."""


def poll_jql(
    project_key: str,
    *,
    minutes: int,
    moved_ids: tuple[str, ...] = (),
    unseen_ids: tuple[str, ...] = (),
) -> str:
    """The search of one run: the project's issues (and ours moved elsewhere) changed lately,
    and any of ``unseen_ids`` (linked issues) that now live in another project."""
    scope = f"project = {jql.quote(project_key)}"
    if moved_ids:
        scope = f"({scope} OR id in {jql.ids(moved_ids)})"
    changed = f'{scope} AND updated >= "-{minutes}m"'
    if unseen_ids:
        elsewhere = f"id in {jql.ids(unseen_ids)} AND project != {jql.quote(project_key)}"
        changed = f"({changed}) OR ({elsewhere})"
    return f"{changed} ORDER BY updated ASC"


class Poller:
    """Runs the JQL poll of each project (one :class:`PeriodicJob` per project)."""

    def __init__(
        self,
        *,
        watches: Mapping[str, PollWatch],
        projects: ProjectRepository,
        links: IssueLinkRepository,
        cursors: CursorRepository,
        store: LinkSyncStore,
        repair: LinkRepair,
        executor: LinkSync,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._watches = dict(watches)
        self._projects = projects
        self._links = links
        self._cursors = cursors
        self._store = store
        self._repair = repair
        self._wake = wake
        self._executor = executor
        self._clock = clock
        self._moved_after: dict[int, int] = {}  # per project: the last link id looked at

    def due(self, slug: str, cursor: CursorRecord, now: datetime) -> str | None:
        """None when a run of ``slug`` is due now, else why not."""
        watch = self._watches[slug]
        if not watch.webhook_secret_set or cursor.last_webhook_at is None:
            return None
        silence = timedelta(seconds=watch.webhook_silence_seconds)
        if now - cursor.last_webhook_at > silence:
            return None
        if cursor.last_poll_at is None or now - cursor.last_poll_at > silence:
            return None  # the safety net: one run per silence period
        return "webhooks are live"

    async def run(self, slug: str, *, force: bool = False) -> PollResult:
        """One poll of project ``slug`` (``force``: even when webhooks are live).

        Raises what :meth:`_run` raises; its logs carry the project.
        """
        with bound(project=slug):
            return await self._run(slug, force=force)

    async def _run(self, slug: str, *, force: bool) -> PollResult:
        """The poll :meth:`run` describes.

        Raises JiraError (also kept as the cursor's ``last_error``) or StoreError.
        """
        record = await self._projects.get(slug)
        if record is None:
            return PollResult(skipped="the project is not in the store yet")
        if not record.integration_active:
            return PollResult(skipped="the integration is passive")
        cfg = self._executor.config(slug)
        now = self._clock()
        cursor = await self._cursors.get(record.id)
        why = None if force else self.due(slug, cursor, now)
        if why is not None:
            return PollResult(skipped=why)
        scope = await self._store.poll_scope(record.id, cfg.project_key)
        if scope.links == 0:
            await self._cursors.update(record.id, watermark=now, last_poll_at=now)
            return PollResult(skipped="no linked issues")
        scope = replace(scope, unseen_ids=await self._next_unseen(record.id))
        try:
            try:
                result = await self._search(
                    slug,
                    project_id=record.id,
                    project_key=cfg.project_key,
                    cursor=cursor,
                    scope=scope,
                    now=now,
                )
            except JiraBadRequest:
                if not (scope.moved_ids or scope.unseen_ids):
                    raise
                # Jira refuses "id in (...)" naming an issue deleted since: search without them.
                log.warning("poll of %s: searching without the moved issues", slug)
                result = await self._search(
                    slug,
                    project_id=record.id,
                    project_key=cfg.project_key,
                    cursor=cursor,
                    scope=replace(scope, moved_ids=(), unseen_ids=()),
                    now=now,
                )
        except JiraError as exc:
            await self._cursors.update(record.id, last_error=exc.user_message()[:2000])
            raise
        await self._cursors.update(record.id, watermark=now, last_poll_at=now, last_error=None)
        # Jira answered: link syncs waiting on a backoff are due now, exhausted pushes retried.
        repaired = await self._repair.after_poll(record.id, now=self._clock())
        if repaired.woken or repaired.requeued:
            log.info(
                "poll of %s: %d backed-off link syncs due now, %d exhausted pushes queued again",
                slug,
                repaired.woken,
                repaired.requeued,
            )
            self._wake()
        return replace(result, woken=repaired.woken, requeued=repaired.requeued)

    async def _next_unseen(self, project_id: int) -> tuple[str, ...]:
        """The next ``MOVED_CHUNK`` linked issues, round robin over the project's links."""
        chunk = await self._store.linked_issues_after(
            project_id, after=self._moved_after.get(project_id, 0), limit=MOVED_CHUNK
        )
        # The next run takes the next chunk; after the last, the first again.
        self._moved_after[project_id] = chunk[-1][0] if len(chunk) == MOVED_CHUNK else 0
        return tuple(issue_id for _, issue_id in chunk)

    async def _search(
        self,
        slug: str,
        *,
        project_id: int,
        project_key: str,
        cursor: CursorRecord,
        scope: PollScope,
        now: datetime,
    ) -> PollResult:
        since = cursor.watermark or scope.oldest or now
        minutes = max(1, math.ceil((now - since + OVERLAP).total_seconds() / 60))
        query = poll_jql(
            project_key, minutes=minutes, moved_ids=scope.moved_ids, unseen_ids=scope.unseen_ids
        )
        client = self._executor.client(slug)
        pages = seen = synced = 0
        token: str | None = None
        while True:
            page = await client.search_page(
                query, fields=ISSUE_FIELDS, cursor=token, page_size=PAGE_SIZE
            )
            pages += 1
            links = await self._links.for_issues(project_id, [i.id for i in page.issues])
            for issue in page.issues:
                link = links.get(issue.id)
                if link is None:
                    continue
                seen += 1
                known = link.jira_updated_at
                if known is not None and issue.updated is not None and issue.updated <= known:
                    continue  # seen at this version already (the overlap)
                # Re-checked under the link's lock: a webhook or a push may have merged
                # a newer version since this page was read.
                if await self._executor.sync(slug, link, issue) is not None:
                    synced += 1
            token = page.next_cursor
            if token is None or not page.issues:
                return PollResult(pages=pages, seen=seen, synced=synced)
