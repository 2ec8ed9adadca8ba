"""The ``fields`` of a Jira create request for an error group, and the problems in building them.

:func:`build_fields` follows the configuration (:class:`TicketTemplate`) the way
Backtrace's Jira integration does, and better: project, summary (one line,
≤ 255 characters), issue type, labels (plus the group's identity label),
the description (wiki markup on REST v2, ADF on v3) in the configured
description field, and the custom fields, each coerced by its createmeta schema.
Custom fields come last, so a custom field named ``labels`` or ``description``
overrides the built-in value (Backtrace's override rule).

Nothing here raises for bad configuration: problems come back as
:class:`FieldProblem` values beside the fields (a field that cannot be filled is
left out); ``blocking`` ones (a required field empty or invalid) mean Jira would
refuse the create. :func:`syncengine.domain.fieldcheck.check_config` reports the
same problems for ``doctor`` before any group exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from syncengine.domain.adf import render_adf, text_document
from syncengine.domain.coercion import CoercionError, coerce, sanitize_labels, single_line
from syncengine.domain.createmeta import CreateMeta, FieldMeta
from syncengine.domain.description import (
    DEFAULT_TEMPLATE,
    DescriptionRenderer,
    description_data,
    fit,
)
from syncengine.domain.groups import GroupSnapshot
from syncengine.domain.placeholders import MissingPolicy, expand, expand_list
from syncengine.domain.richtext import Document, plain_text
from syncengine.domain.wiki import escape_text, render_wiki
from syncengine.errors import TemplateError

__all__ = [
    "BuiltFields",
    "FieldProblem",
    "TicketTemplate",
    "build_fields",
    "identity_label",
    "is_identity_label",
    "render_body",
    "resolve_field",
    "split_reserved_labels",
    "text_body",
]

# Fields every Jira site has; a configured id among them needs no createmeta to be used.
KNOWN_SYSTEM_FIELDS: dict[str, FieldMeta] = {
    "summary": FieldMeta(id="summary", name="Summary", required=True, system="summary"),
    "description": FieldMeta(id="description", name="Description", system="description"),
    "environment": FieldMeta(id="environment", name="Environment", system="environment"),
    "labels": FieldMeta(id="labels", name="Labels", type="array", items="string", system="labels"),
}
_CUSTOM_ID = re.compile(r"^customfield_\d+$")
SUMMARY_LIMIT = 255
IDENTITY_PREFIX = "syncengine-"


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketTemplate:
    """What a project's tickets look like (built from settings by ``syncengine.wiring``)."""

    project_key: str
    issue_type: str = "Bug"
    summary: str = "$classifier: $message"
    labels: tuple[str, ...] = ("syncengine",)
    description_template: str = DEFAULT_TEMPLATE
    description_field: str = "description"
    labels_field: str = "labels"
    custom_fields: Mapping[str, str] = field(default_factory=dict)
    description_attributes: tuple[str, ...] = ("version", "hostname", "os")
    missing_attribute: MissingPolicy = "empty"
    api_version: Literal[2, 3] = 2
    user_map: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldProblem:
    """One field that cannot be filled as configured, and what to do about it."""

    field: str
    message: str
    fix: str
    blocking: bool = False

    def __str__(self) -> str:
        return f"field {self.field}: {self.message} — {self.fix}"


@dataclass(frozen=True, kw_only=True, slots=True)
class BuiltFields:
    """The ``fields`` object of a create request, and what could not be filled."""

    fields: dict[str, Any]
    problems: tuple[FieldProblem, ...] = ()

    @property
    def blocked(self) -> bool:
        """True when Jira would refuse the create (a required field is empty or invalid)."""
        return any(p.blocking for p in self.problems)


def identity_label(group_key: str) -> str:
    """The label that names a group's issue (``syncengine-<key>``), searchable by JQL."""
    return sanitize_labels([f"{IDENTITY_PREFIX}{group_key}"])[0]


def is_identity_label(label: str) -> bool:
    """True when ``label`` has the identity prefix (compared as Jira does, ignoring case)."""
    return label.casefold().startswith(IDENTITY_PREFIX)


def split_reserved_labels(labels: list[str]) -> tuple[list[str], list[str]]:
    """``labels`` without those a template may not set (the identity prefix), and those.

    Labels are sanitised first, as Jira would store them, so spacing cannot sneak one past.
    """
    cleaned = sanitize_labels(labels)
    kept = [label for label in cleaned if not is_identity_label(label)]
    return kept, [label for label in cleaned if is_identity_label(label)]


