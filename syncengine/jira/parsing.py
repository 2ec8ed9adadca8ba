"""Jira's JSON answers → the values of :mod:`syncengine.jira.models`.

Parsers are lenient about what Jira leaves out (recorded answers often omit ids
or categories) and strict about shape: a list where an object must be raises
:class:`~syncengine.jira.errors.JiraUnexpectedResponse`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from syncengine.jira.errors import JiraUnexpectedResponse
from syncengine.jira.models import (
    BulkCreateFailure,
    BulkCreateResult,
    CreatedIssue,
    JiraAttachment,
    JiraComment,
    JiraIssue,
    JiraStatus,
    JiraTransition,
    JiraUser,
    RemoteLink,
    SearchPage,
)

__all__ = [
    "adf_text",
    "as_list",
    "as_object",
    "optional_str",
    "parse_attachments",
    "parse_bulk_create",
    "parse_comment",
    "parse_comments",
    "parse_created",
    "parse_datetime",
    "parse_issue",
    "parse_remote_links",
    "parse_search_cloud",
    "parse_search_datacenter",
    "parse_status",
    "parse_transitions",
    "parse_user",
]


def as_object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise JiraUnexpectedResponse(
            f"Jira answered {what} with {type(data).__name__}, not an object"
        )
    return data


def as_list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise JiraUnexpectedResponse(f"Jira answered {what} with {type(data).__name__}, not a list")
    return data


def optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_datetime(value: Any) -> datetime | None:
    """Jira's ``2020-12-03T14:05:20.974+0100`` as an aware datetime (None when absent)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise JiraUnexpectedResponse(f"Jira sent an unreadable date {value!r}") from exc
    if parsed.tzinfo is None:
        raise JiraUnexpectedResponse(f"Jira sent a date without a time zone: {value!r}")
    return parsed


def parse_user(data: Any) -> JiraUser:
    """A user object (``/myself``, assignee, author, user search)."""
    body = as_object(data, "a user")
    return JiraUser(
        account_id=optional_str(body.get("accountId")),
        name=optional_str(body.get("name")),
        key=optional_str(body.get("key")),
        email=optional_str(body.get("emailAddress")),
        display_name=str(body.get("displayName") or ""),
        active=bool(body.get("active", True)),
    )


def parse_status(data: Any) -> JiraStatus:
    """A status object, with its category when Jira included it."""
    body = as_object(data, "a status")
    category = body.get("statusCategory")
    return JiraStatus(
        id=optional_str(body.get("id")),
        name=str(body.get("name", "")),
        category_key=optional_str(category.get("key")) if isinstance(category, dict) else None,
    )


