"""What happens to an issue after it exists: transitions, assignment, comments,
moves and deletes, each emitting the webhook event Jira would."""

from __future__ import annotations

from typing import Any

from syncengine.jira.simulator import adf
from syncengine.jira.simulator.errors import JiraHttpError, bad_request, field_errors
from syncengine.jira.simulator.fields import FieldProblem, parse_value
from syncengine.jira.simulator.issues import not_on_screen, resolve_issuetype
from syncengine.jira.simulator.model import (
    ChangeItem,
    Comment,
    Issue,
    Permission,
    Project,
    Transition,
    User,
)
from syncengine.jira.simulator.state import IssueEvent, SimState
from syncengine.jira.simulator.text_limits import TEXT_LIMIT, check_adf, too_long, too_long_message

__all__ = [
    "add_comment",
    "assign_issue",
    "delete_issue",
    "move_issue",
    "parse_comment_body",
    "transition_issue",
]


def _transition_ref(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("transition"), dict):
        raise bad_request("Can not deserialize the request: 'transition' object expected.")
    raw = body["transition"].get("id")
    if raw is None or not str(raw).isdigit():
        raise bad_request("'transition' identifier must be an integer")
    return str(raw)


def _resolution_of(state: SimState, body: dict[str, Any]) -> str | None:
    ref = (body.get("fields") or {}).get("resolution")
    if ref is None:
        return None
    if isinstance(ref, dict):
        for res in state.resolutions.values():
            if str(ref.get("id")) == res.id or ref.get("name") == res.name:
                return res.id
    raise field_errors({"resolution": "The resolution selected is invalid."})


def _screen_values(
    state: SimState, project: Project, transition: Transition, body: Any, api_version: int
) -> dict[str, Any]:
    """The transition screen's values in ``body``; Jira's 400 for a field not on the
    screen, a bad value, or a required field left out."""
    given = dict(body.get("fields") or {})
    given.pop("resolution", None)
    screen = {sf.field_id: sf for sf in transition.screen}
    errors = {f: not_on_screen(f) for f in sorted(set(given) - set(screen))}
    values: dict[str, Any] = {}
    for field_id, screen_field in screen.items():
        definition = state.fields[field_id]
        if field_id in given:
            try:
                values[field_id] = parse_value(
                    state, project, definition, given[field_id], api_version=api_version
                )
            except FieldProblem as problem:
                errors[field_id] = str(problem)
                continue
        if screen_field.required and values.get(field_id) in (None, "", []):
            errors.setdefault(field_id, f"{definition.name} is required.")
    if errors:
        raise field_errors(errors)
    return values


def transition_issue(
    state: SimState, user: User, issue: Issue, body: Any, *, api_version: int
) -> Transition:
    """Move ``issue`` along a workflow transition; Jira's 400s for bad ids or missing resolution."""
    project = state.project_by_id(issue.project_id)
    transition_id = _transition_ref(body)
    state.require(user, project, Permission.TRANSITION, "transition issues")
    available = {t.id: t for t in project.workflow.available_from(issue.status_id)}
    transition = available.get(transition_id)
    if transition is None:
        raise bad_request(f"Transition id '{transition_id}' is not valid for this issue.")
    screen_values = _screen_values(state, project, transition, body, api_version)
    resolution_id = _resolution_of(state, body)
    if resolution_id is not None and not transition.requires_resolution:
        raise field_errors({"resolution": not_on_screen("resolution")})
    if transition.requires_resolution and resolution_id is None:
        raise field_errors({"resolution": "Resolution is required."})
    comment = _update_comment(body, api_version)
    before_status, before_res = state.statuses[issue.status_id], issue.resolution_id
    target = state.statuses[transition.to_status]
    now = state.clock.now()
    issue.fields.update(screen_values)
    issue.status_id = target.id
    if target.category.key == "done":
        issue.resolution_id, issue.resolution_date = resolution_id, now
    else:
        issue.resolution_id, issue.resolution_date = None, None
    issue.updated = now
    items: list[ChangeItem] = []
    if before_res != issue.resolution_id:
        old = state.resolutions.get(before_res or "")
        new = state.resolutions.get(issue.resolution_id or "")
        items.append(
            ChangeItem(
                field="resolution",
                fieldtype="jira",
                field_id="resolution",
                from_=old.id if old else None,
                from_string=old.name if old else None,
                to=new.id if new else None,
                to_string=new.name if new else None,
            )
        )
    items.append(
        ChangeItem(
            field="status",
            fieldtype="jira",
            field_id="status",
            from_=before_status.id,
            from_string=before_status.name,
            to=target.id,
            to_string=target.name,
        )
    )
    state.emit(
        IssueEvent(
            webhook_event="jira:issue_updated",
            event_type="issue_generic",
            issue=issue,
            user=user,
            changelog=tuple(items),
        )
    )
    if comment is not None:
        add_comment(state, user, issue, comment, api_version=api_version, check=False)
    return transition


def _update_comment(body: dict[str, Any], api_version: int) -> Any:
    ops = (body.get("update") or {}).get("comment")
    if not ops:
        return None
    if not isinstance(ops, list) or not isinstance(ops[0], dict) or "add" not in ops[0]:
        raise field_errors(
            {"comment": "Operation value must be an array of {'add': {'body': ...}}"}
        )
    return parse_comment_body(ops[0]["add"], api_version)


