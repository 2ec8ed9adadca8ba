"""The Jira ``fields`` of a support request's issue (pure; no I/O).

Summary, description, labels (the chosen label and the request's identity
label), the configured issue type, and the category / API product / endpoint
in their configured custom fields, each left out when its field id is not set.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from syncengine.domain.adf import render_adf, text_document
from syncengine.domain.richtext import Break, Document, Paragraph, Rule, Span, clean_text
from syncengine.domain.wiki import escape_text, render_wiki
from syncengine.store.support import SupportRequestRecord

__all__ = [
    "JIRA_TEXT_LIMIT",
    "SupportFieldConfig",
    "build_fields",
    "comment_body",
    "comment_length",
    "description_document",
    "description_length",
    "jira_label",
    "jira_length",
]

JIRA_TEXT_LIMIT = 32_767  # characters of a text field or comment, as Jira stores them


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
    # Dashboard user → e-mail, so the support team sees whom to answer.
    reporter_emails: Mapping[str, str] = field(default_factory=dict)


def jira_label(label: str) -> str:
    """A portal label as a Jira label (Jira labels cannot contain spaces)."""
    return re.sub(r"\s+", "-", label.strip())


def _paragraph(text: str) -> Paragraph:
    content: list[Span | Break] = []
    for i, line in enumerate(text.split("\n")):
        if i:
            content.append(Break())
        if line:
            content.append(Span(text=line))
    return Paragraph(content=tuple(content))


def description_document(request: SupportRequestRecord, config: SupportFieldConfig) -> Document:
    """The description as rich-text blocks: the user's text as typed, then who filed it.

    The user's text is only ever text (never markup) in both Jira formats.
    """
    return _description(request.description, request.reporter, request.id, config)


def description_length(description: str, reporter: str, config: SupportFieldConfig) -> int:
    """The characters a request's description takes in Jira once formatted (as wiki markup
    or an ADF document, with its footer; for the largest request number), which Jira
    holds to :data:`JIRA_TEXT_LIMIT`: escapes and ADF's nodes can make it much longer
    than the text typed."""
    document = _description(description, reporter, 10**12, config)
    return jira_length(render_adf(document) if config.api_version == 3 else render_wiki(document))


def comment_body(heading: str, text: str, api_version: int) -> str:
    """A portal reply's comment: wiki markup escaped on REST v2, plain text on v3 (the
    client wraps it as an ADF document)."""
    if api_version == 3:
        return f"{heading}\n\n{text}"
    return escape_text(heading, line_start=True) + "\n\n" + escape_text(text, line_start=True)


def comment_length(heading: str, text: str, api_version: int) -> int:
    """The characters a reply's comment takes in Jira (see :func:`description_length`)."""
    body = comment_body(heading, text, api_version)
    return jira_length(text_document(body) if api_version == 3 else body)


def jira_length(value: Any) -> int:
    """The characters ``value`` takes in Jira's store (an ADF document as compact JSON)."""
    if isinstance(value, str):
        return len(value)
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def _description(
    description: str, reporter_name: str, request_id: int, config: SupportFieldConfig
) -> Document:
    parts = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", clean_text(description))]
    blocks: list[Paragraph | Rule] = [_paragraph(p) for p in parts if p.strip()]
    email = config.reporter_emails.get(reporter_name)
    reporter = f"{reporter_name} ({email})" if email else reporter_name
    footer: list[Span | Break] = [
        Span(text=f"Filed by {reporter} through the syncengine support portal: ")
    ]
    if config.public_url and config.project_slug:
        url = f"{config.public_url}/projects/{config.project_slug}/support/{request_id}"
        footer.append(Span(text=f"request #{request_id}", href=url))
    else:
        footer.append(Span(text=f"request #{request_id}"))
    blocks += [Rule(), Paragraph(content=tuple(footer))]
    return Document(blocks=tuple(blocks))


def build_fields(request: SupportRequestRecord, config: SupportFieldConfig) -> dict[str, Any]:
    """The ``fields`` object of the create-issue call for ``request``."""
    document = description_document(request, config)
    description = render_adf(document) if config.api_version == 3 else render_wiki(document)
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