def _names(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(str(v["name"]) for v in values if isinstance(v, dict) and "name" in v)


def parse_issue(data: Any) -> JiraIssue:
    """An issue (``GET /issue/{key}``, search results)."""
    body = as_object(data, "an issue")
    fields = body.get("fields") or {}
    if not isinstance(fields, dict):
        raise JiraUnexpectedResponse("Jira sent an issue whose fields are not an object")
    status = fields.get("status")
    assignee = fields.get("assignee")
    resolution = fields.get("resolution")
    issue_type = fields.get("issuetype")
    project = fields.get("project")
    labels = fields.get("labels")
    return JiraIssue(
        id=str(body.get("id", "")),
        key=str(body.get("key", "")),
        summary=str(fields.get("summary") or ""),
        status=parse_status(status) if isinstance(status, dict) else None,
        assignee=parse_user(assignee) if isinstance(assignee, dict) else None,
        resolution=optional_str(resolution.get("name")) if isinstance(resolution, dict) else None,
        fix_versions=_names(fields.get("fixVersions")),
        labels=tuple(str(x) for x in labels) if isinstance(labels, list) else (),
        issue_type=optional_str(issue_type.get("name")) if isinstance(issue_type, dict) else None,
        project_key=optional_str(project.get("key")) if isinstance(project, dict) else None,
        created=parse_datetime(fields.get("created")),
        updated=parse_datetime(fields.get("updated")),
        fields=fields,
        properties=dict(body.get("properties") or {}),
    )


def parse_search_cloud(data: Any) -> SearchPage:
    """``/search/jql``: ``issues`` and ``nextPageToken`` (absent or ``isLast`` on the last page)."""
    body = as_object(data, "a search")
    token = body.get("nextPageToken")
    last = bool(body.get("isLast", token is None))
    return SearchPage(
        issues=tuple(parse_issue(i) for i in as_list(body.get("issues", []), "search issues")),
        next_cursor=None if last or not token else str(token),
    )


def parse_search_datacenter(data: Any) -> SearchPage:
    """``/search`` (Data Center): ``startAt``, ``maxResults``, ``total``."""
    body = as_object(data, "a search")
    issues = tuple(parse_issue(i) for i in as_list(body.get("issues", []), "search issues"))
    start = int(body.get("startAt", 0))
    total = body.get("total")
    following = start + len(issues)
    more = bool(issues) and (following < int(total) if total is not None else False)
    return SearchPage(
        issues=issues,
        next_cursor=str(following) if more else None,
        total=int(total) if total is not None else None,
    )


def parse_created(data: Any) -> CreatedIssue:
    """``POST /issue``: ``{"id", "key", "self"}``."""
    body = as_object(data, "a create")
    if "id" not in body or "key" not in body:
        raise JiraUnexpectedResponse("Jira answered a create without the issue's id and key")
    return CreatedIssue(id=str(body["id"]), key=str(body["key"]))


def parse_bulk_create(data: Any, *, offset: int = 0, count: int | None = None) -> BulkCreateResult:
    """``POST /issue/bulk``: created ``issues`` (in input order, failures skipped) and ``errors``.

    ``offset`` shifts ``failedElementNumber`` to the caller's indices when the input
    was sent in chunks; ``count`` is the chunk's size.
    """
    body = as_object(data, "a bulk create")
    failures: list[BulkCreateFailure] = []
    for item in as_list(body.get("errors", []), "bulk create errors"):
        entry = as_object(item, "a bulk create error")
        element = entry.get("elementErrors") or {}
        errors = element.get("errors") if isinstance(element, dict) else None
        failures.append(
            BulkCreateFailure(
                index=offset + int(entry.get("failedElementNumber", -1)),
                status=int(entry.get("status", 400)),
                messages=tuple(str(m) for m in (element.get("errorMessages") or [])),
                field_errors={str(k): str(v) for k, v in (errors or {}).items()},
            )
        )
    failed = {f.index for f in failures}
    created_list = [
        parse_created(i) for i in as_list(body.get("issues", []), "bulk created issues")
    ]
    size = count if count is not None else len(created_list) + len(failures)
    indices = [offset + n for n in range(size) if offset + n not in failed]
    if len(indices) != len(created_list):
        raise JiraUnexpectedResponse(
            f"Jira's bulk create answered {len(created_list)} issues and {len(failures)} errors "
            f"for {size} requests"
        )
    return BulkCreateResult(
        created=dict(zip(indices, created_list, strict=True)), failed=tuple(failures)
    )


def parse_transitions(data: Any) -> tuple[JiraTransition, ...]:
    """``GET /issue/{key}/transitions`` (with ``expand=transitions.fields``)."""
    body = as_object(data, "transitions")
    result = []
    for item in as_list(body.get("transitions", []), "transitions"):
        entry = as_object(item, "a transition")
        fields = entry.get("fields") or {}
        to = entry.get("to")
        result.append(
            JiraTransition(
                id=str(entry.get("id", "")),
                name=str(entry.get("name", "")),
                to_status=parse_status(to) if isinstance(to, dict) else None,
                required_fields=tuple(
                    k for k, v in fields.items() if isinstance(v, dict) and v.get("required")
                ),
                fields=fields,
                available=bool(entry.get("isAvailable", True)),
            )
        )
    return tuple(result)


def _adf_walk(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if node.get("type") == "text":
            yield str(node.get("text", ""))
        elif node.get("type") == "hardBreak":
            yield "\n"
        for child in node.get("content") or []:
            yield from _adf_walk(child)
        if node.get("type") in {"paragraph", "heading", "codeBlock", "listItem"}:
            yield "\n"
    elif isinstance(node, list):
        for child in node:
            yield from _adf_walk(child)


def adf_text(body: Any) -> str:
    """The plain text of an ADF document, or ``body`` itself when it is a string."""
    if isinstance(body, str):
        return body
    return "".join(_adf_walk(body)).strip()


def parse_comment(data: Any) -> JiraComment:
    """A comment (string body on v2, ADF on v3)."""
    body = as_object(data, "a comment")
    raw = body.get("body", "")
    author = body.get("author")
    return JiraComment(
        id=str(body.get("id", "")),
        body=raw if isinstance(raw, str | dict) else str(raw),
        text=adf_text(raw),
        author=parse_user(author) if isinstance(author, dict) else None,
        created=parse_datetime(body.get("created")),
        updated=parse_datetime(body.get("updated")),
    )


def parse_comments(data: Any) -> tuple[tuple[JiraComment, ...], int | None]:
    """``GET /issue/{key}/comment``: the comments of this page and the total."""
    body = as_object(data, "comments")
    comments = tuple(parse_comment(c) for c in as_list(body.get("comments", []), "comments"))
    total = body.get("total")
    return comments, int(total) if total is not None else None


def parse_remote_links(data: Any) -> tuple[RemoteLink, ...]:
    """``GET /issue/{key}/remotelink``."""
    result = []
    for item in as_list(data, "remote links"):
        entry = as_object(item, "a remote link")
        target = entry.get("object") or {}
        result.append(
            RemoteLink(
                id=int(entry.get("id", 0)),
                url=str(target.get("url", "")),
                title=str(target.get("title", "")),
                global_id=optional_str(entry.get("globalId")),
            )
        )
    return tuple(result)


def parse_attachments(data: Any) -> tuple[JiraAttachment, ...]:
    """``POST /issue/{key}/attachments``: the stored attachments."""
    return tuple(
        JiraAttachment(
            id=str(as_object(a, "an attachment").get("id", "")),
            filename=str(a.get("filename", "")),
            size=int(a.get("size", 0)),
            mime_type=str(a.get("mimeType", "")),
        )
        for a in as_list(data, "attachments")
    )
