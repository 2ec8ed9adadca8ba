"""Jira create metadata: which fields the create screen of a project and issue type has.

Two response shapes are read:

- the old ``GET /rest/api/{2,3}/issue/createmeta?projectKeys=…&expand=projects.issuetypes.fields``:
  ``projects[].issuetypes[].fields`` is an object keyed by field id
  (:func:`parse_createmeta`);
- the paginated ``GET /rest/api/{2,3}/issue/createmeta/{project}/issuetypes/{id}``: each
  page lists fields under ``fields`` (Cloud) or ``values`` (Data Center), each
  with a ``fieldId`` (:func:`parse_field_pages`).

Both become :class:`FieldMeta` values inside one :class:`CreateMeta`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from syncengine.errors import TemplateError

__all__ = [
    "CreateMeta",
    "CreateMetaError",
    "FieldMeta",
    "find_issue_type",
    "parse_createmeta",
    "parse_field_pages",
]


class CreateMetaError(TemplateError):
    """The create metadata does not hold the project or issue type asked for, or is malformed."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldMeta:
    """One field of a create screen, as createmeta describes it."""

    id: str
    name: str
    required: bool = False
    has_default: bool = False
    type: str = "string"  # schema.type: string, number, date, datetime, option, array, user, …
    items: str | None = None  # schema.items for arrays: string, option, version, component, …
    system: str | None = None  # schema.system for Jira's own fields (description, labels, …)
    custom: str | None = None  # schema.custom for custom fields (…:textarea, …:select, …)
    allowed_values: tuple[Mapping[str, Any], ...] | None = None
    operations: tuple[str, ...] = ()

    @property
    def is_rich_text(self) -> bool:
        """True for fields Jira renders as rich text (wiki on v2, ADF on v3)."""
        return self.system in {"description", "environment"} or (self.custom or "").endswith(
            ":textarea"
        )

    @property
    def kind(self) -> str:
        """``type`` for scalars, ``array:<items>`` for arrays (``array:option``)."""
        return f"array:{self.items}" if self.type == "array" else self.type


@dataclass(frozen=True, kw_only=True, slots=True)
class CreateMeta:
    """The fields of one project's create screen for one issue type."""

    project_key: str
    issue_type: str
    issue_type_id: str = ""
    fields: tuple[FieldMeta, ...] = field(default_factory=tuple)

    def find(self, key: str) -> FieldMeta | None:
        """The field whose id is ``key``, else whose name is ``key`` (any case)."""
        for meta in self.fields:
            if meta.id == key:
                return meta
        folded = key.strip().casefold()
        for meta in self.fields:
            if meta.name.casefold() == folded:
                return meta
        return None


def _field(field_id: str, raw: Mapping[str, Any]) -> FieldMeta:
    schema = raw.get("schema") if isinstance(raw.get("schema"), Mapping) else {}
    assert isinstance(schema, Mapping)
    allowed = raw.get("allowedValues")
    return FieldMeta(
        id=field_id,
        name=str(raw.get("name") or field_id),
        required=bool(raw.get("required", False)),
        has_default=bool(raw.get("hasDefaultValue", False)),
        type=str(schema.get("type") or "any"),
        items=str(schema["items"]) if schema.get("items") else None,
        system=str(schema["system"]) if schema.get("system") else None,
        custom=str(schema["custom"]) if schema.get("custom") else None,
        allowed_values=tuple(v for v in allowed if isinstance(v, Mapping))
        if isinstance(allowed, list)
        else None,
        operations=tuple(str(op) for op in raw.get("operations") or ()),
    )


def _matches(issue_type: Mapping[str, Any], wanted: str) -> bool:
    return str(issue_type.get("id")) == wanted or (
        str(issue_type.get("name", "")).casefold() == wanted.casefold()
    )