def parse_comment_body(payload: Any, api_version: int) -> Any:
    """The stored body of a comment request; Jira's 400 when it is empty or not ADF on v3."""
    body = payload.get("body") if isinstance(payload, dict) else None
    if api_version >= 3:
        if not isinstance(body, dict) or not adf.is_document(body):
            raise field_errors({"comment": adf.ADF_REQUIRED})
        if not body["content"]:
            raise field_errors({"comment": "Comment body can not be empty!"})
        check_adf(body)
    else:
        if not isinstance(body, str):
            raise field_errors({"comment": "Operation value must be a string"})
        if not body.strip():
            raise field_errors({"comment": "Comment body can not be empty!"})
    if too_long(body, TEXT_LIMIT):
        raise field_errors({"comment": too_long_message(TEXT_LIMIT)})
    return body


def add_comment(
    state: SimState, user: User, issue: Issue, body: Any, *, api_version: int, check: bool = True
) -> Comment:
    """Add a comment (body already parsed); emits comment_created and jira:issue_updated."""
    project = state.project_by_id(issue.project_id)
    if check:
        state.require(user, project, Permission.COMMENT, "add comments")
    now = state.clock.now()
    comment = Comment(
        id=state.new_id(), author=user.account_id, body=body, created=now, updated=now
    )
    issue.comments.append(comment)
    issue.updated = now
    state.emit(
        IssueEvent(
            webhook_event="comment_created",
            event_type="comment_created",
            issue=issue,
            user=user,
            comment_id=comment.id,
        )
    )
    state.emit(
        IssueEvent(
            webhook_event="jira:issue_updated",
            event_type="issue_commented",
            issue=issue,
            user=user,
            comment_id=comment.id,
        )
    )
    return comment


def assign_issue(state: SimState, user: User, issue: Issue, body: Any) -> None:
    """Set or clear the assignee (``accountId`` on Cloud, ``name`` on Data Center)."""
    project = state.project_by_id(issue.project_id)
    state.require(user, project, Permission.ASSIGN, "assign issues")
    if not isinstance(body, dict):
        raise bad_request("Can not deserialize the request: a user object expected.")
    key = "accountId" if state.flavour == "cloud" else "name"
    ref = body.get(key)
    if ref is None and key not in body:
        raise field_errors({key: f"'{key}' is required; null unassigns the issue."})
    new = None
    if ref not in (None, "-1"):
        target = state.user_ref(str(ref))
        if target is None or not target.active or not state.can(target, project, Permission.BROWSE):
            raise field_errors({"assignee": f"User '{ref}' cannot be assigned issues."})
        new = target.account_id
    old = issue.fields.get("assignee")
    if old == new:
        return
    issue.fields["assignee"] = new
    issue.updated = state.clock.now()

    def shown(account: str | None) -> tuple[str | None, str | None]:
        if account is None:
            return None, None
        who = state.users[account]
        return (who.account_id if state.flavour == "cloud" else who.name), who.display_name

    (fid, fstr), (tid, tstr) = shown(old), shown(new)
    item = ChangeItem(
        field="assignee",
        fieldtype="jira",
        field_id="assignee",
        from_=fid,
        from_string=fstr,
        to=tid,
        to_string=tstr,
    )
    state.emit(
        IssueEvent(
            webhook_event="jira:issue_updated",
            event_type="issue_assigned",
            issue=issue,
            user=user,
            changelog=(item,),
        )
    )


def move_issue(
    state: SimState, user: User, issue: Issue, project_key: str, issuetype: str | None = None
) -> None:
    """Move ``issue`` to another project: a new key, the same id (the old key stays an alias)."""
    target = state.project(project_key)
    if target.id == issue.project_id:
        raise bad_request(f"Issue {issue.key} is already in project {target.key}.")
    it = resolve_issuetype(
        state, target, {"name": issuetype or state.issue_types[issue.issuetype_id].name}
    )
    old_key = issue.key
    issue.previous_keys.append(old_key)
    issue.key = f"{target.key}-{target.next_number}"
    target.next_number += 1
    issue.project_id, issue.issuetype_id = target.id, it.id
    if issue.status_id not in target.workflow.statuses:
        issue.status_id = target.workflow.initial_status
    issue.updated = state.clock.now()
    items = (
        ChangeItem(
            field="project",
            fieldtype="jira",
            field_id="project",
            from_=None,
            from_string=old_key.split("-")[0],
            to=target.id,
            to_string=target.key,
        ),
        ChangeItem(
            field="Key",
            fieldtype="jira",
            field_id="issuekey",
            from_=None,
            from_string=old_key,
            to=None,
            to_string=issue.key,
        ),
    )
    state.emit(
        IssueEvent(
            webhook_event="jira:issue_updated",
            event_type="issue_moved",
            issue=issue,
            user=user,
            changelog=items,
        )
    )


def delete_issue(state: SimState, user: User, issue: Issue, *, check: bool = True) -> None:
    """Delete ``issue``; emits jira:issue_deleted."""
    if check:
        state.require(
            user, state.project_by_id(issue.project_id), Permission.DELETE, "delete issues"
        )
    if issue.id not in state.issues:
        raise JiraHttpError(404, {"errorMessages": [state.missing_issue_message()], "errors": {}})
    del state.issues[issue.id]
    state.emit(
        IssueEvent(
            webhook_event="jira:issue_deleted", event_type="issue_deleted", issue=issue, user=user
        )
    )
