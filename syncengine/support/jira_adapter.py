"""The support port on the engine's Jira REST client (:class:`syncengine.jira.JiraClient`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from syncengine.domain.coercion import CoercionError, coerce
from syncengine.domain.createmeta import FieldMeta
from syncengine.errors import JiraPermanentError
from syncengine.jira import JiraClient, jql
from syncengine.jira.errors import JiraInvalidIssueType
from syncengine.support.fields import comment_body
from syncengine.support.jira_port import IssueRef, JiraComment

__all__ = ["ClientSupportJira", "shape_value"]

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def shape_value(value: str, meta: FieldMeta | None, *, cloud: bool) -> Any:
    """A portal value in the form the custom field's schema takes (the domain's coercion).

    A value that does not fit (an option the list lacks) goes as it is: Jira's
    answer then names the field and the problem, and the request stays stored.
    """
    if meta is None:
        return value
    try:
        return coerce(meta, value, cloud=cloud)
    except CoercionError:
        return value


class ClientSupportJira:
    """Implements :class:`~syncengine.support.jira_port.SupportJira` with one JiraClient."""

    def __init__(self, client: JiraClient) -> None:
        self.client = client
        self._screens: dict[tuple[str, str], dict[str, FieldMeta]] = {}

    async def _screen(self, project_key: str, issue_type: str) -> dict[str, FieldMeta]:
        cached = self._screens.get((project_key, issue_type))
        if cached is not None:
            return cached
        try:
            meta = await self.client.create_meta(project_key, issue_type)
            screen = {f.id: f for f in meta.fields}
        except JiraInvalidIssueType:
            return {}  # the create itself then fails with Jira's own explanation
        except JiraPermanentError as exc:
            # Without the create screen the values go as plain text; Jira says if it minds.
            log.warning("cannot read the create screen of %s: %s", project_key, exc)
            screen = {}
        self._screens[(project_key, issue_type)] = screen
        return screen

    async def create_issue(
        self, fields: Mapping[str, Any], *, properties: Mapping[str, Any]
    ) -> IssueRef:
        """Create the issue with its identity properties set atomically.

        Custom-field values are shaped by the create screen's schema (a select
        list gets ``{"value": …}``), read once per project and issue type.
        """
        shaped = dict(fields)
        custom = [
            k for k, v in fields.items() if k.startswith("customfield_") and isinstance(v, str)
        ]
        if custom:
            project = fields.get("project", {}).get("key", "")
            issue_type = fields.get("issuetype", {}).get("name", "")
            screen = await self._screen(str(project), str(issue_type))
            cloud = await self.client.flavour() == "cloud"
            for key in custom:
                shaped[key] = shape_value(fields[key], screen.get(key), cloud=cloud)
        created = await self.client.create_issue(shaped, properties=properties)
        return IssueRef(id=created.id, key=created.key)

    async def add_attachment(
        self, issue: str, *, filename: str, content: bytes, content_type: str
    ) -> str:
        """Upload one file; the id Jira gave it."""
        stored = await self.client.add_attachment(issue, filename, content, content_type)
        return stored[0].id if stored else ""

    async def attachments(self, issue: str) -> list[tuple[str, str, int]]:
        """The issue's files (from its ``attachment`` field)."""
        found = await self.client.get_issue(issue, fields=["attachment"])
        files = found.fields.get("attachment") or []
        return [
            (str(f.get("id", "")), str(f.get("filename", "")), int(f.get("size") or 0))
            for f in files
            if isinstance(f, dict)
        ]

    async def issue_status(self, issue: str) -> tuple[IssueRef, str]:
        """The issue's id, current key and status name."""
        found = await self.client.get_issue(issue, fields=["status"])
        return IssueRef(id=found.id, key=found.key), found.status.name if found.status else ""

    async def comments(self, issue: str) -> list[JiraComment]:
        """Every comment, as plain text (ADF bodies are flattened by the client)."""
        return [
            JiraComment(
                id=c.id,
                author=(c.author.display_name or c.author.name or c.author.email or "")
                if c.author
                else "",
                body=c.text,
                created_at=c.created or _EPOCH,
                updated_at=c.updated or c.created or _EPOCH,
            )
            for c in await self.client.comments(issue)
        ]

    async def add_comment(self, issue: str, *, heading: str, text: str) -> str:
        """One comment: wiki markup escaped on REST v2, plain ADF text on v3."""
        body = comment_body(heading, text, self.client.config.api_version)
        return (await self.client.add_comment(issue, body)).id

    async def changed(
        self, labels: Sequence[str], *, within_minutes: int | None
    ) -> list[tuple[IssueRef, str, tuple[str, ...]]]:
        """One search (paged) for the labelled issues updated lately."""
        query = f"labels in {jql.values(labels)}"
        if within_minutes is not None:
            query += f' AND updated >= "-{int(within_minutes)}m"'
        return [
            (IssueRef(id=i.id, key=i.key), i.status.name if i.status else "", i.labels)
            async for i in self.client.search(query, fields=["status", "labels"])
        ]

    async def find_by_label(self, project_key: str, label: str) -> list[IssueRef]:
        """Issues of ``project_key`` labelled ``label``."""
        query = f"project = {jql.quote(project_key)} AND labels = {jql.quote(label)}"
        return [
            IssueRef(id=i.id, key=i.key) async for i in self.client.search(query, fields=["labels"])
        ]
