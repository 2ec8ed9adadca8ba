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
- Data Center / Server ``comment_created|updated|deleted`` deliveries carry no
  ``issue`` object: the issue id is read from ``comment.self``
  (``…/rest/api/2/issue/10148/comment/252789``).
- A delivery without ``timestamp`` is read (its time is None); it is de-duplicated
  on Jira's identifier header or, without one, a hash of its body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from syncengine.domain.digests import same_text

__all__ = [
    "MAX_DEPTH",
    "EventKind",
    "FieldChange",
    "Handled",
    "IssueState",
    "JiraEvent",
    "PayloadError",
    "age_problem",
    "applied",
    "combine",
    "decode_payload",
    "delivery_key",
    "ignored",
    "parse_delivery",
    "parse_webhook",
    "queued",
    "sign",
    "verify_signature",
]

# Jira's payloads nest a dozen levels (ADF comment bodies included).
MAX_DEPTH = 64
MAX_DELIVERY_KEY = 200  # the store's column
_MAX_TEXT = 4096  # any one text the event keeps
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_MILLISECOND = (datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC) - _EPOCH) // timedelta(
    milliseconds=1
)

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


_COMMENT_SELF = re.compile(r"/rest/api/(?:\d+|latest)/issue/(\d{1,19})/comment(?:/|$)")


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
    timestamp: datetime | None  # None: the delivery had none (some Data Center events)
    changelog_id: str | None
    changes: tuple[FieldChange, ...]
    state: IssueState
    needs_fetch: bool
    comment_id: str | None = None

    def changed(self, field: str) -> FieldChange | None:
        """The change of the canonical ``field``, if this event has one."""
        return next((c for c in self.changes if c.field == field), None)


@dataclass(frozen=True, kw_only=True, slots=True)
class Handled:
    """What a handler did with a delivery: ``applied``, ``queued`` (in the outbox) or
    ``ignored``, with ``reason``."""

    status: str
    reason: str = ""


def applied() -> Handled:
    """The delivery changed (or checked) something of ours."""
    return Handled(status="applied")


def ignored(reason: str) -> Handled:
    """The delivery was read and deliberately not acted on; ``reason`` says why."""
    return Handled(status="ignored", reason=reason)


def queued(reason: str) -> Handled:
    """The delivery could not be applied at once and waits, durable, in the outbox."""
    return Handled(status="queued", reason=reason)


def combine(answers: list[Handled | None]) -> Handled:
    """One answer for a delivery from its handlers' (None: a handler with no say).

    Applied by any handler is applied; otherwise the first reason it was ignored.
    """
    if any(a is not None and a.status == "applied" for a in answers):
        return applied()
    waiting = next((a for a in answers if a is not None and a.status == "queued"), None)
    if waiting is not None:
        return waiting
    reasons = [a.reason for a in answers if a is not None]
    return ignored(reasons[0] if reasons else "no handler takes this event")


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
    if not same_text(expected, digest.lower()):
        return "signatures do not match"
    return None


class _Reader:
    """Typed reads of one JSON object of the payload; each wrong type is a PayloadError.

    ``where`` is the object's path in the payload (``issue.fields``), so an error
    names the field: "issue.fields.status must be an object, not a number".
    """

    __slots__ = ("_data", "where")

    def __init__(self, data: Mapping[str, Any], where: str) -> None:
        self._data = data
        self.where = where

    def _path(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def _wrong(self, name: str, wanted: str, value: Any) -> PayloadError:
        return PayloadError(f"{self._path(name)} must be {wanted}, not {_kind(value)}")

    def has(self, name: str) -> bool:
        """True when ``name`` is present and not null."""
        return self._data.get(name) is not None

    def obj(self, name: str) -> _Reader:
        """The object at ``name`` (an empty one for null or absent)."""
        value = self._data.get(name)
        if value is None:
            return _Reader({}, self._path(name))
        if not isinstance(value, dict):
            raise self._wrong(name, "an object", value)
        return _Reader(value, self._path(name))

    def objs(self, name: str) -> list[_Reader]:
        """The list of objects at ``name`` (empty for null or absent)."""
        value = self._data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(name, "a list of objects", value)
        readers = []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self._wrong(f"{name}[{index}]", "an object", item)
            readers.append(_Reader(item, self._path(f"{name}[{index}]")))
        return readers

    def text(
        self, name: str, *, numbers: bool = True, limit: int = _MAX_TEXT, clip: bool = False
    ) -> str | None:
        """The string (or, with ``numbers``, integer) at ``name``; None for null, absent or "".

        ``clip``: a longer string is cut to ``limit`` instead of refused (a changelog
        item holds a whole description's old and new text, up to Jira's 32,767).
        """
        value = self._data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return _checked_text(self._path(name), value[:limit] if clip else value, limit)
        if numbers and type(value) is int and 0 <= value < 2**63:
            return str(value)
        raise self._wrong(name, "a string or an id" if numbers else "a string", value)

    def texts(self, name: str) -> tuple[str, ...]:
        """The list of strings at ``name`` (empty for null or absent)."""
        value = self._data.get(name)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._wrong(name, "a list of strings", value)
        found = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self._wrong(f"{name}[{index}]", "a string", item)
            found.append(_checked_text(self._path(f"{name}[{index}]"), item, _MAX_TEXT))
        return tuple(found)

    def raw(self, name: str) -> Any:
        """The value at ``name`` as it is (for checks of their own)."""
        return self._data.get(name)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value!r:.40})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    return "a list" if isinstance(value, list) else "an object"


