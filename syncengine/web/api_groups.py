"""JSON API of error groups: list and search, one group in full, and what admins do to it.

``/api/v1/projects/{project}/groups…``. Admins only: the admin token
(``Authorization: Bearer``) or an admin's dashboard session, whose POSTs carry
the CSRF token in ``X-CSRF-Token``. Errors are problem-details JSON (RFC 9457).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from syncengine.domain.groups import GroupSnapshot, GroupState
from syncengine.store.group_queries import GroupFilter
from syncengine.sync.changes import ChangeResult
from syncengine.sync.group_admin import MAX_TOP, GroupDetail
from syncengine.web.auth import Forbidden, PrincipalDep, User
from syncengine.web.csrf import require_csrf
from syncengine.web.problem_documents import problem, problem_responses
from syncengine.web.request_bodies import NO_BODY
from syncengine.web.services import ServicesDep

__all__ = ["router"]

MAX_LIMIT = 200


def _admin(user: PrincipalDep) -> User:
    if not user.is_admin:
        raise Forbidden("error groups are for admins")
    return user


AdminApiDep = Annotated[User, Depends(_admin)]
GroupId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The group's id")]

router = APIRouter(
    prefix="/api/v1/projects/{project}/groups",
    tags=["groups"],
    responses=problem_responses(401, 403, 404),
)


class GroupOut(BaseModel):
    """An error group as lists show it."""

    id: int
    project: str
    fingerprint: str
    state: GroupState
    classifier: str
    message: str
    count: int
    first_seen: datetime
    last_seen: datetime
    first_version: str | None
    last_version: str | None
    assignee: str | None
    regression_count: int
    jira_issue_key: str | None = Field(description="The linked Jira issue, if any")
    last_sync_error: str | None = Field(description="The last Jira error of the group's sync")
    version_problem: str | None = Field(
        None,
        description="Why the versions of the group's reports cannot be ordered under the "
        "project's version scheme (so they cannot show a regression); null when they can",
    )


class GroupList(BaseModel):
    """One page of groups; pass ``next_cursor`` back (with the same sort) for the next."""

    groups: list[GroupOut]
    next_cursor: str | None


class AttributeValueOut(BaseModel):
    """One value of an attribute, with its count and share of the group's reports."""

    value: str
    count: int
    share: float = Field(ge=0, le=1, description="count / the group's count")
    last_seen: datetime


class FrameOut(BaseModel):
    """One frame of the sample callstack."""

    function: str
    module: str
    filename: str
    line: int | None
    in_app: bool | None


class LinkOut(BaseModel):
    """The group's Jira issue as last synced."""

    issue_key: str
    issue_id: str
    url: str | None = Field(description="The issue in Jira's web UI (when the URL is known)")
    status: str | None
    assignee: str | None
    fix_versions: list[str]
    synced_at: datetime | None
    impact_written_at: datetime | None = Field(
        None, description="When the impact fields were last written to the issue"
    )
    impact: dict[str, Any] = Field(
        default_factory=dict, description="What that write set, by Jira field name"
    )
    backlinked_at: datetime | None = Field(
        None, description="When the back-link comment and remote link were added"
    )


class AuditOut(BaseModel):
    """One entry of the group's audit trail."""

    actor: str
    action: str
    detail: dict[str, Any]
    created_at: datetime


class DayOut(BaseModel):
    """One day of a group's history (UTC, by report time)."""

    day: date
    count: int
    versions: dict[str, int] = Field(description='Reports per version ("" for none)')


class GroupDetailOut(GroupOut):
    """A group in full: top attribute values, sample callstack, Jira link, resolution, audit."""

    attributes: dict[str, list[AttributeValueOut]]
    frames: list[FrameOut]
    link: LinkOut | None
    resolve_rule: list[dict[str, Any]] | None = Field(
        description="The resolved-until rule (Backtrace invariant form), when resolved with one"
    )
    resolved_at: datetime | None
    audit: list[AuditOut] = Field(description="Newest first, at most 50")
    history: list[DayOut] = Field(description="The last 30 days, oldest first")


