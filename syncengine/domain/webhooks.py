"""Jira webhooks: signature checks and payloads normalised into :class:`JiraEvent` values.

Payload quirks handled here, once:

- ``changelog.items[].fieldId`` exists on Cloud only; items are matched on ``field``
  case-insensitively ("Status" on create events, "status" on update events,
  "Fix Version" for ``fixVersions``).
- Status ``from``/``to`` are status ids; ``timestamp`` is epoch milliseconds.
- An "assigned" event can arrive with an empty changelog: ``needs_fetch`` says to
  read the issue instead of trusting the payload.
- An issue moved to another project keeps its id and gets a new key: events carry
  both, and consumers follow the id.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "EventKind",
    "FieldChange",
    "IssueState",
    "JiraEvent",
    "PayloadError",
    "delivery_key",
    "parse_webhook",
    "sign",
    "verify_signature",
]

_FIELD_ALIASES = {
    "status": "status",
    "assignee": "assignee",
    "resolution": "resolution",
    "fix version": "fixVersions",
    "fixversions": "fixVersions",
    "labels": "labels",
    "project": "project",
    "key": "key",
    "summary": "summary",
}


class PayloadError(ValueError):
    """The webhook body is not a Jira issue event we can read."""


class EventKind(StrEnum):
    """What happened to the issue."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    COMMENT = "comment"
    OTHER = "other"


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldChange:
    """One changelog item; ``field`` is canonical (``status``, ``assignee``, ``fixVersions``…)."""

    field: str
    from_id: str | None
    from_string: str | None
    to_id: str | None
    to_string: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class IssueState:
    """The issue's values as the payload shows them after the change."""

    status_id: str | None = None
    status_name: str | None = None
    status_category: str | None = None
    resolution: str | None = None
    assignee_account_id: str | None = None
    assignee_name: str | None = None
    assignee_email: str | None = None
    fix_versions: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    updated: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class JiraEvent:
    """A webhook delivery, normalised."""

    kind: EventKind
    webhook_event: str
    issue_id: str
    issue_key: str
    project_key: str | None
    timestamp: datetime
    changelog_id: str | None
    changes: tuple[FieldChange, ...]
    state: IssueState
    needs_fetch: bool
    comment_id: str | None = None

    def changed(self, field: str) -> FieldChange | None:
        """The change of the canonical ``field``, if this event has one."""
        return next((c for c in self.changes if c.field == field), None)


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature`` value Jira sends for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> str | None:
    """None when ``header`` signs ``body`` with ``secret``; else why it does not.

    The comparison is constant-time.
    """
    if not header:
        return "missing X-Hub-Signature header"
    method, _, digest = header.strip().partition("=")
    if method.lower() != "sha256" or not digest:
        return "X-Hub-Signature must be sha256=<hex digest>"
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.lower()):
        return "signatures do not match"
    return None


def _str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _state(fields: dict[str, Any]) -> IssueState:
    status = fields.get("status") or {}
    category = status.get("statusCategory") or {}
    assignee = fields.get("assignee") or {}
    resolution = fields.get("resolution") or {}
    updated = fields.get("updated")
    return IssueState(
        status_id=_str(status.get("id")),
        status_name=_str(status.get("name")),
        status_category=_str(category.get("key")),
        resolution=_str(resolution.get("name")) if isinstance(resolution, dict) else None,
        assignee_account_id=_str(assignee.get("accountId")),
        assignee_name=_str(assignee.get("name")),
        assignee_email=_str(assignee.get("emailAddress")),
        fix_versions=tuple(
            str(v["name"]) for v in fields.get("fixVersions") or [] if isinstance(v, dict)
        ),
        labels=tuple(str(v) for v in fields.get("labels") or []),
        updated=_jira_time(updated) if isinstance(updated, str) else None,
    )


def _jira_time(text: str) -> datetime | None:
    # Jira writes 2019-02-16T03:15:40.507+0000 (no colon in the offset).
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, pattern).astimezone(UTC)
        except ValueError:
            continue
    return None


def _kind(event: str) -> EventKind:
    if event == "jira:issue_created":
        return EventKind.CREATED
    if event == "jira:issue_updated":
        return EventKind.UPDATED
    if event == "jira:issue_deleted":
        return EventKind.DELETED
    if event.startswith("comment_"):
        return EventKind.COMMENT
    return EventKind.OTHER


def parse_webhook(payload: Any) -> JiraEvent:
    """Normalise a Jira webhook body.

    Raises:
        PayloadError: the body is not an issue or comment event (says what is missing).
    """
    if not isinstance(payload, dict):
        raise PayloadError("webhook body must be a JSON object")
    issue = payload.get("issue")
    if not isinstance(issue, dict) or not issue.get("id"):
        raise PayloadError("webhook body has no issue with an id")
    stamp = payload.get("timestamp")
    if not isinstance(stamp, int | float):
        raise PayloadError("webhook body has no epoch-millisecond timestamp")
    fields = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
    project = (fields or {}).get("project") or {}
    changelog = payload.get("changelog") if isinstance(payload.get("changelog"), dict) else {}
    changes = []
    for item in (changelog or {}).get("items") or []:
        if not isinstance(item, dict):
            continue
        name = str(item.get("fieldId") or item.get("field") or "")
        canonical = _FIELD_ALIASES.get(
            name.lower(), _FIELD_ALIASES.get(str(item.get("field") or "").lower(), name)
        )
        changes.append(
            FieldChange(
                field=canonical,
                from_id=_str(item.get("from")),
                from_string=_str(item.get("fromString")),
                to_id=_str(item.get("to")),
                to_string=_str(item.get("toString")),
            )
        )
    webhook_event = str(payload.get("webhookEvent") or "")
    type_name = str(payload.get("issue_event_type_name") or "")
    kind = _kind(webhook_event)
    # "Assigned" events may come without a changelog; the payload then cannot be trusted.
    needs_fetch = kind is EventKind.UPDATED and not changes and type_name != "issue_commented"
    comment = payload.get("comment") if isinstance(payload.get("comment"), dict) else None
    return JiraEvent(
        kind=kind,
        webhook_event=webhook_event,
        issue_id=str(issue["id"]),
        issue_key=str(issue.get("key") or ""),
        project_key=_str(project.get("key")) if isinstance(project, dict) else None,
        timestamp=datetime.fromtimestamp(stamp / 1000, UTC),
        changelog_id=_str((changelog or {}).get("id")),
        changes=tuple(changes),
        state=_state(fields or {}),
        needs_fetch=needs_fetch,
        comment_id=_str(comment.get("id")) if comment else None,
    )


def delivery_key(event: JiraEvent, identifier: str | None) -> str:
    """The id a delivery is de-duplicated on.

    Jira Cloud's ``X-Atlassian-Webhook-Identifier`` when sent; otherwise the issue id
    with the changelog id (or comment id, or event and timestamp).
    """
    if identifier:
        return f"atl:{identifier}"
    detail = event.changelog_id or event.comment_id or str(int(event.timestamp.timestamp() * 1000))
    return f"{event.issue_id}:{event.webhook_event}:{detail}"
