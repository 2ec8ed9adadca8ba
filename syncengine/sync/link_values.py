"""Both sides of a link in the merge's terms (:class:`~syncengine.domain.merge.LinkValues`).

Jira's issue becomes engine terms here: its status (and resolution) through the
status mapping, its assignee through the user directory. Snapshots and in-flight
pushes are read back from their stored forms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from syncengine.domain.groups import GroupState
from syncengine.domain.merge import InFlight, LinkValues
from syncengine.domain.statuses import (
    AvailableTransition,
    JiraStatus,
    StatusMapping,
    satisfies,
    state_for,
)
from syncengine.jira.models import JiraIssue, JiraTransition
from syncengine.jira.models import JiraStatus as ClientStatus
from syncengine.store.links import LinkRecord, Snapshot
from syncengine.sync.users import UserDirectory

__all__ = [
    "ISSUE_FIELDS",
    "JiraValues",
    "available_transitions",
    "domain_status",
    "in_flight",
    "jira_values",
    "jsonable",
    "snapshot_of",
    "snapshot_values",
]

# The only fields a sync reads from Jira (GET issue, search, webhook payloads).
ISSUE_FIELDS = ("status", "assignee", "resolution", "resolutiondate", "fixVersions", "updated")


@dataclass(frozen=True, kw_only=True, slots=True)
class JiraValues:
    """Jira's side of a link in engine terms, and what could not be mapped."""

    values: LinkValues
    status: str | None
    problems: tuple[str, ...] = ()


def domain_status(status: ClientStatus) -> JiraStatus:
    """The client's status as the domain's (a missing category counts as undefined)."""
    return JiraStatus(
        id=status.id or "", name=status.name, category=status.category_key or "undefined"
    )


def _state(value: Any) -> GroupState | None:
    try:
        return GroupState(value) if value is not None else None
    except ValueError:
        return None


def snapshot_values(link: LinkRecord) -> LinkValues | None:
    """The link's snapshot as merge input; None for a link never synced (no state stored)."""
    snap = link.snapshot
    if snap.state is None and snap.status is None:
        return None
    return LinkValues(
        state=_state(snap.state),
        assignee=snap.assignee,
        fix_versions=frozenset(snap.fix_versions),
    )


def snapshot_of(values: LinkValues, status: str | None) -> Snapshot:
    """The stored form of agreed values."""
    return Snapshot(
        state=values.state.value if values.state is not None else None,
        status=status,
        assignee=values.assignee,
        fix_versions=tuple(sorted(values.fix_versions)),
    )


def jira_values(
    issue: JiraIssue,
    *,
    mapping: StatusMapping,
    users: UserDirectory,
    fallback: LinkValues | None,
    fallback_status: str | None = None,
) -> JiraValues:
    """Jira's issue in engine terms.

    A status that maps to no engine state keeps the snapshot's state (``fallback``)
    so it is neither applied nor taken for a change; the reason is in ``problems``.
    So does the status the snapshot was agreed in (``fallback_status``) when it
    satisfies the snapshot's state in meaning (a group resolved while its issue
    sits in Won't Do): Jira has not changed since.
    """
    problems: list[str] = []
    state: GroupState | None = fallback.state if fallback is not None else None
    if issue.status is not None:
        status = domain_status(issue.status)
        inbound = state_for(status, issue.resolution, mapping)
        unchanged = (
            state is not None
            and fallback_status is not None
            and issue.status.name == fallback_status
            and satisfies(status, issue.resolution, state, mapping)
        )
        if inbound.state is None:
            problems.append(f"{issue.key}: {inbound.reason}")
        elif not unchanged:
            state = inbound.state
    values = LinkValues(
        state=state,
        assignee=users.engine_user(issue.assignee),
        fix_versions=frozenset(issue.fix_versions),
    )
    return JiraValues(
        values=values,
        status=issue.status.name if issue.status is not None else None,
        problems=tuple(problems),
    )


def in_flight(
    pushing: Iterable[Mapping[str, Any]],
    own: Mapping[str, Any] | None = None,
    step: str | None = None,
) -> InFlight:
    """Recorded, unconfirmed pushes of other items (oldest first) as the merge's
    ``in_flight``; ``own``: the running push's own record (what an earlier try of it may
    have left in Jira) and ``step``: the state of a chained push's step Jira's status is
    at, both the merge's ``ours``."""
    own = own or {}
    ours_state = [_state(v) for v in (step, own.get("state")) if v is not None]
    ours_assignee: list[str | None] = []
    if "assignee" in own:
        ours_assignee.append(str(own["assignee"]) if own["assignee"] is not None else None)
    states: list[GroupState | None] = []
    assignees: list[str | None] = []
    for entry in pushing:
        if "state" in entry:
            states.append(_state(entry["state"]))
        if "assignee" in entry:
            value = entry["assignee"]
            assignees.append(str(value) if value is not None else None)
    return InFlight(
        state=tuple(states),
        assignee=tuple(assignees),
        ours_state=tuple(ours_state),
        ours_assignee=tuple(ours_assignee),
    )


def available_transitions(found: Iterable[JiraTransition]) -> list[AvailableTransition]:
    """``GET transitions`` as the domain's choices (unavailable ones left out)."""
    return [
        AvailableTransition(
            id=t.id,
            name=t.name,
            to=domain_status(t.to_status),
            has_resolution_field="resolution" in t.fields,
        )
        for t in found
        if t.available and t.to_status is not None
    ]


def jsonable(value: Any) -> Any:
    """A merge value as audit-log JSON (sets sorted, states as their names)."""
    if isinstance(value, frozenset | set | tuple):
        return sorted(str(v) for v in value)
    if isinstance(value, GroupState):
        return value.value
    return value