def _checked_text(where: str, text: str, limit: int) -> str:
    if len(text) > limit:
        raise PayloadError(f"{where} is {len(text)} characters long; at most {limit} are read")
    if "\x00" in text:
        raise PayloadError(f"{where} contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PayloadError(
            f"{where} contains a lone surrogate (\\u{ord(text[exc.start]):04x})"
        ) from exc
    return text


def _state(fields: _Reader) -> IssueState:
    status = fields.obj("status")
    assignee = fields.obj("assignee")
    updated = fields.text("updated", numbers=False)
    return IssueState(
        status_id=status.text("id"),
        status_name=status.text("name", numbers=False),
        status_category=status.obj("statusCategory").text("key", numbers=False),
        resolution=fields.obj("resolution").text("name", numbers=False),
        assignee_account_id=assignee.text("accountId", numbers=False),
        assignee_name=assignee.text("name", numbers=False),
        assignee_email=assignee.text("emailAddress", numbers=False),
        fix_versions=tuple(
            name for v in fields.objs("fixVersions") if (name := v.text("name")) is not None
        ),
        labels=fields.texts("labels"),
        updated=_jira_time(updated) if updated is not None else None,
    )


def _jira_time(text: str) -> datetime | None:
    # Jira writes 2019-02-16T03:15:40.507+0000 (no colon in the offset).
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, pattern).astimezone(UTC)
        except (ValueError, OverflowError):
            continue
    return None


def _kind_of_event(event: str) -> EventKind:
    if event == "jira:issue_created":
        return EventKind.CREATED
    if event == "jira:issue_updated":
        return EventKind.UPDATED
    if event == "jira:issue_deleted":
        return EventKind.DELETED
    if event.startswith("comment_"):
        return EventKind.COMMENT
    return EventKind.OTHER


def event_time(payload: _Reader) -> datetime | None:
    """The payload's ``timestamp`` (epoch milliseconds) as a time; None when it has none.

    Raises PayloadError for a value that is not a time (a string, ``1e30``, negative).
    """
    stamp = payload.raw("timestamp")
    if stamp is None:
        return None
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        raise PayloadError(f"timestamp must be epoch milliseconds, not {_kind(stamp)}")
    if not 0 <= stamp <= _LAST_MILLISECOND:
        raise PayloadError(
            f"timestamp {stamp!r:.40} is not a time in epoch milliseconds (0 to year 9999)"
        )
    return _EPOCH + timedelta(milliseconds=stamp)


def _changes(changelog: _Reader) -> tuple[FieldChange, ...]:
    changes = []
    for item in changelog.objs("items"):
        name = item.text("fieldId", numbers=False) or item.text("field", numbers=False) or ""
        field = item.text("field", numbers=False) or ""
        canonical = _FIELD_ALIASES.get(name.lower(), _FIELD_ALIASES.get(field.lower(), name))
        changes.append(
            FieldChange(
                field=canonical,
                from_id=item.text("from", clip=True),
                from_string=item.text("fromString", clip=True),
                to_id=item.text("to", clip=True),
                to_string=item.text("toString", clip=True),
            )
        )
    return tuple(changes)


