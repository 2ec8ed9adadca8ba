"""An in-memory Jira for the support port, with failures that tests can arrange.

The Jira simulator is the fake for Jira over HTTP; this one stands in for the
port itself so handler logic can be tested on every store backend quickly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syncengine.errors import JiraError, JiraPermanentError
from syncengine.support.jira_port import IssueRef, JiraComment


@dataclass
class FakeIssue:
    id: str
    key: str
    fields: dict[str, Any]
    status: str = "To Do"
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)
    comments: list[JiraComment] = field(default_factory=list)


class FakeSupportJira:
    """Issues in a dict; ``fail`` maps a call name to errors raised on its next calls."""

    def __init__(self, project_key: str = "SUP") -> None:
        self.project_key = project_key
        self.issues: dict[str, FakeIssue] = {}
        self.calls: list[str] = []
        self.properties: list[dict[str, Any]] = []
        self.windows: list[int | None] = []
        self.fail: dict[str, list[JiraError]] = {}
        # A create that succeeds in Jira but whose answer is lost (timeout after commit).
        self.lose_next_create_answer = False

    def _maybe_fail(self, call: str) -> None:
        self.calls.append(call)
        queued = self.fail.get(call)
        if queued:
            raise queued.pop(0)

    def _issue(self, issue: str) -> FakeIssue:
        for item in self.issues.values():
            if issue in (item.id, item.key):
                return item
        raise JiraPermanentError(f"404 from Jira: issue {issue} does not exist", status=404)

    async def create_issue(
        self, fields: Mapping[str, Any], *, properties: Mapping[str, Any]
    ) -> IssueRef:
        self._maybe_fail("create_issue")
        self.properties.append(dict(properties))
        number = len(self.issues) + 1
        issue = FakeIssue(
            id=str(10000 + number), key=f"{self.project_key}-{number}", fields=dict(fields)
        )
        self.issues[issue.id] = issue
        if self.lose_next_create_answer:
            self.lose_next_create_answer = False
            from syncengine.errors import JiraTransientError

            raise JiraTransientError("timeout waiting for Jira")
        return IssueRef(id=issue.id, key=issue.key)

    async def add_attachment(
        self, issue: str, *, filename: str, content: bytes, content_type: str
    ) -> str:
        self._maybe_fail("add_attachment")
        item = self._issue(issue)
        item.attachments.append((filename, content_type, content))
        return f"{item.id}-{len(item.attachments)}"

    async def attachments(self, issue: str) -> list[tuple[str, str, int]]:
        self._maybe_fail("attachments")
        item = self._issue(issue)
        return [
            (f"{item.id}-{n}", name, len(content))
            for n, (name, _type, content) in enumerate(item.attachments, 1)
        ]

    async def issue_status(self, issue: str) -> tuple[IssueRef, str]:
        self._maybe_fail("issue_status")
        item = self._issue(issue)
        return IssueRef(id=item.id, key=item.key), item.status

    async def comments(self, issue: str) -> list[JiraComment]:
        self._maybe_fail("comments")
        return list(self._issue(issue).comments)

    async def add_comment(self, issue: str, *, heading: str, text: str) -> str:
        self._maybe_fail("add_comment")
        item = self._issue(issue)
        self.comment(item.id, "bot", f"{heading}\n\n{text}")
        return item.comments[-1].id

    async def find_by_label(self, project_key: str, label: str) -> list[IssueRef]:
        self._maybe_fail("find_by_label")
        return [
            IssueRef(id=i.id, key=i.key)
            for i in self.issues.values()
            if label in i.fields.get("labels", [])
        ]

    async def changed(
        self, labels: Sequence[str], *, within_minutes: int | None
    ) -> list[tuple[IssueRef, str, tuple[str, ...]]]:
        # No clock here: every labelled issue counts as changed (a superset is harmless).
        self._maybe_fail("changed")
        self.windows.append(within_minutes)
        return [
            (IssueRef(id=i.id, key=i.key), i.status, tuple(i.fields.get("labels", [])))
            for i in self.issues.values()
            if set(labels) & set(i.fields.get("labels", []))
        ]

    def comment(self, issue_id: str, author: str, body: str) -> None:
        """A support engineer comments in Jira."""
        item = self.issues[issue_id]
        now = datetime(2026, 11, 23, 13, len(item.comments), tzinfo=UTC)
        item.comments.append(
            JiraComment(
                id=str(len(item.comments) + 1),
                author=author,
                body=body,
                created_at=now,
                updated_at=now,
            )
        )
