"""Checking a project's ticket configuration against Jira's create metadata, before any create.

:func:`check_config` is what ``doctor`` and the first create run: given the
create screen (:class:`~syncengine.domain.createmeta.CreateMeta`) of the
configured project and issue type, it lists in ONE list every

- required field the configuration leaves empty (required fields with a
  default value in Jira are fine), or fills from a template that can expand to
  nothing;
- configured field that is not on the create screen (the description field,
  the labels field, each custom field);
- configured value that does not fit its field's schema (a literal value, or
  the value a sample group gives), and every field type syncengine cannot fill;
- template with broken placeholder syntax.

Each :class:`~syncengine.domain.fields.FieldProblem` names the field (its id once
resolved, with its name in the message; else the key as configured) and the fix.
"""

from __future__ import annotations

from datetime import UTC, datetime

from syncengine.domain.coercion import CoercionError, coerce
from syncengine.domain.createmeta import CreateMeta, FieldMeta
from syncengine.domain.description import DescriptionRenderer, description_data
from syncengine.domain.fields import (
    FieldProblem,
    TicketTemplate,
    build_fields,
    resolve_field,
)
from syncengine.domain.groups import AttributeValue, GroupSnapshot, GroupState
from syncengine.domain.placeholders import Placeholder, Text, parse, template_problems
from syncengine.domain.reports import Frame
from syncengine.errors import TemplateError

__all__ = ["EXAMPLE_GROUP", "check_config"]

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# Renders the description template when no real group is at hand (doctor before any crash).
EXAMPLE_GROUP = GroupSnapshot(
    id=0,
    project="example",
    fingerprint="0" * 32,
    state=GroupState.OPEN,
    count=3,
    first_seen=_EPOCH,
    last_seen=_EPOCH,
    classifier="Example",
    message="an example crash, to check the description template",
    first_version="1.0.0",
    last_version="1.0.1",
    attributes={"version": (AttributeValue(value="1.0.1", count=2, last_seen=_EPOCH),)},
    frames=(Frame(function="main", filename="main.c", line=1),),
    url="https://example.invalid/groups/0",
)

_SET_BY_ENGINE = {"project", "issuetype", "summary"}
_FILLABLE_SCALARS = {
    "string",
    "any",
    "number",
    "date",
    "datetime",
    "option",
    "option-with-child",
    "user",
    "version",
    "component",
    "priority",
    "issuetype",
    "resolution",
    "securitylevel",
    "project",
    "issuelink",
}
_FILLABLE_ITEMS = {"string", "option", "version", "component", "user"}


def _may_be_empty(template: str) -> bool:
    """True when every part of ``template`` can expand to nothing (no literal text, no default)."""
    for part in parse(template):
        if isinstance(part, Text) and part.text.strip(" ,"):
            return False
        if isinstance(part, Placeholder) and part.default and part.default.strip():
            return False
    return True


def _fillable(meta: FieldMeta) -> bool:
    if meta.is_rich_text:
        return True
    if meta.type == "array":
        return meta.items in _FILLABLE_ITEMS or (meta.custom or "").endswith(":gh-sprint")
    return meta.type in _FILLABLE_SCALARS


def _configured(template: TicketTemplate) -> dict[str, str]:
    """Configured key -> value template, for the fields the configuration fills."""
    fields = {template.description_field: "(description template)"}
    if template.labels:
        fields[template.labels_field] = ", ".join(template.labels)
    fields.update(template.custom_fields)
    return fields


def _check_value(meta: FieldMeta, value: str, cloud: bool) -> FieldProblem | None:
    if not _fillable(meta):
        return FieldProblem(
            field=meta.id,
            message=f"({meta.name}) has type {meta.kind}, which syncengine cannot fill",
            fix="remove it from custom_fields; set it in Jira (a default value or automation)",
            blocking=meta.required and not meta.has_default,
        )
    if any(isinstance(p, Placeholder) for p in parse(value)) or meta.is_rich_text:
        return None  # depends on the group; checked with a sample group
    items: str | list[str] = value
    if meta.type == "array":
        literal = "".join(p.text for p in parse(value) if isinstance(p, Text))
        items = [item.strip() for item in literal.split(",") if item.strip()]
    try:
        coerce(meta, items, cloud=cloud)
    except CoercionError as exc:
        return FieldProblem(
            field=meta.id,
            message=f"({meta.name}, {meta.kind}): {exc}",
            fix=exc.fix,
            blocking=meta.required and not meta.has_default,
        )
    return None


def check_config(
    template: TicketTemplate,
    createmeta: CreateMeta,
    *,
    cloud: bool,
    sample: GroupSnapshot | None = None,
    renderer: DescriptionRenderer | None = None,
) -> list[FieldProblem]:
    """Every problem of ``template`` against ``createmeta``, as one list (empty when fine).

    With ``renderer``, the description template is rendered (for ``sample``, or
    an example group); with ``sample`` too, the fields are built for that group,
    which checks templated values as well.
    """
    problems: list[FieldProblem] = []
    templates = [("summary", template.summary), *template.custom_fields.items()]
    templates += [(template.labels_field, label) for label in template.labels]
    for key, value in templates:
        problems.extend(
            FieldProblem(field=key, message=message, fix="correct the placeholder syntax")
            for message in template_problems(value)
        )
    if createmeta.find("summary") is None:
        problems.append(
            FieldProblem(
                field="summary",
                message=f"the create screen of {createmeta.project_key} has no summary field",
                fix="add Summary to the create screen in Jira",
                blocking=True,
            )
        )

    filled: set[str] = set(_SET_BY_ENGINE)
    for key, value in _configured(template).items():
        meta = resolve_field(key, createmeta)
        if meta is None:
            names = ", ".join(sorted(f"{m.name} ({m.id})" for m in createmeta.fields)[:40])
            problems.append(
                FieldProblem(
                    field=key,
                    message=(
                        f"is configured but not on the create screen of "
                        f"{createmeta.project_key} / {createmeta.issue_type}"
                    ),
                    fix=f"add it to the screen in Jira, or use one of: {names}",
                )
            )
            continue
        filled.add(meta.id)
        if key in template.custom_fields:
            if problem := _check_value(meta, value, cloud):
                problems.append(problem)
            elif meta.required and not meta.has_default and _may_be_empty(value):
                problems.append(
                    FieldProblem(
                        field=meta.id,
                        message=f"({meta.name}) is required but {value!r} can expand to nothing",
                        fix="give the placeholders defaults, like ${hostname:-unknown}",
                        blocking=True,
                    )
                )

    for meta in createmeta.fields:
        if meta.required and not meta.has_default and meta.id not in filled:
            problems.append(
                FieldProblem(
                    field=meta.id,
                    message=f"({meta.name}, {meta.kind}) is required and the configuration "
                    "leaves it empty",
                    fix=f'add it to custom_fields: {meta.id} = "…"',
                    blocking=True,
                )
            )

    if renderer is not None and sample is None:
        try:
            renderer.render(
                template.description_template,
                description_data(EXAMPLE_GROUP, template.description_attributes),
            )
        except TemplateError as exc:
            problems.append(
                FieldProblem(
                    field=template.description_field,
                    message=str(exc),
                    fix="fix the template in templates_dir, or remove it to use the default",
                )
            )
    if sample is not None and renderer is not None:
        built = build_fields(
            template, sample, renderer=renderer, createmeta=createmeta, cloud=cloud
        )
        reported = {p.field for p in problems}
        problems.extend(p for p in built.problems if p.field not in reported)
    return problems
