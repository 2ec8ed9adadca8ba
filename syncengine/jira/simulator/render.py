"""Records as Jira answers them: users, statuses, versions, issues, comments.

Cloud users carry ``accountId``; Data Center users carry ``name`` and ``key``.
Times are Jira's ``2019-02-15T19:15:40.470+0000``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from syncengine.domain.adf import text_document
from syncengine.jira.simulator import adf
from syncengine.jira.simulator.model import (
    Attachment,
    ChangeItem,
    Comment,
    FieldDef,
    History,
    Issue,
    IssueType,
    Priority,
    Project,
    Resolution,
    Status,
    StatusCategory,
    User,
    Version,
)
from syncengine.jira.simulator.state import SimState

__all__ = [
    "allowed_values",
    "attachment",
    "category",
    "change_item",
    "comment",
    "history",
    "issue",
    "issuetype",
    "jira_time",
    "priority",
    "project",
    "render_value",
    "resolution",
    "status",
    "user",
    "version",
]

_NAVIGABLE = (
    "summary",
    "issuetype",
    "project",
    "status",
    "priority",
    "labels",
    "assignee",
    "reporter",
    "creator",
    "created",
    "updated",
    "resolution",
    "resolutiondate",
    "fixVersions",
    "versions",
    "description",
    "environment",
    "duedate",
)
_NOT_NAVIGABLE = ("comment", "attachment")


_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


_SYSTEM = frozenset(
    {
        "issuetype",
        "project",
        "status",
        "created",
        "updated",
        "reporter",
        "creator",
        "resolution",
        "resolutiondate",
        "comment",
        "attachment",
    }
)


def jira_time(moment: datetime) -> str:
    """``2019-02-15T19:15:40.470+0000``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _api(state: SimState, version: int) -> str:
    return f"{state.base_url}/rest/api/{version}"


def _avatars(seed: str) -> dict[str, str]:
    return {f"{n}x{n}": f"https://avatar.invalid/{seed}?s={n}" for n in (48, 24, 16, 32)}


def user(state: SimState, who: User, version: int) -> dict[str, Any]:
    if state.flavour == "cloud":
        shown = {
            "self": f"{_api(state, version)}/user?accountId={who.account_id}",
            "accountId": who.account_id,
            "accountType": "atlassian",
            "emailAddress": who.email,
            "avatarUrls": _avatars(who.account_id),
            "displayName": who.display_name,
            "active": who.active,
            "timeZone": who.time_zone,
        }
        if state.hidden_emails:
            del shown["emailAddress"]  # the user's profile visibility hides it
        return shown
    return {
        "self": f"{_api(state, version)}/user?username={who.name}",
        "key": who.key,
        "name": who.name,
        "emailAddress": who.email,
        "avatarUrls": _avatars(who.key),
        "displayName": who.display_name,
        "active": who.active,
        "timeZone": who.time_zone,
    }


def category(state: SimState, cat: StatusCategory, version: int) -> dict[str, Any]:
    return {
        "self": f"{_api(state, version)}/statuscategory/{cat.id}",
        "id": cat.id,
        "key": cat.key,
        "colorName": cat.color,
        "name": cat.name,
    }


def status(state: SimState, st: Status, version: int) -> dict[str, Any]:
    return {
        "self": f"{_api(state, version)}/status/{st.id}",
        "description": st.description,
        "iconUrl": f"{state.base_url}/images/icons/statuses/generic.png",
        "name": st.name,
        "id": st.id,
        "statusCategory": category(state, st.category, version),
    }


def issuetype(state: SimState, it: IssueType, version: int) -> dict[str, Any]:
    return {
        "self": f"{_api(state, version)}/issuetype/{it.id}",
        "id": it.id,
        "description": it.description,
        "iconUrl": f"{state.base_url}/images/icons/issuetypes/{it.name.lower()}.svg",
        "name": it.name,
        "subtask": it.subtask,
    }


def priority(state: SimState, pr: Priority, version: int) -> dict[str, Any]:
    return {
        "self": f"{_api(state, version)}/priority/{pr.id}",
        "iconUrl": f"{state.base_url}/images/icons/priorities/{pr.name.lower()}.svg",
        "name": pr.name,
        "id": pr.id,
    }


