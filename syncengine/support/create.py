"""The ``support.create`` outbox handler: one Jira issue per request, exactly once.

Steps, each recorded before the next, so a retry resumes where the last try
stopped: find or create the issue, store its id and key, upload the attachments
Jira does not have yet, read its status. A create keeps the same write-ahead
record as ticket creates (:mod:`syncengine.store.create_records`): one whose
outcome became unknown (a lost answer, a worker that died or was paused mid-call)
waits out the client's timeout plus the site's search lag before the identity
label ``syncengine-sr-<id>`` is searched for, and a create goes out before the
worker's claim on the item runs out or not at all. A Jira error is written on
the request (admins see it) and re-raised for the outbox to retry or park.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from syncengine.errors import JiraError, JiraTransientError
from syncengine.jira.errors import JiraOutcomeUnknown
from syncengine.jira.send_by import send_before
from syncengine.logs import bind
from syncengine.store.create_records import (
    DEFAULT_SETTLE_SECONDS,
    CreateRecords,
    CreateUnsettled,
    may_exist,
    send_by,
    tried_before,
)
from syncengine.store.outbox import OutboxRepository, OutboxWork
from syncengine.store.projects import ProjectRepository
from syncengine.store.support import SupportRepository, SupportRequestRecord
from syncengine.support.fields import build_fields
from syncengine.support.jira_port import IssueRef
from syncengine.support.targets import SupportTarget, TargetLookup

__all__ = ["IDENTITY_PROPERTY", "SupportCreateHandler"]

# The issue property that, with the identity label, names the request an issue was made for.
IDENTITY_PROPERTY = "syncengine.support"

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, eq=False)  # a service: equal only to itself
class SupportCreateHandler:
    """Runs ``support.create`` items (an outbox worker handler)."""

    requests: SupportRepository
    projects: ProjectRepository
    targets: TargetLookup
    clock: Callable[[], datetime]
    outbox: OutboxRepository
    # Per project: how long after a create's outcome became unknown Jira's search can
    # show the issue (the client's timeout plus the site's search lag).
    settle_seconds: Mapping[str, float] = field(default_factory=dict)
    # One lock per project: its requests are created one at a time.
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict, init=False, repr=False)

    async def __call__(self, work: OutboxWork) -> None:
        """Create (or find) the issue of the item's request; raises JiraError to retry.

        Requests of one project are created one at a time, in the order the worker
        hands them over (oldest first), so Jira numbers them in filing order, also
        when a Passive project turns Active with many waiting.
        """
        # Taken before the first await: tasks reach it in the order they were started.
        async with self._locks.setdefault(work.project_id, asyncio.Lock()):
            await self._handle(work)

    async def _handle(self, work: OutboxWork) -> None:
        request = await self.requests.get(int(work.payload["support_request_id"]))
        if request is None:
            log.warning("support request of outbox item %s no longer exists", work.id)
            return
        try:
            slug = await self._slug(work.project_id)
            bind(project=slug)
            target = self.targets(slug)
            issue = await self._ensure_issue(work, request, target, slug)
            await self._upload(request, issue, target, unknown=tried_before(work))
            ref, status = await target.jira.issue_status(issue.id)
        except JiraError as exc:
            await self.requests.set_error(request.id, exc.user_message(), now=self.clock())
            raise
        await self.requests.apply_pull(
            request.id, status=status, issue_key=ref.key, comments=None, now=self.clock()
        )
        log.info("support request %s is Jira issue %s", request.id, ref.key)

    async def _slug(self, project_id: int) -> str:
        for project in await self.projects.all():
            if project.id == project_id:
                return project.slug
        raise JiraError(f"project {project_id} no longer exists")

    async def _ensure_issue(
        self, work: OutboxWork, request: SupportRequestRecord, target: SupportTarget, slug: str
    ) -> IssueRef:
        if request.jira_issue_id and request.jira_issue_key:
            return IssueRef(id=request.jira_issue_id, key=request.jira_issue_key)
        records = CreateRecords(self.outbox, self.clock)
        window = timedelta(seconds=self.settle_seconds.get(slug, DEFAULT_SETTLE_SECONDS))
        waits = await records.waiting([work], window)
        if work.id in waits:
            raise waits[work.id]
        if may_exist(work):
            # An earlier attempt may have created the issue and died before storing it.
            found = await target.jira.find_by_label(
                target.fields.project_key, request.identity_label
            )
            if found:
                issue = min(found, key=lambda ref: int(ref.id) if ref.id.isdigit() else 0)
                log.info("support request %s: adopting %s found by label", request.id, issue.key)
                await self._link(request, issue)
                return issue
        held = await records.announce([work])
        if work.id not in held:
            raise JiraTransientError(
                "this worker's claim on the support request ran out before its issue was "
                "created; nothing was sent"
            )
        try:
            with send_before(send_by(held[work.id]), self.clock):
                issue = await target.jira.create_issue(
                    build_fields(request, target.fields),
                    properties={IDENTITY_PROPERTY: {"support_request_id": request.id}},
                )
        except JiraOutcomeUnknown as exc:
            await records.answered([work], unknown=True)
            raise CreateUnsettled(
                str(exc), fix=exc.fix, retry_after=window.total_seconds()
            ) from exc
        except JiraError:
            await records.answered([work], unknown=False)  # Jira answered: nothing was made
            raise
        await self._link(request, issue)
        await records.answered([work], unknown=False)
        return issue

    async def _link(self, request: SupportRequestRecord, issue: IssueRef) -> None:
        await self.requests.set_issue(
            request.id, issue_id=issue.id, issue_key=issue.key, now=self.clock()
        )

    async def _upload(
        self,
        request: SupportRequestRecord,
        issue: IssueRef,
        target: SupportTarget,
        *,
        unknown: bool,
    ) -> None:
        waiting = [
            a for a in await self.requests.attachments(request.id) if not a.jira_attachment_id
        ]
        if not waiting:
            return
        on_issue: dict[tuple[str, int], list[str]] = {}
        if unknown:
            # An earlier upload may have reached Jira without its answer reaching us.
            for jira_id, name, size in await target.jira.attachments(issue.id):
                on_issue.setdefault((name, size), []).append(jira_id)
        for info in waiting:
            already = on_issue.get((info.filename, info.size))
            if already:
                await self.requests.mark_uploaded(info.id, already.pop(0))
                continue
            file = await self.requests.attachment(request.id, info.id)
            assert file is not None
            jira_id = await target.jira.add_attachment(
                issue.id,
                filename=info.filename,
                content=file.content,
                content_type=info.content_type,
            )
            await self.requests.mark_uploaded(info.id, jira_id)
