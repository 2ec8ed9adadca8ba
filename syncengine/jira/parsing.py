"""Jira's JSON answers → the values of :mod:`syncengine.jira.models`.

Parsers are lenient about what Jira leaves out (recorded answers often omit ids
or categories) and strict about shape: a list where an object must be raises
:class:`~syncengine.jira.errors.JiraUnexpectedResponse`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from syncengine.jira.errors import JiraUnexpectedResponse
from syncengine.jira.models import (
    BulkCreateFailure,
    BulkCreateResult,
    CreatedIssue,
    FieldMeta,
    IssueTypeMeta,
    JiraAttachment,
    JiraComment,
    JiraIssue,
    JiraProject,
    JiraStatus,
    JiraTransition,
    JiraUser,
    JiraVersion,
    RemoteLink,
    SearchPage,
    ServerInfo,
    StatusCategory,
)

__all__ = [
    "adf_text",
    "parse_attachments",
    "parse_bulk_create",
    "parse_comment",
    "parse_comments",
    "parse_created",
    "parse_createmeta_fields",
    "parse_createmeta_issue_types",
    "parse_datetime",
    "parse_issue",
    "parse_project",
    "parse_project_statuses",
    "parse_remote_links",
    "parse_search_cloud",
    "parse_search_datacenter",
    "parse_server_info",
    "parse_status",
    "parse_status_categories",
    "parse_statuses",
    "parse_transitions",
    "parse_user",
    "parse_users",
    "parse_versions",
]


def _obj(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise JiraUnexpectedResponse(
            f"Jira answered {what} with {type(data).__name__}, not an object"
        )
    return data


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise JiraUnexpectedResponse(f"Jira answered {what} with {type(data).__name__}, not a list")
    return data


def _str(value: Any) -> str | None:
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


def parse_server_info(data: Any) -> ServerInfo:
    """``GET /serverInfo``."""
    body = _obj(data, "serverInfo")
    return ServerInfo(
        base_url=str(body.get("baseUrl", "")),
        version=str(body.get("version", "")),
        deployment_type=str(body.get("deploymentType") or "Server"),
        server_title=str(body.get("serverTitle", "")),
    )


def parse_user(data: Any) -> JiraUser:
    """A user object (``/myself``, assignee, author, user search)."""
    body = _obj(data, "a user")
    return JiraUser(
        account_id=_str(body.get("accountId")),
        name=_str(body.get("name")),
        key=_str(body.get("key")),
        email=_str(body.get("emailAddress")),
        display_name=str(body.get("displayName") or ""),
        active=bool(body.get("active", True)),
    )


def parse_users(data: Any) -> tuple[JiraUser, ...]:
    """A user search answer (a list of users)."""
    return tuple(parse_user(u) for u in _list(data, "a user search"))


def parse_status(data: Any) -> JiraStatus:
    """A status object, with its category when Jira included it."""
    body = _obj(data, "a status")
    category = body.get("statusCategory")
    return JiraStatus(
        id=_str(body.get("id")),
        name=str(body.get("name", "")),
        category_key=_str(category.get("key")) if isinstance(category, dict) else None,
    )


def _names(values: Any) -> tuple[str, ...]:
    if not isinstance(values, list):
        return ()
    return tuple(str(v["name"]) for v in values if isinstance(v, dict) and "name" in v)


def parse_issue(data: Any) -> JiraIssue:
    """An issue (``GET /issue/{key}``, search results)."""
    body = _obj(data, "an issue")
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
        resolution=_str(resolution.get("name")) if isinstance(resolution, dict) else None,
        fix_versions=_names(fields.get("fixVersions")),
        labels=tuple(str(x) for x in labels) if isinstance(labels, list) else (),
        issue_type=_str(issue_type.get("name")) if isinstance(issue_type, dict) else None,
        project_key=_str(project.get("key")) if isinstance(project, dict) else None,
        created=parse_datetime(fields.get("created")),
        updated=parse_datetime(fields.get("updated")),
        fields=fields,
        properties=dict(body.get("properties") or {}),
    )


def parse_search_cloud(data: Any) -> SearchPage:
    """``/search/jql``: ``issues`` and ``nextPageToken`` (absent or ``isLast`` on the last page)."""
    body = _obj(data, "a search")
    token = body.get("nextPageToken")
    last = bool(body.get("isLast", token is None))
    return SearchPage(
        issues=tuple(parse_issue(i) for i in _list(body.get("issues", []), "search issues")),
        next_cursor=None if last or not token else str(token),
    )


def parse_search_datacenter(data: Any) -> SearchPage:
    """``/search`` (Data Center): ``startAt``, ``maxResults``, ``total``."""
    body = _obj(data, "a search")
    issues = tuple(parse_issue(i) for i in _list(body.get("issues", []), "search issues"))
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
    body = _obj(data, "a create")
    if "id" not in body or "key" not in body:
        raise JiraUnexpectedResponse("Jira answered a create without the issue's id and key")
    return CreatedIssue(id=str(body["id"]), key=str(body["key"]))


def parse_bulk_create(data: Any, *, offset: int = 0, count: int | None = None) -> BulkCreateResult:
    """``POST /issue/bulk``: created ``issues`` (in input order, failures skipped) and ``errors``.

    ``offset`` shifts ``failedElementNumber`` to the caller's indices when the input
    was sent in chunks; ``count`` is the chunk's size.
    """
    body = _obj(data, "a bulk create")
    failures: list[BulkCreateFailure] = []
    for item in _list(body.get("errors", []), "bulk create errors"):
        entry = _obj(item, "a bulk create error")
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
    created_list = [parse_created(i) for i in _list(body.get("issues", []), "bulk created issues")]
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
    body = _obj(data, "transitions")
    result = []
    for item in _list(body.get("transitions", []), "transitions"):
        entry = _obj(item, "a transition")
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
    body = _obj(data, "a comment")
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
    body = _obj(data, "comments")
    comments = tuple(parse_comment(c) for c in _list(body.get("comments", []), "comments"))
    total = body.get("total")
    return comments, int(total) if total is not None else None


def _issue_type(data: Any) -> IssueTypeMeta:
    body = _obj(data, "an issue type")
    return IssueTypeMeta(
        id=str(body.get("id", "")),
        name=str(body.get("name", "")),
        subtask=bool(body.get("subtask")),
    )


def _page_values(body: Mapping[str, Any], *keys: str) -> list[Any]:
    for key in keys:
        if key in body:
            return _list(body[key], key)
    return []


def parse_createmeta_issue_types(data: Any) -> tuple[tuple[IssueTypeMeta, ...], bool]:
    """One page of ``/issue/createmeta/{project}/issuetypes`` and whether it is the last."""
    body = _obj(data, "createmeta issue types")
    values = _page_values(body, "issueTypes", "values", "createMetaIssueType")
    return tuple(_issue_type(v) for v in values), _is_last(body, len(values))


def _is_last(body: Mapping[str, Any], count: int) -> bool:
    if "isLast" in body:
        return bool(body["isLast"])
    total = body.get("total")
    if total is None:
        return True
    return int(body.get("startAt", 0)) + count >= int(total) or count == 0


def parse_createmeta_fields(data: Any) -> tuple[tuple[FieldMeta, ...], bool]:
    """One page of ``/issue/createmeta/{project}/issuetypes/{id}`` and whether it is the last."""
    body = _obj(data, "createmeta fields")
    values = _page_values(body, "fields", "results", "values")
    metas = []
    for item in values:
        entry = _obj(item, "a createmeta field")
        schema = entry.get("schema") or {}
        metas.append(
            FieldMeta(
                field_id=str(entry.get("fieldId") or entry.get("key", "")),
                name=str(entry.get("name", "")),
                required=bool(entry.get("required")),
                schema_type=str(schema.get("type", "")),
                items=str(schema.get("items", "")),
                custom=str(schema.get("custom", "")),
                has_default_value=bool(entry.get("hasDefaultValue")),
                allowed_values=tuple(entry.get("allowedValues") or ()),
                operations=tuple(str(o) for o in entry.get("operations") or ()),
            )
        )
    return tuple(metas), _is_last(body, len(values))


def parse_project(data: Any) -> JiraProject:
    """``GET /project/{key}``."""
    body = _obj(data, "a project")
    return JiraProject(
        id=str(body.get("id", "")),
        key=str(body.get("key", "")),
        name=str(body.get("name", "")),
        issue_types=tuple(_issue_type(t) for t in body.get("issueTypes") or ()),
    )


def parse_issue_types(data: Any) -> tuple[IssueTypeMeta, ...]:
    """A list of issue types (``/issuetype/project``)."""
    return tuple(_issue_type(t) for t in _list(data, "issue types"))


def parse_versions(data: Any) -> tuple[JiraVersion, ...]:
    """``GET /project/{key}/versions``."""
    result = []
    for item in _list(data, "versions"):
        entry = _obj(item, "a version")
        result.append(
            JiraVersion(
                id=str(entry.get("id", "")),
                name=str(entry.get("name", "")),
                released=bool(entry.get("released")),
                archived=bool(entry.get("archived")),
                release_date=_str(entry.get("releaseDate")),
            )
        )
    return tuple(result)


def parse_statuses(data: Any) -> tuple[JiraStatus, ...]:
    """``GET /status``."""
    return tuple(parse_status(s) for s in _list(data, "statuses"))


def parse_project_statuses(data: Any) -> dict[str, tuple[JiraStatus, ...]]:
    """``GET /project/{key}/statuses``: issue type name → its statuses."""
    return {
        str(_obj(t, "an issue type")["name"]): tuple(parse_status(s) for s in t.get("statuses", []))
        for t in _list(data, "project statuses")
    }


def parse_status_categories(data: Any) -> tuple[StatusCategory, ...]:
    """``GET /statuscategory``."""
    result = []
    for item in _list(data, "status categories"):
        entry = _obj(item, "a status category")
        raw_id = entry.get("id")
        result.append(
            StatusCategory(
                id=int(raw_id) if raw_id is not None else None,
                key=str(entry.get("key", "")),
                name=str(entry.get("name", "")),
            )
        )
    return tuple(result)


def parse_remote_links(data: Any) -> tuple[RemoteLink, ...]:
    """``GET /issue/{key}/remotelink``."""
    result = []
    for item in _list(data, "remote links"):
        entry = _obj(item, "a remote link")
        target = entry.get("object") or {}
        result.append(
            RemoteLink(
                id=int(entry.get("id", 0)),
                url=str(target.get("url", "")),
                title=str(target.get("title", "")),
                global_id=_str(entry.get("globalId")),
            )
        )
    return tuple(result)


def parse_attachments(data: Any) -> tuple[JiraAttachment, ...]:
    """``POST /issue/{key}/attachments``: the stored attachments."""
    return tuple(
        JiraAttachment(
            id=str(_obj(a, "an attachment").get("id", "")),
            filename=str(a.get("filename", "")),
            size=int(a.get("size", 0)),
            mime_type=str(a.get("mimeType", "")),
        )
        for a in _list(data, "attachments")
    )