def resolution(state: SimState, res: Resolution, version: int) -> dict[str, Any]:
    return {
        "self": f"{_api(state, version)}/resolution/{res.id}",
        "id": res.id,
        "description": res.description,
        "name": res.name,
    }


def version(state: SimState, ver: Version, api_version: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "self": f"{_api(state, api_version)}/version/{ver.id}",
        "id": ver.id,
        "description": ver.description,
        "name": ver.name,
        "archived": ver.archived,
        "released": ver.released,
        "projectId": int(ver.project_id),
    }
    if ver.release_date:
        body["releaseDate"] = ver.release_date
    return body


def allowed_values(
    state: SimState, proj: Project, field: FieldDef, api_version: int
) -> list[dict[str, Any]] | None:
    """A screen field's ``allowedValues`` (createmeta, transition screens); None when free."""
    if field.kind == "option":
        api = _api(state, api_version)
        return [
            {"self": f"{api}/customFieldOption/{o.id}", "value": o.value, "id": o.id}
            for o in field.options
        ]
    if field.kind == "priority":
        return [priority(state, p, api_version) for p in state.priorities.values()]
    if field.kind == "versions":
        return [version(state, v, api_version) for v in proj.versions]
    if field.kind == "resolution":
        return [resolution(state, r, api_version) for r in state.resolutions.values()]
    return None


def project(
    state: SimState, proj: Project, api_version: int, *, full: bool = False
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "self": f"{_api(state, api_version)}/project/{proj.id}",
        "id": proj.id,
        "key": proj.key,
        "name": proj.name,
        "projectTypeKey": "software",
        "avatarUrls": _avatars(proj.key),
    }
    if full:
        body["lead"] = user(state, state.users[proj.lead], api_version)
        body["issueTypes"] = [
            issuetype(state, state.issue_types[i], api_version) for i in proj.issue_types
        ]
        body["versions"] = [version(state, v, api_version) for v in proj.versions]
        body["description"] = ""
    return body


def change_item(state: SimState, item: ChangeItem) -> dict[str, Any]:
    """A changelog item; ``fieldId`` exists on Cloud only."""
    shown: dict[str, Any] = {"field": item.field, "fieldtype": item.fieldtype}
    if state.flavour == "cloud":
        shown["fieldId"] = item.field_id
    return shown | {
        "from": item.from_,
        "fromString": item.from_string,
        "to": item.to,
        "toString": item.to_string,
    }


def history(state: SimState, entry: History, version: int) -> dict[str, Any]:
    return {
        "id": entry.id,
        "author": user(state, state.users[entry.author], version),
        "created": jira_time(entry.created),
        "items": [change_item(state, i) for i in entry.items],
    }


def comment(state: SimState, issue_id: str, com: Comment, version: int) -> dict[str, Any]:
    body = com.body
    if version >= 3 and isinstance(body, str):
        body = text_document(body)
    elif version < 3 and isinstance(body, dict):
        body = adf.to_text(body)
    author = user(state, state.users[com.author], version)
    return {
        "self": f"{_api(state, version)}/issue/{issue_id}/comment/{com.id}",
        "id": com.id,
        "author": author,
        "body": body,
        "updateAuthor": author,
        "created": jira_time(com.created),
        "updated": jira_time(com.updated),
        "jsdPublic": True,
    }


def attachment(state: SimState, att: Attachment, version: int) -> dict[str, Any]:
    return {
        "self": f"{_api(state, version)}/attachment/{att.id}",
        "id": att.id,
        "filename": att.filename,
        "author": user(state, state.users[att.author], version),
        "created": jira_time(att.created),
        "size": len(att.content),
        "mimeType": att.mime_type,
        "content": f"{state.base_url}/secure/attachment/{att.id}/{att.filename}",
    }


