"""The few Jira calls the support portal needs, as a port (a Protocol).

The real adapter wraps the engine's Jira client; tests use the Jira simulator
through that same adapter. Every call raises
:class:`~syncengine.errors.JiraTransientError` or
:class:`~syncengine.errors.JiraPermanentError` on failure, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["IssueRef", "JiraComment", "SupportJira"]


@dataclass(frozen=True, kw_only=True, slots=True)
class IssueRef:
    """A Jira issue by id (stable) and key (changes when the issue moves)."""

    id: str
    key: str


@dataclass(frozen=True, kw_only=True, slots=True)
class JiraComment:
    """A comment on a Jira issue, its body already turned into plain text."""

    id: str
    author: str
    body: str
    created_at: datetime
    updated_at: datetime


class SupportJira(Protocol):
    """What the support portal asks of one Jira site."""

    async def create_issue(
        self, fields: Mapping[str, Any], *, properties: Mapping[str, Any]
    ) -> IssueRef:
        """Create an issue with ``fields`` and the entity ``properties`` set with it."""

    async def add_attachment(
        self, issue: str, *, filename: str, content: bytes, content_type: str
    ) -> str:
        """Attach a file to ``issue`` (id or key); returns the Jira attachment id."""

    async def attachments(self, issue: str) -> list[tuple[str, str, int]]:
        """The files on ``issue`` as (attachment id, file name, size in bytes)."""

    async def issue_status(self, issue: str) -> tuple[IssueRef, str]:
        """The issue's current id/key and the name of its status."""

    async def comments(self, issue: str) -> list[JiraComment]:
        """Every comment of ``issue``, oldest first."""

    async def add_comment(self, issue: str, *, heading: str, text: str) -> str:
        """Comment on ``issue``: the line ``heading``, then ``text``, both shown exactly as
        written (never read as markup); the new comment's id."""

    async def find_by_label(self, project_key: str, label: str) -> list[IssueRef]:
        """Issues of ``project_key`` that carry ``label`` (the identity search)."""

    async def changed(
        self, labels: Sequence[str], *, within_minutes: int | None
    ) -> list[tuple[IssueRef, str, tuple[str, ...]]]:
        """Issues carrying any of ``labels`` updated in the last ``within_minutes`` (None: all).

        Each as its id/key, status name and labels (in any project: issues move).
        """
