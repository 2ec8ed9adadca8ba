"""The ``support.comment`` outbox handler: a requester's portal reply becomes one Jira comment.

The reply was stored with its outbox item (the portal shows it at once, "not sent yet");
the item waits for the request's own ``support.create`` and, while the integration is
Passive, for it to turn Active. The comment says who wrote it ("alice wrote in the
support portal, reply 7:"), since Jira shows the integration user as its author; that
line also names the reply, so a retry after a lost answer first looks for it on the
issue rather than commenting twice, and a comment goes out before the worker's claim
on the item runs out or not at all (a worker paused past it must not comment after
the one that took the item over).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from syncengine.errors import JiraError, JiraTransientError
from syncengine.jira.send_by import send_before
from syncengine.logs import bind
from syncengine.store.create_records import send_by, tried_before
from syncengine.store.outbox import OutboxRepository, OutboxWork
from syncengine.store.projects import ProjectRepository
from syncengine.store.support import ReplyRecord, SupportRepository
from syncengine.support.jira_port import SupportJira
from syncengine.support.targets import TargetLookup

__all__ = ["SupportReplyHandler", "attribution"]

log = logging.getLogger(__name__)


def attribution(author: str, reply_id: int) -> str:
    """The first line of the Jira comment a portal reply becomes."""
    return f"{author} {_marker(reply_id)}"


def _marker(reply_id: int) -> str:
    # Letters, digits, a comma and a colon only: the same in wiki markup, ADF and flattened text.
    return f"wrote in the support portal, reply {reply_id}:"


@dataclass(frozen=True, kw_only=True, eq=False)  # a service: equal only to itself
class SupportReplyHandler:
    """Runs ``support.comment`` items (an outbox worker handler)."""

    requests: SupportRepository
    projects: ProjectRepository
    targets: TargetLookup
    clock: Callable[[], datetime]
    outbox: OutboxRepository

    async def __call__(self, work: OutboxWork) -> None:
        """Comment the reply on the request's issue; raises JiraError to retry."""
        reply = await self.requests.reply(int(work.payload["comment_id"]))
        if reply is None or reply.jira_comment_id:
            return  # deleted with its request, or already in Jira
        request = await self.requests.get(reply.support_request_id)
        if request is None:
            return
        if not request.jira_issue_id:
            # The request's create ran first (the item waited for it) and has not made the
            # issue yet: it retries, so this does too.
            raise JiraTransientError(
                f"support request {request.id} has no Jira issue yet; the reply waits for it"
            )
        slug = next(p.slug for p in await self.projects.all() if p.id == request.project_id)
        bind(project=slug)
        jira = self.targets(slug).jira
        try:
            comment_id = None
            if tried_before(work):
                # An earlier attempt may have commented and lost the answer.
                marker = _marker(reply.id)
                comment_id = next(
                    (c.id for c in await jira.comments(request.jira_issue_id) if marker in c.body),
                    None,
                )
            if comment_id is None:
                comment_id = await self._comment(work, jira, request.jira_issue_id, reply)
        except JiraError as exc:
            await self.requests.set_error(request.id, exc.user_message(), now=self.clock())
            raise
        await self.requests.mark_reply_sent(reply.id, comment_id)
        log.info(
            "support request %s: reply %s is Jira comment %s on %s",
            request.id,
            reply.id,
            comment_id,
            request.jira_issue_key,
        )

    async def _comment(
        self, work: OutboxWork, jira: SupportJira, issue_id: str, reply: ReplyRecord
    ) -> str:
        """Send the comment while this worker's claim is live: a worker paused past its
        claim must not comment after the one that took the item over did."""
        claim_ends = await self.outbox.live_until(work.id, work.claimed_by or "", now=self.clock())
        if claim_ends is None:
            raise JiraTransientError(
                "this worker's claim on the reply ran out before it was sent; nothing was sent"
            )
        with send_before(send_by(claim_ends), self.clock):
            return await jira.add_comment(
                issue_id, heading=attribution(reply.author, reply.id), text=reply.body
            )
