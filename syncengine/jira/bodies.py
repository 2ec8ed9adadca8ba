"""Request bodies the client sends: rich text per REST version, issue and link payloads."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from syncengine.domain.adf import text_document
from syncengine.jira.config import ApiVersion
from syncengine.jira.models import Flavour

__all__ = [
    "RICH_TEXT_FIELDS",
    "NewIssue",
    "RichText",
    "issue_body",
    "remote_link_body",
    "rich_text",
]

RichText = str | Mapping[str, Any]
"""Wiki-markup text (v2), or an ADF document (v3; a string is wrapped into one)."""

RICH_TEXT_FIELDS = frozenset({"description", "environment"})
"""System fields that take rich text: a string here becomes ADF on v3."""


@dataclass(frozen=True, kw_only=True)
class NewIssue:
    """An issue to create: its ``fields`` and the entity ``properties`` to set with it."""

    fields: Mapping[str, Any]
    properties: Mapping[str, Any] = field(default_factory=dict)
    update: Mapping[str, Any] = field(default_factory=dict)


def _is_adf(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("type") == "doc"


def rich_text(value: RichText, api_version: ApiVersion, *, what: str = "text") -> Any:
    """``value`` in the form REST ``api_version`` takes.

    Raises:
        ValueError: an ADF document for v2, or a mapping that is not an ADF document.
    """
    if isinstance(value, str):
        return text_document(value) if api_version == 3 else value
    if not _is_adf(value):
        raise ValueError(f"{what}: expected a string or an ADF document ({{'type': 'doc', ...}})")
    if api_version == 2:
        raise ValueError(
            f"{what}: REST v2 takes wiki-markup strings; an ADF document needs api_version = 3"
        )
    return dict(value)


def _fields(fields: Mapping[str, Any], api_version: ApiVersion) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in fields.items():
        if name in RICH_TEXT_FIELDS and isinstance(value, str | Mapping) and value is not None:
            result[name] = rich_text(value, api_version, what=f"field {name}")
        elif _is_adf(value) and api_version == 2:
            raise ValueError(
                f"field {name}: REST v2 takes wiki-markup strings; an ADF document needs "
                "api_version = 3"
            )
        else:
            result[name] = value
    return result


def issue_body(
    api_version: ApiVersion,
    *,
    fields: Mapping[str, Any] | None = None,
    update: Mapping[str, Any] | None = None,
    properties: Mapping[str, Any] | None = None,
    transition_id: str | None = None,
    flavour: Flavour = "cloud",
) -> dict[str, Any]:
    """An ``IssueUpdateDetails`` body (create, edit, transition).

    Entity ``properties`` go as JSON values on Cloud and as JSON *text* on Data
    Center, whose ``EntityPropertyBean.value`` is a string (its 10.3 spec and its
    source agree; an object there fails to deserialize).
    """
    body: dict[str, Any] = {}
    if transition_id is not None:
        body["transition"] = {"id": str(transition_id)}
    if fields:
        body["fields"] = _fields(fields, api_version)
    if update:
        body["update"] = dict(update)
    if properties:
        body["properties"] = [
            {"key": k, "value": v if flavour == "cloud" else json.dumps(v, separators=(",", ":"))}
            for k, v in properties.items()
        ]
    return body


def bulk_body(
    api_version: ApiVersion, issues: Sequence[NewIssue], *, flavour: Flavour = "cloud"
) -> dict[str, Any]:
    """An ``IssuesUpdateBean`` body for ``/issue/bulk``."""
    return {
        "issueUpdates": [
            issue_body(
                api_version,
                fields=i.fields,
                update=i.update,
                properties=i.properties,
                flavour=flavour,
            )
            for i in issues
        ]
    }


def remote_link_body(
    *, url: str, title: str, global_id: str | None = None, summary: str | None = None
) -> dict[str, Any]:
    """A ``RemoteIssueLinkRequest``; with ``global_id`` Jira updates instead of duplicating."""
    target: dict[str, Any] = {"url": url, "title": title}
    if summary:
        target["summary"] = summary
    body: dict[str, Any] = {"object": target}
    if global_id:
        body["globalId"] = global_id
    return body
