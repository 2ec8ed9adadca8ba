"""What the Jira client returns: frozen values, parsed from Jira's JSON by ``parsing``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "BulkCreateFailure",
    "BulkCreateResult",
    "CreatedIssue",
    "FieldMeta",
    "IssueTypeMeta",
    "JiraAttachment",
    "JiraComment",
    "JiraIssue",
    "JiraProject",
    "JiraStatus",
    "JiraTransition",
    "JiraUser",
    "JiraVersion",
    "RemoteLink",
    "SearchPage",
    "ServerInfo",
    "StatusCategory",
    "WebhookRegistration",
]

Flavour = Literal["cloud", "datacenter"]


@dataclass(frozen=True, kw_only=True)
class ServerInfo:
    """``/serverInfo``: which Jira this is."""

    base_url: str
    version: str
    deployment_type: str
    """"Cloud", "Server" or "DataCenter", as Jira says it."""
    server_title: str = ""

    @property
    def flavour(self) -> Flavour:
        """``cloud`` for Jira Cloud, ``datacenter`` for Server and Data Center."""
        return "cloud" if self.deployment_type.lower() == "cloud" else "datacenter"


@dataclass(frozen=True, kw_only=True)
class JiraUser:
    """A Jira user: Cloud knows it by ``account_id``, Data Center by ``name``."""

    account_id: str | None = None
    name: str | None = None
    key: str | None = None
    email: str | None = None
    display_name: str = ""
    active: bool = True

    @property
    def identifier(self) -> str:
        """The id Jira wants when assigning: accountId on Cloud, name on Data Center."""
        return self.account_id or self.name or self.key or ""


@dataclass(frozen=True, kw_only=True)
class StatusCategory:
    """``new``, ``indeterminate`` or ``done`` (``undefined`` for "No Category")."""

    id: int | None
    key: str
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class JiraStatus:
    """A workflow status; ``category_key`` drives the default state mapping."""

    id: str | None
    name: str
    category_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class JiraVersion:
    """A project version (fix version)."""

    id: str
    name: str
    released: bool = False
    archived: bool = False
    release_date: str | None = None


@dataclass(frozen=True, kw_only=True)
class IssueTypeMeta:
    """An issue type as a project or createmeta lists it."""

    id: str
    name: str
    subtask: bool = False


@dataclass(frozen=True, kw_only=True)
class JiraProject:
    """A project and the issue types it has."""

    id: str
    key: str
    name: str
    issue_types: tuple[IssueTypeMeta, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FieldMeta:
    """One field on a create screen (createmeta)."""

    field_id: str
    name: str
    required: bool
    schema_type: str = ""
    items: str = ""
    custom: str = ""
    has_default_value: bool = False
    allowed_values: tuple[Mapping[str, Any], ...] = ()
    operations: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class JiraIssue:
    """An issue as the engine needs it, plus the raw ``fields`` for the rest."""

    id: str
    key: str
    summary: str = ""
    status: JiraStatus | None = None
    assignee: JiraUser | None = None
    resolution: str | None = None
    fix_versions: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    issue_type: str | None = None
    project_key: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CreatedIssue:
    """The answer to a create: Jira's id and key."""

    id: str
    key: str


@dataclass(frozen=True, kw_only=True)
class BulkCreateFailure:
    """One issue of a bulk create that Jira refused; ``index`` is its place in the input."""

    index: int
    status: int
    messages: tuple[str, ...] = ()
    field_errors: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class BulkCreateResult:
    """Which issues of a bulk create were made (by input index) and which failed."""

    created: Mapping[int, CreatedIssue] = field(default_factory=dict)
    failed: tuple[BulkCreateFailure, ...] = ()


@dataclass(frozen=True, kw_only=True)
class JiraTransition:
    """A transition available from the issue's current status."""

    id: str
    name: str
    to_status: JiraStatus | None = None
    required_fields: tuple[str, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)
    available: bool = True


@dataclass(frozen=True, kw_only=True)
class JiraComment:
    """A comment; ``body`` is a string (v2) or an ADF document (v3), ``text`` plain text."""

    id: str
    body: str | Mapping[str, Any]
    text: str
    author: JiraUser | None = None
    created: datetime | None = None
    updated: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class JiraAttachment:
    """An attachment Jira stored."""

    id: str
    filename: str
    size: int = 0
    mime_type: str = ""


@dataclass(frozen=True, kw_only=True)
class RemoteLink:
    """A link from an issue to an outside object (the group's page)."""

    id: int
    url: str = ""
    title: str = ""
    global_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SearchPage:
    """One page of search results; ``next_cursor`` is None on the last page.

    The cursor is Cloud's ``nextPageToken`` or, on Data Center, the next ``startAt``.
    ``total`` is only known on Data Center.
    """

    issues: tuple[JiraIssue, ...]
    next_cursor: str | None = None
    total: int | None = None


@dataclass(frozen=True, kw_only=True)
class WebhookRegistration:
    """Webhooks Jira registered: ids (Cloud) or the webhook's self URL (Data Center)."""

    ids: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