class StateChange(BaseModel):
    """The new state; resolving may carry a version or a rule (not both)."""

    model_config = ConfigDict(extra="forbid")

    state: GroupState
    until_version: str | None = Field(
        default=None, max_length=128, description="Resolved until this version (resolved only)"
    )
    rule: list[dict[str, Any]] | None = Field(
        default=None, description="Resolved-until rule in Backtrace's JSON form (resolved only)"
    )


class AssigneeChange(BaseModel):
    """The new assignee (an e-mail), or null for nobody."""

    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(max_length=320)


class LinkRequest(BaseModel):
    """An existing Jira issue to link the group to."""

    model_config = ConfigDict(extra="forbid")

    issue_key: str = Field(min_length=3, max_length=64, examples=["CRASH-12"])


class ChangeOut(BaseModel):
    """What a change did."""

    group_id: int
    field: str
    before: str | None
    after: str | None
    pushed_to_jira: bool = Field(description="True when a push to the linked issue was queued")


class TicketOut(BaseModel):
    """What "create ticket now" did."""

    group_id: int
    message: str


def _out(group: GroupSnapshot, key: str | None) -> dict[str, Any]:
    return {
        "id": group.id,
        "project": group.project,
        "fingerprint": group.fingerprint,
        "state": group.state,
        "classifier": group.classifier,
        "message": group.message,
        "count": group.count,
        "first_seen": group.first_seen,
        "last_seen": group.last_seen,
        "first_version": group.first_version,
        "last_version": group.last_version,
        "assignee": group.assignee,
        "regression_count": group.regression_count,
        "jira_issue_key": key,
        "last_sync_error": group.last_sync_error,
        "version_problem": group.version_problem,
    }


def _detail_out(detail: GroupDetail) -> GroupDetailOut:
    g, link = detail.group, detail.link
    return GroupDetailOut(
        **_out(g, link.issue_key if link else None),
        attributes={
            name: [
                AttributeValueOut(
                    value=v.value, count=v.count, share=round(v.share, 4), last_seen=v.last_seen
                )
                for v in values
            ]
            for name, values in detail.attributes.items()
        },
        frames=[
            FrameOut(
                function=f.function,
                module=f.module,
                filename=f.filename,
                line=f.line,
                in_app=f.in_app,
            )
            for f in g.frames
        ],
        link=None
        if link is None
        else LinkOut(
            issue_key=link.issue_key,
            issue_id=link.issue_id,
            url=detail.issue_url,
            status=link.snapshot.status,
            assignee=link.snapshot.assignee,
            fix_versions=list(link.snapshot.fix_versions),
            synced_at=link.synced_at,
            impact_written_at=link.impact_written_at,
            impact=dict(link.impact_fields),
            backlinked_at=link.backlinked_at,
        ),
        resolve_rule=detail.resolve_rule,
        resolved_at=detail.resolved_at,
        audit=[
            AuditOut(actor=e.actor, action=e.action, detail=e.detail, created_at=e.created_at)
            for e in detail.audit
        ],
        history=[DayOut(day=h.day, count=h.count, versions=h.versions) for h in detail.history],
    )


