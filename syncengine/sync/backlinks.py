"""``link.backlink`` items: tell an issue a group was linked to which group it is.

Queued with the link itself (``ticket link``, the dashboard, a followed move), so each
link gets one. The item adds one comment (wiki on v2, ADF on v3: which group, its
counts, its page) and a remote link to the group page, deduplicated by its global id.
Every step is safe to repeat: the comment's id is noted in the item once posted, and
a retry after a lost answer first looks for the comment among the issue's comments;
the remote link is an upsert by global id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from syncengine.domain.coercion import single_line
from syncengine.domain.fields import render_body
from syncengine.domain.impact import backlink_comment, group_page, remote_link_id
from syncengine.jira.client import JiraClient
from syncengine.jira.errors import JiraOutcomeUnknown
from syncengine.logs import bind
from syncengine.store.create_records import tried_before
from syncengine.store.groups import GroupRepository
from syncengine.store.impact import ImpactRepository
from syncengine.store.link_sync import LinkSyncStore
from syncengine.store.links import IssueLinkRepository
from syncengine.store.outbox import OutboxWork

__all__ = ["BackLinks"]

log = logging.getLogger(__name__)


class BackLinks:
    """Runs ``link.backlink`` items (the outbox handler)."""

    def __init__(
        self,
        *,
        public_url: str,
        links: IssueLinkRepository,
        groups: GroupRepository,
        impact: ImpactRepository,
        store: LinkSyncStore,
        slug_of: Callable[[int], Awaitable[str]],
        clients: Callable[[str], JiraClient],
        clock: Callable[[], datetime],
    ) -> None:
        self._public_url = public_url
        self._links = links
        self._groups = groups
        self._impact = impact
        self._store = store
        self._slug_of = slug_of
        self._clients = clients
        self._clock = clock

    async def __call__(self, work: OutboxWork) -> None:
        """Run one item; raises JiraError (retried or shown) like any outbox handler."""
        if work.group_id is None:
            return
        link = await self._links.for_group(work.group_id)
        if link is None or link.id != work.payload.get("link_id"):
            return  # unlinked (or linked anew) since: this link needs nothing any more
        slug = await self._slug_of(work.project_id)
        bind(project=slug)
        client = self._clients(slug)
        url = group_page(self._public_url, work.group_id)
        if not work.payload.get("comment_id"):
            facts = await self._impact.facts(work.group_id, url=url)
            group = await self._groups.snapshot(work.group_id, top=1)
            title = single_line(f"{group.classifier}: {group.message}".strip(": "), 200)
            document = backlink_comment(facts, title=title, project=slug, group_id=work.group_id)
            tried = tried_before(work)
            mine = _ours(url)
            comment_id = await self._find(client, link.issue_id, mine) if tried else None
            if comment_id is None:
                try:
                    posted = await client.add_comment(
                        link.issue_id,
                        render_body(document, api_version=client.config.api_version),
                    )
                except JiraOutcomeUnknown:
                    comment_id = await self._find(client, link.issue_id, mine)
                    if comment_id is None:
                        raise
                else:
                    comment_id = posted.id
            await self._store.note(work.id, "comment_id", comment_id)
        await client.create_remote_link(
            link.issue_id,
            url=url,
            title=f"Crash group #{work.group_id} ({slug})",
            global_id=remote_link_id(url),
        )
        await self._impact.mark_backlinked(link.id, now=self._clock())
        log.info("back-link added to %s for group %s", link.issue_key, work.group_id)

    @staticmethod
    async def _find(client: JiraClient, issue_id: str, mine: re.Pattern[str]) -> str | None:
        """The id of an earlier attempt's comment, if any."""
        for comment in await client.comments(issue_id):
            if mine.search(comment.text):
                return comment.id
        return None


def _ours(url: str) -> re.Pattern[str]:
    """The group page's address whole, as its back-link comment holds it (``…/groups/1``
    must not match a comment naming ``…/groups/12``). Only the address: the rest of the
    comment's text comes back escaped differently by each Jira (wiki on Data Center, wiki
    converted from ADF on Cloud's v2, ADF on v3), the link's target does not."""
    return re.compile(rf"{re.escape(url)}(?![\w/.-])")
