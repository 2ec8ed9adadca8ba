"""The support port on the engine's Jira REST client (:class:`syncengine.jira.JiraClient`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from syncengine.jira import JiraClient
from syncengine.support.jira_port import IssueRef, JiraComment

__all__ = ["ClientSupportJira"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _jql_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ClientSupportJira:
    """Implements :class:`~syncengine.support.jira_port.SupportJira` with one JiraClient."""

    def __init__(self, client: JiraClient) -> None:
        self.client = client

    async def create_issue(
        self, fields: Mapping[str, Any], *, properties: Mapping[str, Any]
    ) -> IssueRef:
        """Create the issue with its identity properties set atomically."""
        created = await self.client.create_issue(fields, properties=properties)
        return IssueRef(id=created.id, key=created.key)

    async def add_attachment(
        self, issue: str, *, filename: str, content: bytes, content_type: str
    ) -> str:
        """Upload one file; the id Jira gave it."""
        stored = await self.client.add_attachment(issue, filename, content, content_type)
        return stored[0].id if stored else ""

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

    async def find_by_label(self, project_key: str, label: str) -> list[IssueRef]:
        """Issues of ``project_key`` labelled ``label``."""
        jql = f"project = {_jql_string(project_key)} AND labels = {_jql_string(label)}"
        return [
            IssueRef(id=i.id, key=i.key) async for i in self.client.search(jql, fields=["labels"])
        ]
