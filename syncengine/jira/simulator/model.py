"""The simulator's records: what a Jira site holds.

Definitions (statuses, fields, workflows) are frozen values; the things users
change (projects' versions, issues, comments) are plain mutable records owned by
:class:`~syncengine.jira.simulator.state.SimState`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "Attachment",
    "ChangeItem",
    "Comment",
    "FieldDef",
    "History",
    "Issue",
    "IssueType",
    "Option",
    "Permission",
    "Priority",
    "Project",
    "RemoteLink",
    "Resolution",
    "ScreenField",
    "Status",
    "StatusCategory",
    "Transition",
    "User",
    "Version",
    "Workflow",
]


class Permission(enum.StrEnum):
    """The project permissions the simulator checks (Jira's permission keys)."""

    BROWSE = "BROWSE_PROJECTS"
    CREATE = "CREATE_ISSUES"
    EDIT = "EDIT_ISSUES"
    TRANSITION = "TRANSITION_ISSUES"
    ASSIGN = "ASSIGN_ISSUES"
    COMMENT = "ADD_COMMENTS"
    ATTACH = "CREATE_ATTACHMENTS"
    DELETE = "DELETE_ISSUES"
    LINK = "LINK_ISSUES"


@dataclass(frozen=True, kw_only=True)
class StatusCategory:
    id: int
    key: str  # new | indeterminate | done
    name: str
    color: str


@dataclass(frozen=True, kw_only=True)
class Status:
    id: str
    name: str
    category: StatusCategory
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class ScreenField:
    field_id: str
    required: bool = False


@dataclass(frozen=True, kw_only=True)
class Transition:
    """A workflow transition; ``from_statuses`` empty means global (from anywhere)."""

    id: str
    name: str
    to_status: str
    from_statuses: frozenset[str] = frozenset()
    requires_resolution: bool = False
    screen: tuple[ScreenField, ...] = ()
    """Fields of the transition screen besides the resolution (``required`` or not)."""


@dataclass(frozen=True, kw_only=True)
class Workflow:
    name: str
    initial_status: str
    statuses: tuple[str, ...]
    transitions: tuple[Transition, ...]

    def available_from(self, status_id: str) -> list[Transition]:
        """The transitions a user may take from ``status_id`` (not to itself)."""
        return [
            t
            for t in self.transitions
            if (not t.from_statuses or status_id in t.from_statuses) and t.to_status != status_id
        ]


@dataclass(frozen=True, kw_only=True)
class Option:
    id: str
    value: str


@dataclass(frozen=True, kw_only=True)
class FieldDef:
    """A field: system (``summary``) or custom (``customfield_10050``).

    ``kind`` drives validation and rendering: string, text (rich text: a wiki
    string on v2, ADF on v3), labels, option, priority, user, versions, date,
    datetime, number, issuetype, project.
    """

    id: str
    name: str
    kind: str
    custom_type: str | None = None
    options: tuple[Option, ...] = ()

    @property
    def custom(self) -> bool:
        return self.id.startswith("customfield_")

    @property
    def custom_id(self) -> int | None:
        return int(self.id.removeprefix("customfield_")) if self.custom else None


@dataclass(frozen=True, kw_only=True)
class IssueType:
    id: str
    name: str
    description: str = ""
    subtask: bool = False


@dataclass(frozen=True, kw_only=True)
class Priority:
    id: str
    name: str


@dataclass(frozen=True, kw_only=True)
class Resolution:
    id: str
    name: str
    description: str = ""


@dataclass(kw_only=True)
class Version:
    id: str
    name: str
    project_id: str
    released: bool = False
    archived: bool = False
    release_date: str | None = None
    description: str = ""


@dataclass(kw_only=True)
class Project:
    """A project: its issue types, their create/edit screens and its workflow."""

    id: str
    key: str
    name: str
    lead: str
    issue_types: list[str]
    screens: dict[str, tuple[ScreenField, ...]]
    workflow: Workflow
    versions: list[Version] = field(default_factory=list)
    next_number: int = 1
    edit_only: dict[str, tuple[ScreenField, ...]] = field(default_factory=dict)
    """Per issue type, fields on the edit screen but not on the create screen."""

    def edit_screen(self, issuetype_id: str) -> tuple[ScreenField, ...]:
        """The edit screen of an issue type: its create screen and the edit-only fields."""
        return self.screens.get(issuetype_id, ()) + self.edit_only.get(issuetype_id, ())


@dataclass(kw_only=True)
class User:
    """A user; ``token_digests`` are SHA-256 digests of API tokens and PATs.

    ``scoped_digests`` are scoped API tokens (and service-account tokens): Cloud
    accepts them only through the API gateway, ``api.atlassian.com/ex/jira/{cloudId}``.
    """

    account_id: str
    name: str
    key: str
    email: str
    display_name: str
    active: bool = True
    admin: bool = False
    time_zone: str = "UTC"
    token_digests: set[str] = field(default_factory=set)
    scoped_digests: set[str] = field(default_factory=set)


@dataclass(kw_only=True)
class Comment:
    id: str
    author: str
    body: Any
    created: datetime
    updated: datetime


@dataclass(kw_only=True)
class Attachment:
    id: str
    filename: str
    mime_type: str
    content: bytes
    author: str
    created: datetime


@dataclass(kw_only=True)
class RemoteLink:
    id: int
    global_id: str | None
    body: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ChangeItem:
    """One ``changelog.items[]`` entry (webhooks and issue history)."""

    field: str
    fieldtype: str
    field_id: str
    from_: str | None
    from_string: str | None
    to: str | None
    to_string: str | None


@dataclass(frozen=True, kw_only=True)
class History:
    """One recorded change of an issue: who, when, which items."""

    id: str
    author: str
    created: datetime
    items: tuple[ChangeItem, ...]


@dataclass(kw_only=True)
class Issue:
    """An issue. ``fields`` holds the stored values of settable fields by id."""

    id: str
    key: str
    project_id: str
    issuetype_id: str
    status_id: str
    fields: dict[str, Any]
    reporter: str | None
    creator: str
    created: datetime
    updated: datetime
    resolution_id: str | None = None
    resolution_date: datetime | None = None
    comments: list[Comment] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    remote_links: list[RemoteLink] = field(default_factory=list)
    previous_keys: list[str] = field(default_factory=list)
    history: list[History] = field(default_factory=list)
    writes: int = 0
    # Issue links where this issue is the outward one: (link type name, the other issue's id).
    issue_links: list[tuple[str, str]] = field(default_factory=list)
