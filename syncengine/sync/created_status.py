"""The status a newly created issue is in, read once right after the create.

Jira's create answer names only the issue's id and key, so without this read the
dashboard would show the issue's status as unknown until the first poll or webhook.
One created issue is read with ``GET /issue/{id}``; a bulk create's issues with
one search per 50 that names them all in ``reconcileIssues`` (Cloud then reads
them as they are now, not as its lagging index has them). The reads are refreshes
(:data:`~syncengine.jira.Priority.REFRESH`): near the rate limit they are not sent,
and any failure leaves the status to the next sync.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from syncengine.errors import JiraError
from syncengine.jira import Priority, jql, request_priority
from syncengine.jira.client import JiraClient
from syncengine.jira.search import RECONCILE_LIMIT

__all__ = ["read_statuses"]

log = logging.getLogger(__name__)

_FIELDS = ("status",)


async def read_statuses(client: JiraClient, issue_ids: Sequence[str]) -> dict[str, str]:
    """The status name of each of ``issue_ids``, by id; an issue that could not be read
    now is left out (no error is raised)."""
    found: dict[str, str] = {}
    try:
        with request_priority(Priority.REFRESH):
            if len(issue_ids) == 1:
                issue = await client.get_issue(issue_ids[0], fields=_FIELDS)
                if issue.status is not None:
                    found[issue.id] = issue.status.name
                return found
            for start in range(0, len(issue_ids), RECONCILE_LIMIT):
                chunk = list(issue_ids[start : start + RECONCILE_LIMIT])
                async for issue in client.search(
                    f"id in {jql.ids(chunk)}",
                    fields=_FIELDS,
                    page_size=len(chunk),
                    reconcile=chunk,
                ):
                    if issue.status is not None:
                        found[issue.id] = issue.status.name
    except JiraError as exc:
        log.info("the status of new issues was not read (the next sync reads it): %s", exc)
    return found
