"""Creating and editing issues with Jira's validation and Jira's 400s.

A create or edit checks, in Jira's order: the project (and permission), the
issue type, fields that are not on the screen, each value, then required
fields. All field problems are reported together, keyed by field id.
"""

from __future__ import annotations

import json
from typing import Any

from syncengine.jira.simulator.errors import JiraHttpError, bad_request, field_errors
from syncengine.jira.simulator.fields import FieldProblem, changelog_strings, parse_value
from syncengine.jira.simulator.model import (
    ChangeItem,
    FieldDef,
    Issue,
    IssueType,
    Permission,
    Project,
    User,
)
from syncengine.jira.simulator.state import IssueEvent, SimState

__all__ = ["apply_changes", "create_issue", "edit_issue", "not_on_screen", "resolve_issuetype"]

_SPECIAL = {"project", "issuetype"}
_FIELD_NAMES = {"fixVersions": "Fix Version", "versions": "Version"}


def not_on_screen(field_id: str) -> str:
    return f"Field '{field_id}' cannot be set. It is not on the appropriate screen, or unknown."


def _project_of(state: SimState, user: User, fields: dict[str, Any]) -> Project:
    ref = fields.get("project")
    key = None
    if isinstance(ref, dict):
        key = ref.get("key") or ref.get("id")
    elif isinstance(ref, str):
        key = ref
    invalid = field_errors({"project": "Specify a valid project ID or key"})
    if not key:
        raise invalid
    try:
        project = state.project(str(key), user)
    except JiraHttpError:
        raise invalid from None
    state.require(user, project, Permission.CREATE, "create issues")
    return project


def resolve_issuetype(state: SimState, project: Project, ref: Any) -> IssueType:
    """The issue type ``ref`` names in ``project``; Jira's 400 otherwise."""
    if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
        raise field_errors({"issuetype": "Specify an issue type"})
    for type_id in project.issue_types:
        it = state.issue_types[type_id]
        if str(ref.get("id")) == it.id or ref.get("name") == it.name:
            return it
    raise field_errors({"issuetype": "The issue type selected is invalid."})


def _screen(project: Project, issuetype_id: str, *, creating: bool) -> dict[str, bool]:
    shown = project.screens.get(issuetype_id, ()) if creating else project.edit_screen(issuetype_id)
    return {sf.field_id: sf.required for sf in shown}


def _apply_update(  # noqa: PLR0917 - private, called from one place
    state: SimState,
    project: Project,
    definition: FieldDef,
    current: Any,
    operations: Any,
    api_version: int,
) -> Any:
    if not isinstance(operations, list):
        raise FieldProblem("Operation value must be an array of operations")
    value = current
    for op in operations:
        if not isinstance(op, dict) or len(op) != 1:
            raise FieldProblem("Each operation must be an object with one verb")
        verb, raw = next(iter(op.items()))
        if verb == "set":
            value = parse_value(state, project, definition, raw, api_version=api_version)
        elif verb in ("add", "remove") and definition.kind in ("labels", "versions"):
            item = [raw]
            parsed = parse_value(state, project, definition, item, api_version=api_version)
            have = list(value or [])
            if verb == "add":
                value = have + [x for x in parsed if x not in have]
            else:
                value = [x for x in have if x not in parsed]
        else:
            raise FieldProblem(f"Operation '{verb}' is not supported for field '{definition.id}'")
    return value


def apply_changes(  # noqa: PLR0912 - Jira's validation order, step by step
    state: SimState,
    project: Project,
    issuetype_id: str,
    body: dict[str, Any],
    current: dict[str, Any],
    *,
    api_version: int,
    creating: bool,
) -> dict[str, Any]:
    """The new stored field values after ``body``'s ``fields`` and ``update``.

    Raises JiraHttpError 400 with every field problem (screen, value, required).
    """
    fields = body.get("fields") or {}
    update = body.get("update") or {}
    if not isinstance(fields, dict) or not isinstance(update, dict):
        raise bad_request("Can not deserialize the request: 'fields' and 'update' are objects.")
    screen = _screen(project, issuetype_id, creating=creating)
    errors: dict[str, str] = {}
    result = dict(current)
    for field_id, raw in fields.items():
        if field_id in _SPECIAL:
            continue
        if field_id in update:
            errors[field_id] = f"Field '{field_id}' cannot be set in both 'fields' and 'update'."
            continue
        definition = state.fields.get(field_id)
        if definition is None or field_id not in screen:
            errors[field_id] = not_on_screen(field_id)
            continue
        try:
            result[field_id] = parse_value(state, project, definition, raw, api_version=api_version)
        except FieldProblem as problem:
            errors[field_id] = str(problem)
    for field_id, operations in update.items():
        if field_id == "comment" and not creating:
            continue
        definition = state.fields.get(field_id)
        if definition is None or field_id not in screen:
            errors[field_id] = not_on_screen(field_id)
            continue
        try:
            result[field_id] = _apply_update(
                state, project, definition, result.get(field_id), operations, api_version
            )
        except FieldProblem as problem:
            errors[field_id] = str(problem)
    for field_id, required in screen.items():
        if not required or field_id in errors or result.get(field_id) not in (None, "", []):
            continue
        if not creating and field_id not in fields and field_id not in update:
            continue
        if field_id == "summary":
            errors[field_id] = "You must specify a summary of the issue."
        else:
            errors[field_id] = f"{state.fields[field_id].name} is required."
    if errors:
        raise field_errors(errors)
    return result