@router.get("", response_model=GroupList, responses=problem_responses(400))
async def list_groups(
    project: str,
    *,
    user: AdminApiDep,
    services: ServicesDep,
    q: Annotated[
        str,
        Query(
            max_length=200,
            description="Fingerprint, classifier or message containing it, or a Jira key",
        ),
    ] = "",
    state: GroupState | None = None,
    assignee: Annotated[str | None, Query(max_length=320, description="E-mail")] = None,
    has_ticket: bool | None = None,
    regressed: bool | None = None,
    sort: Literal["last_seen", "count"] = "last_seen",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:
    """The project's groups matching the filters, by last seen or count (highest first)."""
    record = await services.groups.project(project)
    wanted = GroupFilter(
        text=q,
        state=state,
        assignee=assignee,
        has_ticket=has_ticket,
        regressed=regressed,
        sort=sort,
    )
    try:
        page = await services.groups.page(record.id, limit=limit, cursor=cursor, wanted=wanted)
    except ValueError as exc:
        return problem(400, f"{exc}; start again without a cursor")
    return GroupList(
        groups=[GroupOut(**_out(g, page.issue_keys.get(g.id))) for g in page.groups],
        next_cursor=page.next_cursor,
    )


@router.get("/{group_id}", response_model=GroupDetailOut)
async def get_group(
    project: str,
    group_id: GroupId,
    user: AdminApiDep,
    services: ServicesDep,
    top: Annotated[int, Query(ge=1, le=MAX_TOP, description="Values per attribute")] = 10,
) -> GroupDetailOut:
    """One group: counts, versions, top attribute values with shares, Jira link, audit trail."""
    await services.groups.project(project)
    return _detail_out(await services.groups.detail(group_id, project=project, top=top))


def _change(result: ChangeResult) -> ChangeOut:
    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return ChangeOut(
        group_id=result.group_id,
        field=result.field,
        before=text(result.before),
        after=text(result.after),
        pushed_to_jira=result.pushed,
    )


async def _check(services: ServicesDep, project: str, group_id: int) -> None:
    await services.groups.project(project)
    await services.groups.detail(group_id, project=project, top=1)


@router.post(
    "/{group_id}/state",
    response_model=ChangeOut,
    dependencies=[Depends(require_csrf)],
    responses=problem_responses(400),
)
async def set_state(
    project: str, group_id: GroupId, body: StateChange, user: AdminApiDep, services: ServicesDep
) -> ChangeOut:
    """Change the group's state (audited; a linked issue is transitioned in Jira)."""
    await _check(services, project, group_id)
    result = await services.groups.change_state(
        group_id,
        body.state,
        actor=user.name,
        until_version=body.until_version,
        rule=body.rule,
    )
    return _change(result)


@router.post(
    "/{group_id}/assignee",
    response_model=ChangeOut,
    dependencies=[Depends(require_csrf)],
    responses=problem_responses(400),
)
async def set_assignee(
    project: str,
    group_id: GroupId,
    body: AssigneeChange,
    user: AdminApiDep,
    services: ServicesDep,
) -> ChangeOut:
    """Give the group to someone (or nobody); audited and pushed to a linked issue."""
    await _check(services, project, group_id)
    return _change(await services.groups.assign(group_id, body.assignee, actor=user.name))


@router.post(
    "/{group_id}/ticket",
    response_model=TicketOut,
    dependencies=[Depends(require_csrf)],
    openapi_extra=NO_BODY,
)
async def create_ticket(
    project: str, group_id: GroupId, user: AdminApiDep, services: ServicesDep
) -> TicketOut:
    """Queue the group's Jira ticket now, whatever the ticket rules say (audited)."""
    await _check(services, project, group_id)
    message = await services.groups.create_ticket(group_id, actor=user.name)
    return TicketOut(group_id=group_id, message=message)


@router.post(
    "/{group_id}/link",
    response_model=LinkOut,
    dependencies=[Depends(require_csrf)],
    responses=problem_responses(400, 502),
)
async def link_existing(
    project: str, group_id: GroupId, body: LinkRequest, user: AdminApiDep, services: ServicesDep
) -> LinkOut:
    """Link the group to an issue that already exists in Jira (checked there first)."""
    await _check(services, project, group_id)
    await services.groups.link_issue(group_id, body.issue_key, actor=user.name)
    detail = _detail_out(await services.groups.detail(group_id, project=project, top=1))
    assert detail.link is not None
    return detail.link
