"""Field values: from a request body to the stored value, and back out.

Each field ``kind`` (see :class:`FieldDef`) has one parser (what Jira accepts,
with Jira's message when it does not) and one renderer (what Jira answers).
"""

from __future__ import annotations

import re
from typing import Any

from syncengine.jira.simulator import adf
from syncengine.jira.simulator.model import FieldDef, Project
from syncengine.jira.simulator.state import SimState
from syncengine.jira.simulator.text_limits import (
    LINE_LIMIT,
    TEXT_LIMIT,
    check_adf,
    too_long,
    too_long_message,
)

__all__ = ["FieldProblem", "changelog_strings", "parse_value", "schema_of"]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Jira's date-time format, as coercion writes it: 2026-11-23T11:29:24.000+0000.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{3})?)?([+-]\d{4}|Z)?$")


class FieldProblem(Exception):
    """The value cannot be set; the message is Jira's, keyed by field id by the caller."""


def _ref(raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise FieldProblem(f"Could not find valid 'id' or 'name' in {what} object.")
    return raw


def _parse_text(field: FieldDef, raw: Any, api_version: int) -> Any:
    if raw is None:
        return None
    if api_version >= 3:
        if not adf.is_document(raw):
            raise FieldProblem(adf.ADF_REQUIRED)
        check_adf(raw)  # a malformed document fails the whole request, as on Cloud
    elif not isinstance(raw, str):
        raise FieldProblem("Operation value must be a string")
    if too_long(raw, TEXT_LIMIT):
        raise FieldProblem(too_long_message(TEXT_LIMIT))
    return raw


def _parse_labels(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        raise FieldProblem("Operation value must be an array of strings")
    for label in raw:
        if any(ch.isspace() for ch in label):
            raise FieldProblem(f"The label '{label}' contains spaces which is invalid.")
        if len(label) > 255:
            raise FieldProblem("The label must not exceed 255 characters.")
    return list(dict.fromkeys(raw))


def _parse_option(field: FieldDef, raw: Any) -> str | None:
    if raw is None:
        return None
    ref = _ref(raw, "option")
    for option in field.options:
        if str(ref.get("id")) == option.id or ref.get("value") == option.value:
            return option.id
    if "id" in ref:
        raise FieldProblem(f"Option id '{ref['id']}' is not valid")
    raise FieldProblem(f"Option value '{ref.get('value')}' is not valid")


def _parse_user(state: SimState, raw: Any) -> str | None:
    if raw is None:
        return None
    ref = _ref(raw, "user")
    wanted = ref.get("accountId") or ref.get("id") if state.flavour == "cloud" else ref.get("name")
    if state.flavour == "datacenter" and wanted is None:
        wanted = ref.get("key")
    user = state.user_ref(str(wanted)) if wanted else None
    if user is None:
        if state.flavour == "cloud":
            raise FieldProblem(f"Specified user '{wanted}' does not exist.")
        raise FieldProblem(f"User '{wanted}' does not exist.")
    return user.account_id


def _parse_versions(state: SimState, project: Project, raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise FieldProblem("Operation value must be an array")
    ids: list[str] = []
    for item in raw:
        ref = _ref(item, "version")
        version = state.version(project, ref)
        if version is None:
            if "id" in ref:
                raise FieldProblem(f"Version id '{ref['id']}' is not valid")
            raise FieldProblem(f"Version name '{ref.get('name')}' is not valid")
        ids.append(version.id)
    return list(dict.fromkeys(ids))


def parse_value(  # noqa: PLR0911, PLR0912 - one branch per field kind reads best
    state: SimState, project: Project, field: FieldDef, raw: Any, *, api_version: int
) -> Any:
    """The stored value for ``raw``; raises FieldProblem with Jira's message."""
    kind = field.kind
    if kind == "string":
        if raw is not None and not isinstance(raw, str):
            raise FieldProblem("Operation value must be a string")
        if field.id == "summary" and raw is not None and len(raw) > 255:
            raise FieldProblem("Summary must be less than 255 characters.")
        if field.custom and too_long(raw, LINE_LIMIT):
            raise FieldProblem(too_long_message(LINE_LIMIT))
        return raw or None
    if kind == "text":
        return _parse_text(field, raw, api_version)
    if kind == "labels":
        return _parse_labels(raw)
    if kind == "option":
        return _parse_option(field, raw)
    if kind == "priority":
        if raw is None:
            return None
        ref = _ref(raw, "priority")
        for priority in state.priorities.values():
            if str(ref.get("id")) == priority.id or ref.get("name") == priority.name:
                return priority.id
        raise FieldProblem("The priority selected is invalid.")
    if kind == "user":
        return _parse_user(state, raw)
    if kind == "versions":
        return _parse_versions(state, project, raw)
    if kind == "date":
        if raw is not None and (not isinstance(raw, str) or not _DATE.match(raw)):
            raise FieldProblem("Error parsing date string: " + str(raw))
        return raw
    if kind == "datetime":
        if raw is not None and (not isinstance(raw, str) or not _DATETIME.match(raw)):
            raise FieldProblem("Error parsing date-time string: " + str(raw))
        return raw
    if kind == "number":
        if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int | float)):
            raise FieldProblem("Operation value must be a number")
        return raw
    raise FieldProblem(f"Field '{field.id}' cannot be set.")


def changelog_strings(  # noqa: PLR0911 - one branch per field kind
    state: SimState, field: FieldDef, stored: Any
) -> tuple[str | None, str | None]:
    """The (id, display string) pair a webhook changelog shows for ``stored``."""
    if stored is None or stored == []:
        return None, None
    kind = field.kind
    if kind == "text":
        return None, adf.to_text(stored) if isinstance(stored, dict) else stored
    if kind == "labels":
        return None, " ".join(sorted(stored))
    if kind == "option":
        option = next(o for o in field.options if o.id == stored)
        return option.id, option.value
    if kind == "priority":
        return stored, state.priorities[stored].name
    if kind == "user":
        user = state.users[stored]
        ident = user.account_id if state.flavour == "cloud" else user.name
        return ident, user.display_name
    if kind == "versions":
        versions = state.all_versions()
        return ", ".join(stored), ", ".join(versions[v].name for v in stored if v in versions)
    return None, str(stored)


_SYSTEM_SCHEMA = {
    "string": "string",
    "text": "string",
    "date": "date",
    "datetime": "datetime",
    "number": "number",
    "priority": "priority",
    "user": "user",
    "option": "option",
}


def schema_of(field: FieldDef) -> dict[str, Any]:
    """The field's ``schema`` object (JsonTypeBean) as createmeta and /field show it."""
    if field.kind == "labels":
        schema: dict[str, Any] = {"type": "array", "items": "string"}
    elif field.kind == "versions":
        schema = {"type": "array", "items": "version"}
    else:
        schema = {"type": _SYSTEM_SCHEMA.get(field.kind, field.kind)}
    if field.custom:
        schema["custom"] = field.custom_type or ""
        schema["customId"] = field.custom_id
    else:
        schema["system"] = field.id
    return schema