def _change_items(
    state: SimState, before: dict[str, Any], after: dict[str, Any]
) -> list[ChangeItem]:
    items: list[ChangeItem] = []
    for field_id, definition in state.fields.items():
        old, new = before.get(field_id), after.get(field_id)
        if (old or None) == (new or None):
            continue
        name = definition.name if definition.custom else _FIELD_NAMES.get(field_id, field_id)
        fieldtype = "custom" if definition.custom else "jira"
        if definition.kind == "versions":
            for gone in [v for v in old or [] if v not in (new or [])]:
                fid, fstr = changelog_strings(state, definition, [gone])
                items.append(_item(name, fieldtype, field_id, fid, fstr, None, None))
            for added in [v for v in new or [] if v not in (old or [])]:
                tid, tstr = changelog_strings(state, definition, [added])
                items.append(_item(name, fieldtype, field_id, None, None, tid, tstr))
            continue
        fid, fstr = changelog_strings(state, definition, old)
        tid, tstr = changelog_strings(state, definition, new)
        items.append(_item(name, fieldtype, field_id, fid, fstr, tid, tstr))
    return items


def _item(  # noqa: PLR0917 - mirrors the changelog item's shape
    name: str,
    fieldtype: str,
    field_id: str,
    from_: str | None,
    from_string: str | None,
    to: str | None,
    to_string: str | None,
) -> ChangeItem:
    return ChangeItem(
        field=name,
        fieldtype=fieldtype,
        field_id=field_id,
        from_=from_,
        from_string=from_string,
        to=to,
        to_string=to_string,
    )


def _entity_properties(state: SimState, raw: Any) -> dict[str, Any]:
    """The ``properties`` of a create body (``[{"key", "value"}]``); Jira's 400 when malformed.

    Cloud takes any JSON ``value``. Data Center's ``EntityPropertyBean.value`` is a
    Java string holding the JSON text (its spec and its source say so): an object
    there fails to deserialize, and text that is not JSON is refused.
    """
    if raw is None:
        return {}
    if not isinstance(raw, list) or not all(
        isinstance(p, dict) and isinstance(p.get("key"), str) and "value" in p for p in raw
    ):
        raise bad_request("properties must be a list of objects with 'key' and 'value'")
    if state.flavour == "cloud":
        return {p["key"]: p["value"] for p in raw}
    found: dict[str, Any] = {}
    for p in raw:
        value = p["value"]
        if isinstance(value, bool | int | float):
            value = json.dumps(value)  # Jackson turns a scalar into its text
        if isinstance(value, dict | list):
            token = "START_OBJECT" if isinstance(value, dict) else "START_ARRAY"
            raise bad_request(
                f"Can not deserialize instance of java.lang.String out of {token} token "
                "(through reference chain: com.atlassian.jira.rest.v2.issue.IssueUpdateBean"
                '["properties"]->com.atlassian.jira.issue.fields.rest.json.beans.'
                'EntityPropertyBean["value"])'
            )
        try:
            found[p["key"]] = json.loads(value) if isinstance(value, str) else None
        except ValueError:
            found[p["key"]] = None
        if found[p["key"]] is None:
            raise bad_request("The property value must be a valid JSON.")
    return found


def create_issue(state: SimState, user: User, body: Any, *, api_version: int) -> Issue:
    """Create an issue from a create-issue body; Jira's 400/403 when it cannot."""
    if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
        raise bad_request("Can not deserialize the request: a JSON object with 'fields' expected.")
    fields = body["fields"]
    project = _project_of(state, user, fields)
    issuetype = resolve_issuetype(state, project, fields.get("issuetype"))
    values = apply_changes(
        state, project, issuetype.id, body, {}, api_version=api_version, creating=True
    )
    now = state.clock.now()
    number = project.next_number
    project.next_number += 1
    reporter = values.pop("reporter", None) or user.account_id
    properties = _entity_properties(state, body.get("properties"))
    issue = Issue(
        id=state.new_id(),
        key=f"{project.key}-{number}",
        project_id=project.id,
        issuetype_id=issuetype.id,
        status_id=project.workflow.initial_status,
        fields=values,
        reporter=reporter,
        creator=user.account_id,
        created=now,
        updated=now,
        properties=properties,
    )
    state.issues[issue.id] = issue
    items = _change_items(state, {}, {**values, "reporter": reporter})
    status = state.statuses[issue.status_id]
    items.append(_item("Status", "jira", "status", None, None, status.id, status.name))
    state.emit(
        IssueEvent(
            webhook_event="jira:issue_created",
            event_type="issue_created",
            issue=issue,
            user=user,
            changelog=tuple(items),
        )
    )
    return issue


def edit_issue(
    state: SimState, user: User, issue: Issue, body: Any, *, api_version: int
) -> list[ChangeItem]:
    """Apply an edit-issue body; returns the changelog items (empty if nothing changed)."""
    if not isinstance(body, dict):
        raise bad_request("Can not deserialize the request: a JSON object expected.")
    project = state.project_by_id(issue.project_id)
    state.require(user, project, Permission.EDIT, "edit issues")
    if "issuetype" in (body.get("fields") or {}) or "project" in (body.get("fields") or {}):
        raise field_errors(
            {"issuetype": "Use the move operation to change an issue's type or project."}
        )
    before = dict(issue.fields)
    if "reporter" not in before:
        before["reporter"] = issue.reporter
    after = apply_changes(
        state, project, issue.issuetype_id, body, before, api_version=api_version, creating=False
    )
    items = _change_items(state, before, after)
    issue.reporter = after.pop("reporter", issue.reporter)
    issue.fields = after
    comments = (body.get("update") or {}).get("comment")
    if not items and not comments:
        return []
    issue.updated = state.clock.now()
    if items:
        state.emit(
            IssueEvent(
                webhook_event="jira:issue_updated",
                event_type="issue_updated",
                issue=issue,
                user=user,
                changelog=tuple(items),
            )
        )
    return items