def _system_fields(
    state: SimState, it: Issue, version: int, shown: set[str] | None
) -> dict[str, Any]:
    """The system fields in ``shown`` (all when None), each rendered only when asked for."""

    def who(account: str | None) -> dict[str, Any] | None:
        return user(state, state.users[account], version) if account else None

    def comments() -> dict[str, Any]:
        listed = [comment(state, it.id, c, version) for c in it.comments]
        return {"comments": listed, "maxResults": len(listed), "total": len(listed), "startAt": 0}

    def resolved() -> dict[str, Any] | None:
        res = state.resolutions.get(it.resolution_id or "")
        return resolution(state, res, version) if res else None

    makers: dict[str, Any] = {
        "issuetype": lambda: issuetype(state, state.issue_types[it.issuetype_id], version),
        "project": lambda: project(state, state.project_by_id(it.project_id), version),
        "status": lambda: status(state, state.statuses[it.status_id], version),
        "created": lambda: jira_time(it.created),
        "updated": lambda: jira_time(it.updated),
        "reporter": lambda: who(it.reporter),
        "creator": lambda: who(it.creator),
        "resolution": resolved,
        "resolutiondate": lambda: jira_time(it.resolution_date) if it.resolution_date else None,
        "comment": comments,
        "attachment": lambda: [attachment(state, a, version) for a in it.attachments],
    }
    return {k: make() for k, make in makers.items() if shown is None or k in shown}


def wanted_fields(state: SimState, spec: Iterable[str] | None, default: str) -> set[str] | None:
    """The field ids a ``fields`` parameter asks for (None = all)."""
    items = [s.strip() for s in (spec if spec is not None else [default]) if s.strip()]
    chosen: set[str] = set()
    everything = set(_NAVIGABLE) | set(_NOT_NAVIGABLE) | set(state.fields)
    for item in items:
        if item == "*all":
            chosen |= everything
        elif item == "*navigable":
            chosen |= set(_NAVIGABLE) | {f for f in state.fields if f.startswith("customfield_")}
        elif not item.startswith("-"):
            chosen.add(item)
    for item in items:
        if item.startswith("-"):
            chosen.discard(item[1:])
    return chosen


def render_value(  # noqa: PLR0911 - one branch per field kind
    state: SimState, field: FieldDef, stored: Any, *, api_version: int
) -> Any:
    """``stored`` as Jira answers it in REST v``api_version``."""
    kind = field.kind
    if stored is None:
        return [] if kind in ("labels", "versions") else None
    if kind == "text":
        if api_version >= 3:
            return stored if isinstance(stored, dict) else text_document(stored)
        return adf.to_text(stored) if isinstance(stored, dict) else stored
    if kind == "option":
        option = next(o for o in field.options if o.id == stored)
        return {
            "self": f"{state.base_url}/rest/api/{api_version}/customFieldOption/{option.id}",
            "value": option.value,
            "id": option.id,
        }
    if kind == "priority":
        return priority(state, state.priorities[stored], api_version)
    if kind == "user":
        return user(state, state.users[stored], api_version)
    if kind == "versions":
        versions = state.all_versions()
        return [version(state, versions[v], api_version) for v in stored if v in versions]
    if kind == "labels":
        return list(stored)
    return stored


def issue(
    state: SimState,
    it: Issue,
    version: int,
    *,
    fields: set[str] | None = None,
    properties: Iterable[str] = (),
    expand: Iterable[str] = (),
) -> dict[str, Any]:
    """The issue bean; ``fields`` limits which fields are shown (None = all)."""
    body: dict[str, Any] = {
        "expand": _EXPAND,
        "id": it.id,
        "self": f"{_api(state, version)}/issue/{it.id}",
        "key": it.key,
    }
    shown = set(fields) - {"id", "key"} if fields is not None else None
    if shown is None or shown:
        values = _system_fields(state, it, version, shown)
        for field_id, definition in state.fields.items():
            if (
                field_id in values
                or field_id in _SYSTEM
                or (shown is not None and field_id not in shown)
            ):
                continue
            values[field_id] = render_value(
                state, definition, it.fields.get(field_id), api_version=version
            )
        body["fields"] = {k: v for k, v in values.items() if shown is None or k in shown}
    if "changelog" in set(expand):
        histories = [history(state, h, version) for h in it.history]
        body["changelog"] = {
            "startAt": 0,
            "maxResults": len(histories),
            "total": len(histories),
            "histories": histories,
        }
    wanted_props = {k: v for k, v in it.properties.items() if k in set(properties)}
    if wanted_props:
        body["properties"] = wanted_props
    return body