def resolve_field(key: str, createmeta: CreateMeta | None) -> FieldMeta | None:
    """The field a configured key (id or name) means; None when it cannot be resolved."""
    if createmeta is not None:
        return createmeta.find(key)
    if key in KNOWN_SYSTEM_FIELDS:
        return KNOWN_SYSTEM_FIELDS[key]
    if _CUSTOM_ID.match(key):
        return FieldMeta(id=key, name=key, type="string")
    return None


def _not_found(key: str, createmeta: CreateMeta | None, *, what: str) -> FieldProblem:
    if createmeta is None:
        return FieldProblem(
            field=key,
            message=f"{what} is named by a field name, which needs the create metadata",
            fix="use the field id (customfield_NNNNN), or let syncengine fetch createmeta",
        )
    names = ", ".join(sorted(f"{m.name} ({m.id})" for m in createmeta.fields)[:40])
    return FieldProblem(
        field=key,
        message=(
            f"{what} is not on the create screen of {createmeta.project_key} / "
            f"{createmeta.issue_type}"
        ),
        fix=f"add it to the screen in Jira, or use one of: {names}",
    )


def render_body(document: Document, *, api_version: int) -> str | dict[str, Any]:
    """A rich-text field's value: ADF on REST v3, wiki markup on v2, shortened to fit Jira."""
    if api_version == 3:
        return render_adf(fit(document, lambda d: len(json.dumps(render_adf(d)))))
    return render_wiki(fit(document, lambda d: len(render_wiki(d))))


def text_body(text: str, *, api_version: int) -> str | dict[str, Any]:
    """Plain ``text`` (a comment) as a rich-text value: ADF on v3, escaped wiki on v2.

    Blank lines separate paragraphs; nothing in ``text`` becomes markup.
    """
    if api_version == 3:
        return text_document(text)
    paragraphs = [p.strip("\n") for p in text.replace("\r\n", "\n").split("\n\n")]
    return "\n\n".join(escape_text(p, line_start=True) for p in paragraphs if p.strip("\n"))


class _Builder:
    def __init__(
        self,
        template: TicketTemplate,
        group: GroupSnapshot,
        createmeta: CreateMeta | None,
        cloud: bool,
    ) -> None:
        self.template, self.group, self.createmeta, self.cloud = template, group, createmeta, cloud
        self.fields: dict[str, Any] = {}
        self.problems: list[FieldProblem] = []

    def problem(self, meta: FieldMeta | None, key: str, message: str, fix: str) -> None:
        required = bool(meta and meta.required and not meta.has_default)
        self.problems.append(FieldProblem(field=key, message=message, fix=fix, blocking=required))

    def text_value(self, meta: FieldMeta, template: str) -> Any:
        missing = self.template.missing_attribute
        if meta.is_rich_text:
            if self.template.api_version == 3:
                text = expand(template, self.group, missing=missing)
                return text_document(text) if text.strip() else None
            text = expand(template, self.group, missing=missing, escape=escape_text)
            return text if text.strip() else None
        if meta.type == "array":
            items = expand_list(template, self.group, missing=missing)
            return items or None
        text = expand(template, self.group, missing=missing)
        return text if text.strip() else None

    def put(self, key: str, meta: FieldMeta | None, raw: Any) -> None:
        """Coerce ``raw`` (text, items or an ADF document) into ``meta``'s field."""
        if meta is None:
            self.problems.append(_not_found(key, self.createmeta, what=f"field {key!r}"))
            return
        if raw is None:
            self.problem(meta, meta.id, "is empty for this group", _empty_fix(meta))
            return
        if meta.is_rich_text or isinstance(raw, dict):
            self.fields[meta.id] = raw
            return
        try:
            self.fields[meta.id] = coerce(
                meta, raw, cloud=self.cloud, user_map=self.template.user_map
            )
        except CoercionError as exc:
            self.problem(meta, meta.id, f"({meta.name}, {meta.kind}): {exc}", exc.fix)

    def description(self, renderer: DescriptionRenderer) -> None:
        key = self.template.description_field
        meta = resolve_field(key, self.createmeta)
        data = description_data(self.group, self.template.description_attributes)
        try:
            document = renderer.render(self.template.description_template, data)
        except TemplateError as exc:
            self.problem(meta, key, str(exc), "fix the template; `syncengine doctor` shows it")
            return
        if meta is None:
            self.problems.append(_not_found(key, self.createmeta, what="the description field"))
        elif meta.is_rich_text:
            self.fields[meta.id] = render_body(document, api_version=self.template.api_version)
        else:
            self.put(key, meta, plain_text(document) or None)


