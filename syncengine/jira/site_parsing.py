"""Jira's answers about the site (server, projects, create screens, versions, statuses) →
the values of :mod:`syncengine.jira.models`. Same rules as :mod:`syncengine.jira.parsing`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from syncengine.jira.models import (
    FieldMeta,
    IssueTypeMeta,
    JiraProject,
    JiraStatus,
    JiraUser,
    JiraVersion,
    ServerInfo,
    StatusCategory,
)
from syncengine.jira.parsing import as_list, as_object, optional_str, parse_status, parse_user

__all__ = [
    "parse_createmeta_fields",
    "parse_createmeta_issue_types",
    "parse_issue_types",
    "parse_project",
    "parse_project_statuses",
    "parse_server_info",
    "parse_status_categories",
    "parse_statuses",
    "parse_users",
    "parse_versions",
]


def parse_server_info(data: Any) -> ServerInfo:
    """``GET /serverInfo``."""
    body = as_object(data, "serverInfo")
    return ServerInfo(
        base_url=str(body.get("baseUrl", "")),
        version=str(body.get("version", "")),
        deployment_type=str(body.get("deploymentType") or "Server"),
        server_title=str(body.get("serverTitle", "")),
    )


def parse_users(data: Any) -> tuple[JiraUser, ...]:
    """A user search answer (a list of users)."""
    return tuple(parse_user(u) for u in as_list(data, "a user search"))


def _issue_type(data: Any) -> IssueTypeMeta:
    body = as_object(data, "an issue type")
    return IssueTypeMeta(
        id=str(body.get("id", "")),
        name=str(body.get("name", "")),
        subtask=bool(body.get("subtask")),
    )


def _page_values(body: Mapping[str, Any], *keys: str) -> list[Any]:
    for key in keys:
        if key in body:
            return as_list(body[key], key)
    return []


def parse_createmeta_issue_types(data: Any) -> tuple[tuple[IssueTypeMeta, ...], bool]:
    """One page of ``/issue/createmeta/{project}/issuetypes`` and whether it is the last."""
    body = as_object(data, "createmeta issue types")
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
    body = as_object(data, "createmeta fields")
    values = _page_values(body, "fields", "results", "values")
    metas = []
    for item in values:
        entry = as_object(item, "a createmeta field")
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
    body = as_object(data, "a project")
    return JiraProject(
        id=str(body.get("id", "")),
        key=str(body.get("key", "")),
        name=str(body.get("name", "")),
        issue_types=tuple(_issue_type(t) for t in body.get("issueTypes") or ()),
    )


def parse_issue_types(data: Any) -> tuple[IssueTypeMeta, ...]:
    """A list of issue types (``/issuetype/project``)."""
    return tuple(_issue_type(t) for t in as_list(data, "issue types"))


def parse_versions(data: Any) -> tuple[JiraVersion, ...]:
    """``GET /project/{key}/versions``."""
    result = []
    for item in as_list(data, "versions"):
        entry = as_object(item, "a version")
        result.append(
            JiraVersion(
                id=str(entry.get("id", "")),
                name=str(entry.get("name", "")),
                released=bool(entry.get("released")),
                archived=bool(entry.get("archived")),
                release_date=optional_str(entry.get("releaseDate")),
            )
        )
    return tuple(result)


def parse_statuses(data: Any) -> tuple[JiraStatus, ...]:
    """``GET /status``."""
    return tuple(parse_status(s) for s in as_list(data, "statuses"))


def parse_project_statuses(data: Any) -> dict[str, tuple[JiraStatus, ...]]:
    """``GET /project/{key}/statuses``: issue type name → its statuses."""
    return {
        str(as_object(t, "an issue type")["name"]): tuple(
            parse_status(s) for s in t.get("statuses", [])
        )
        for t in as_list(data, "project statuses")
    }


def parse_status_categories(data: Any) -> tuple[StatusCategory, ...]:
    """``GET /statuscategory``."""
    result = []
    for item in as_list(data, "status categories"):
        entry = as_object(item, "a status category")
        raw_id = entry.get("id")
        result.append(
            StatusCategory(
                id=int(raw_id) if raw_id is not None else None,
                key=str(entry.get("key", "")),
                name=str(entry.get("name", "")),
            )
        )
    return tuple(result)