def parse_createmeta(data: Mapping[str, Any], *, project_key: str, issue_type: str) -> CreateMeta:
    """The create screen of ``project_key`` / ``issue_type`` (name or id) in an old-shape response.

    Raises :class:`CreateMetaError` naming what the response does hold when the
    project or issue type is missing.
    """
    projects = data.get("projects")
    if not isinstance(projects, list):
        raise CreateMetaError("createmeta response has no 'projects' list; is it the old shape?")
    project = next(
        (p for p in projects if isinstance(p, Mapping) and p.get("key") == project_key), None
    )
    if project is None:
        keys = sorted(str(p.get("key")) for p in projects if isinstance(p, Mapping))
        raise CreateMetaError(
            f"project {project_key!r} is not in createmeta (it holds {keys or 'none'}); check "
            "project_key and that the Jira user may create issues in that project"
        )
    types = [t for t in project.get("issuetypes") or () if isinstance(t, Mapping)]
    chosen = next((t for t in types if _matches(t, issue_type)), None)
    if chosen is None:
        names = sorted(str(t.get("name")) for t in types)
        raise CreateMetaError(
            f"issue type {issue_type!r} is not available in project {project_key} "
            f"(available: {', '.join(names) or 'none'}); set issue_type to one of them"
        )
    raw_fields = chosen.get("fields") or {}
    if not isinstance(raw_fields, Mapping):
        raise CreateMetaError("createmeta issue type has no 'fields' object; add expand=…fields")
    return CreateMeta(
        project_key=project_key,
        issue_type=str(chosen.get("name") or issue_type),
        issue_type_id=str(chosen.get("id") or ""),
        fields=tuple(
            _field(str(raw.get("fieldId") or key), raw)
            for key, raw in raw_fields.items()
            if isinstance(raw, Mapping)
        ),
    )


def parse_field_pages(
    pages: Iterable[Mapping[str, Any]],
    *,
    project_key: str,
    issue_type: str,
    issue_type_id: str = "",
) -> CreateMeta:
    """The create screen from the pages of ``/issue/createmeta/{project}/issuetypes/{id}``.

    Each page holds its fields under ``fields`` (Cloud) or ``values`` (Data
    Center). Raises :class:`CreateMetaError` for a page with neither.
    """
    found: dict[str, FieldMeta] = {}
    for number, page in enumerate(pages):
        raw_fields = page.get("fields", page.get("values"))
        if not isinstance(raw_fields, list):
            raise CreateMetaError(
                f"createmeta page {number} has neither a 'fields' nor a 'values' list"
            )
        for raw in raw_fields:
            if isinstance(raw, Mapping) and (raw.get("fieldId") or raw.get("key")):
                field_id = str(raw.get("fieldId") or raw.get("key"))
                found[field_id] = _field(field_id, raw)
    return CreateMeta(
        project_key=project_key,
        issue_type=issue_type,
        issue_type_id=issue_type_id,
        fields=tuple(found.values()),
    )


def find_issue_type(pages: Iterable[Mapping[str, Any]], wanted: str) -> tuple[str, str]:
    """``(id, name)`` of issue type ``wanted`` (name, any case, or id) in the pages of
    ``/issue/createmeta/{project}/issuetypes`` (``issueTypes`` on Cloud, ``values`` on DC).

    Raises :class:`CreateMetaError` listing the available types when it is missing.
    """
    seen: list[Mapping[str, Any]] = []
    for page in pages:
        types = page.get("issueTypes", page.get("values"))
        if not isinstance(types, list):
            raise CreateMetaError(
                "createmeta issue-type page has neither 'issueTypes' nor 'values'"
            )
        seen.extend(t for t in types if isinstance(t, Mapping))
    for issue_type in seen:
        if _matches(issue_type, wanted):
            return str(issue_type.get("id")), str(issue_type.get("name"))
    names = ", ".join(sorted(str(t.get("name")) for t in seen)) or "none"
    raise CreateMetaError(
        f"issue type {wanted!r} is not available (available: {names}); "
        "set issue_type to one of them"
    )