def _empty_fix(meta: FieldMeta) -> str:
    return (
        f"give {meta.id} a template with a default, like ${{attribute:-unknown}}, "
        "or a literal value"
    )


def _guard_identity(
    builder: _Builder,
    template: TicketTemplate,
    createmeta: CreateMeta | None,
    identity: str | None,
) -> None:
    """A custom field overriding the labels cannot drop the identity nor add a forged one."""
    meta = resolve_field(template.labels_field, createmeta)
    if meta is None or not isinstance(builder.fields.get(meta.id), list):
        return
    values = [v for v in builder.fields[meta.id] if isinstance(v, str)]
    kept = [v for v in values if not is_identity_label(v) or v == identity]
    if identity and identity not in kept:
        kept.append(identity)
    builder.fields[meta.id] = kept


def build_fields(
    template: TicketTemplate,
    group: GroupSnapshot,
    *,
    renderer: DescriptionRenderer,
    createmeta: CreateMeta | None = None,
    cloud: bool,
    identity: str | None = None,
) -> BuiltFields:
    """The create request's ``fields`` for ``group``, and every problem met on the way.

    ``createmeta`` (the project's create screen for the issue type) resolves
    field names and gives each field its schema; without it only field ids are
    usable and custom fields are sent as strings. ``cloud`` picks how users are
    named (``accountId`` vs ``name``). ``identity`` is the group's identity label
    (see :func:`identity_label`), added to the labels. Never raises.
    """
    builder = _Builder(template, group, createmeta, cloud)
    issue_type: dict[str, str] = {"name": template.issue_type}
    if createmeta and createmeta.issue_type_id:
        issue_type = {"id": createmeta.issue_type_id}
    builder.fields["project"] = {"key": template.project_key}
    builder.fields["issuetype"] = issue_type

    summary_meta = resolve_field("summary", createmeta) or KNOWN_SYSTEM_FIELDS["summary"]
    summary = single_line(
        expand(template.summary, group, missing=template.missing_attribute), SUMMARY_LIMIT
    )
    if not summary:
        summary = single_line(f"{group.classifier or 'Error'} in {group.project}", SUMMARY_LIMIT)
        builder.problems.append(
            FieldProblem(
                field="summary",
                message="the summary template expanded to nothing; a fallback was used",
                fix="use placeholders the groups have, or give defaults: ${name:-text}",
            )
        )
    builder.fields[summary_meta.id] = summary

    builder.description(renderer)

    missing = template.missing_attribute
    labels = [item for t in template.labels for item in expand_list(t, group, missing=missing)]
    labels, reserved = split_reserved_labels(labels)
    if reserved:
        builder.problems.append(
            FieldProblem(
                field=template.labels_field,
                message=f"{len(reserved)} label(s) from the template began with the reserved "
                f"{IDENTITY_PREFIX!r} and were left out (only the engine sets identity labels)",
                fix="keep report values that may hold that prefix out of the labels",
            )
        )
    if identity:
        labels.append(identity)
    if labels:
        meta = resolve_field(template.labels_field, createmeta)
        builder.put(template.labels_field, meta, labels)

    for key, value_template in template.custom_fields.items():
        meta = resolve_field(key, createmeta)
        raw = builder.text_value(meta, value_template) if meta else None
        builder.put(key, meta, raw)

    _guard_identity(builder, template, createmeta, identity)
    if createmeta is not None:
        for meta in createmeta.fields:
            reported = any(p.field in {meta.id, meta.name} for p in builder.problems)
            unfilled = meta.required and not meta.has_default and meta.id not in builder.fields
            if unfilled and not reported:
                builder.problem(
                    meta,
                    meta.id,
                    f"({meta.name}) is required and the configuration leaves it empty",
                    f'add it to custom_fields: {meta.id} = "…"',
                )
    return BuiltFields(fields=builder.fields, problems=tuple(builder.problems))
