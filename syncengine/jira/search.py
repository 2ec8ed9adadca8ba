"""JQL search, the Cloud way (``/search/jql``, ``nextPageToken``) and the Data Center way
(``/search``, ``startAt``). Which one is used follows ``serverInfo.deploymentType``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncengine.jira import endpoints as ep
from syncengine.jira import parsing
from syncengine.jira.models import Flavour, SearchPage
from syncengine.jira.session import JiraSession

__all__ = [
    "CLOUD_MAX_PAGE",
    "CLOUD_MAX_PAGE_IDS",
    "DATACENTER_MAX_PAGE",
    "RECONCILE_LIMIT",
    "SearchRequest",
]

CLOUD_MAX_PAGE = 100
"""Cloud's ``/search/jql`` returns at most 100 issues a page when fields are asked for..."""
CLOUD_MAX_PAGE_IDS = 5000
"""...and up to 5,000 when only ``id`` or ``key`` is."""
DATACENTER_MAX_PAGE = 1000
"""Data Center's default ``jira.search.views.default.max``."""
RECONCILE_LIMIT = 50
"""Cloud reconciles at most 50 issue ids a search."""


@dataclass(frozen=True, kw_only=True)
class SearchRequest:
    """A JQL query and what to return for each issue."""

    jql: str
    fields: tuple[str, ...] = ("*navigable",)
    properties: tuple[str, ...] = ()
    page_size: int = 100
    reconcile: tuple[str, ...] = ()
    """Cloud: ids of issues to search as they are now, not as the lagging index has them
    (``reconcileIssues``, at most 50; Data Center's search needs none)."""

    def body(self, flavour: Flavour, cursor: str | None) -> dict[str, Any]:
        """The POST body for one page after ``cursor`` (None for the first page)."""
        size = max(1, self.page_size)
        body: dict[str, Any] = {"jql": self.jql, "fields": list(self.fields)}
        if flavour == "cloud":
            ids_only = bool(self.fields) and set(self.fields) <= {"id", "key"}
            body["maxResults"] = min(size, CLOUD_MAX_PAGE_IDS if ids_only else CLOUD_MAX_PAGE)
            if self.properties:
                body["properties"] = list(self.properties)
            if self.reconcile:
                body["reconcileIssues"] = [int(i) for i in self.reconcile[:RECONCILE_LIMIT]]
            if cursor is not None:
                body["nextPageToken"] = cursor
            return body
        if self.properties:
            body["properties"] = list(self.properties)
        body["maxResults"] = min(size, DATACENTER_MAX_PAGE)
        body["startAt"] = int(cursor) if cursor is not None else 0
        return body

    async def page(self, session: JiraSession, flavour: Flavour, cursor: str | None) -> SearchPage:
        """Fetch one page.

        Raises:
            JiraBadRequest: the JQL is invalid (Jira's message says where).
            JiraGone: the old ``/search`` on Cloud (configured as Data Center by mistake).
        """
        context = session.context(f"search issues with {self.jql!r}")
        # A search is a read, however it is sent: safe to repeat.
        if flavour == "cloud":
            data = await session.json(
                "POST",
                ep.SEARCH_JQL,
                context=context,
                json=self.body(flavour, cursor),
                idempotent=True,
            )
            return parsing.parse_search_cloud(data)
        data = await session.json(
            "POST", ep.SEARCH, context=context, json=self.body(flavour, cursor), idempotent=True
        )
        return parsing.parse_search_datacenter(data)
