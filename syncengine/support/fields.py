"""The Jira ``fields`` of a support request's issue (pure; no I/O).

Summary, description, labels (the chosen label and the request's identity
label), the configured issue type, and the category / API product / endpoint
in their configured custom fields, each left out when its field id is not set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from syncengine.store.support import SupportRequestRecord

__all__ = ["SupportFieldConfig", "adf_document", "build_fields", "jira_label", "wiki_escape"]

_WIKI_SPECIAL = re.compile(r"([\\{}\[\]|*_^~+?!#-])")
_LINE_START = re.compile(r"^(h[1-6]\.|bq\.)", re.MULTILINE)


@dataclass(frozen=True, kw_only=True, slots=True)
class SupportFieldConfig:
    """Where a project's support requests go in Jira."""

    project_key: str
    issue_type: str
    api_version: Literal[2, 3] = 2
    category_field: str = ""
    api_product_field: str = ""
    endpoint_field: str = ""
    public_url: str = ""
    project_slug: str = ""


def jira_label(label: str) -> str:
    """A portal label as a Jira label (Jira labels cannot contain spaces)."""
    return re.sub(r"\s+", "-", label.strip())


def wiki_escape(text: str) -> str:
    """Plain text that Jira wiki markup (REST v2) shows as typed, not as markup."""
    return _LINE_START.sub(r"\\\1", _WIKI_SPECIAL.sub(r"\\\1", text))


def adf_document(text: str) -> dict[str, Any]:
    """Plain text as a minimal ADF document: one paragraph per blank-line-separated block."""
    content: list[dict[str, Any]] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        nodes: list[dict[str, Any]] = []
        for i, line in enumerate(block.split("\n")):
            if i:
                nodes.append({"type": "hardBreak"})
            if line:
                nodes.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": nodes})
    return {"type": "doc", "version": 1, "content": content}


def _footer(request: SupportRequestRecord, config: SupportFieldConfig) -> str:
    where = f"support request #{request.id}"
    if config.public_url and config.project_slug:
        where += f" ({config.public_url}/projects/{config.project_slug}/support/{request.id})"
    return f"Filed by {request.reporter} through the syncengine support portal, {where}."


def build_fields(request: SupportRequestRecord, config: SupportFieldConfig) -> dict[str, Any]:
    """The ``fields`` object of the create-issue call for ``request``."""
    footer = _footer(request, config)
    description: Any
    if config.api_version == 3:
        description = adf_document(f"{request.description}\n\n{footer}")
    else:
        description = f"{wiki_escape(request.description)}\n\n----\n{wiki_escape(footer)}"
    fields: dict[str, Any] = {
        "project": {"key": config.project_key},
        "issuetype": {"name": config.issue_type},
        "summary": request.summary,
        "description": description,
        "labels": [jira_label(request.label), request.identity_label],
    }
    for field_id, value in (
        (config.category_field, request.category),
        (config.api_product_field, request.api_product),
        (config.endpoint_field, request.endpoint),
    ):
        if field_id and value:
            fields[field_id] = value
    return fields