def parse_webhook(payload: Any) -> JiraEvent:
    """Normalise a Jira webhook body (already decoded JSON).

    Total: any input gives a :class:`JiraEvent` or raises :class:`PayloadError`
    saying what is missing or of the wrong type, never another exception.
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"webhook body must be a JSON object, not {_kind(payload)}")
    body = _Reader(payload, "")
    issue = body.obj("issue")
    comment = body.obj("comment")
    issue_id = issue.text("id", limit=20)
    if issue_id is None and not body.has("issue"):
        issue_id = _issue_of_comment(comment)
    if issue_id is None:
        raise PayloadError(
            "webhook body has no issue with an id (nor a comment whose self link names one)"
        )
    if not issue_id.isdigit():
        raise PayloadError(f"issue.id must be Jira's numeric issue id, not {issue_id[:40]!r}")
    when = event_time(body)
    fields = issue.obj("fields")
    changelog = body.obj("changelog")
    changes = _changes(changelog)
    webhook_event = body.text("webhookEvent", numbers=False, limit=100) or ""
    type_name = body.text("issue_event_type_name", numbers=False, limit=100) or ""
    kind = _kind_of_event(webhook_event)
    # "Assigned" events may come without a changelog; the payload then cannot be trusted.
    needs_fetch = kind is EventKind.UPDATED and not changes and type_name != "issue_commented"
    return JiraEvent(
        kind=kind,
        webhook_event=webhook_event,
        issue_id=issue_id,
        issue_key=issue.text("key", numbers=False, limit=255) or "",
        project_key=fields.obj("project").text("key", numbers=False),
        timestamp=when,
        changelog_id=changelog.text("id", limit=64),
        changes=changes,
        state=_state(fields),
        needs_fetch=needs_fetch,
        comment_id=comment.text("id", limit=64),
    )


def _issue_of_comment(comment: _Reader) -> str | None:
    """The issue id in a comment's ``self`` link, as Data Center comment events give it."""
    link = comment.text("self", numbers=False)
    match = _COMMENT_SELF.search(link) if link is not None else None
    return match.group(1) if match is not None else None


def decode_payload(body: bytes) -> Any:
    """The JSON of a webhook body, nested at most :data:`MAX_DEPTH` levels.

    Raises PayloadError for a body that is not UTF-8 JSON or is nested deeper.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"the body is not UTF-8 (byte {exc.start})") from exc
    try:
        payload = json.loads(text)
    except RecursionError as exc:
        raise PayloadError(f"the body is nested deeper than {MAX_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError, and numbers too long to convert
        raise PayloadError(f"the body is not JSON: {exc}") from exc
    _check_depth(payload)
    return payload


def _check_depth(payload: Any) -> None:
    # Iteratively: a recursive walk is what a deep payload would break.
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise PayloadError(f"the body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values() if isinstance(v, dict | list))
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value if isinstance(v, dict | list))


def parse_delivery(body: bytes) -> JiraEvent:
    """:func:`parse_webhook` of a raw body (see :func:`decode_payload`)."""
    return parse_webhook(decode_payload(body))


def age_problem(event: JiraEvent, now: datetime, max_age: timedelta) -> str | None:
    """Why a delivery signed at ``event.timestamp`` is refused as a replay, or None.

    Older than ``max_age``, or as far in the future (a clock that far off is not
    Jira's). A delivery without a timestamp is not judged here.
    """
    when: datetime | None = event.timestamp
    if when is None:
        return None
    age = now - when
    window = int(max_age.total_seconds())
    if age > max_age:
        return (
            f"the delivery's timestamp ({when:%Y-%m-%d %H:%M:%S} UTC) is "
            f"{_duration(age)} old; deliveries older than {_duration(max_age)} are refused as "
            f"replays (http.webhook_max_age_seconds = {window})"
        )
    if -age > max_age:
        return (
            f"the delivery's timestamp ({when:%Y-%m-%d %H:%M:%S} UTC) is {_duration(-age)} "
            f"ahead of this server's clock; check the clocks (http.webhook_max_age_seconds = "
            f"{window})"
        )
    return None


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}".replace(".0 ", " ")
    return f"{seconds} s"


def delivery_key(event: JiraEvent, identifier: str | None, body: bytes = b"") -> str:
    """The id a delivery is de-duplicated on.

    Jira Cloud's ``X-Atlassian-Webhook-Identifier`` when sent; otherwise the issue id
    with the changelog id (or event and timestamp). A comment event (one comment
    is edited many times) or a delivery without a timestamp goes by the issue id
    and the SHA-256 of its ``body``: Jira redelivers the same bytes.
    """
    if identifier:
        key = f"atl:{identifier}"
    elif event.timestamp is None or event.kind is EventKind.COMMENT:
        key = f"{event.issue_id}:body:{hashlib.sha256(body).hexdigest()}"
    else:
        detail = event.changelog_id or str(int(event.timestamp.timestamp() * 1000))
        key = f"{event.issue_id}:{event.webhook_event}:{detail}"
    if len(key) <= MAX_DELIVERY_KEY and key.isprintable() and key.isascii():
        return key
    # The header is not signed: whatever it holds, the key must fit the store.
    return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
