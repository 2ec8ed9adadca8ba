"""Jira → engine: the group columns a merge takes from Jira, and their audit lines.

A state taken from Jira sets the group's state; reaching resolved computes the
resolved-until rule from the issue's fix versions
(:func:`syncengine.domain.fixversions.rule_for_done`), and so does a change of
fix versions while the issue stays done. Reopening clears the rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncengine.domain.fixversions import rule_for_done
from syncengine.domain.groups import GroupState
from syncengine.domain.merge import ApplyFromJira, Conflict, FieldMerge, LinkMerge
from syncengine.store.link_sync import AuditEntry, GroupSyncView
from syncengine.sync.config import ProjectSync
from syncengine.sync.link_values import JiraValues, jsonable

__all__ = ["ACTOR", "conflict_entry", "engine_changes"]

ACTOR = "sync"


def engine_changes(
    cfg: ProjectSync,
    group: GroupSyncView,
    merged: LinkMerge,
    jira: JiraValues,
    now: datetime,
) -> tuple[dict[str, Any], list[AuditEntry], list[str]]:
    """The group columns Jira's changes set, their audit lines, and the problems to show."""
    updates: dict[str, Any] = {}
    audits: list[AuditEntry] = []
    problems: list[str] = []
    state = _applied_value(merged.state)
    if isinstance(state, GroupState) and state.value != group.state:
        updates["state"] = state.value
        if state in (GroupState.OPEN, GroupState.IN_PROGRESS):
            updates["resolve_rule"] = None
            updates["resolved_at"] = None
        audits.append(_apply_entry("state", group.state, state.value))
    assignee = _applied_value(merged.assignee)
    if isinstance(merged.assignee.decision, ApplyFromJira | Conflict) and (
        assignee is not _NOTHING and assignee != group.assignee
    ):
        updates["assignee"] = assignee
        audits.append(_apply_entry("assignee", group.assignee, assignee))
    versions_applied = _applied_value(merged.fix_versions) is not _NOTHING
    resolved_now = updates.get("state") == GroupState.RESOLVED.value
    still_resolved = group.state == GroupState.RESOLVED.value and "state" not in updates
    if resolved_now or (versions_applied and still_resolved and jira.values.state is state):
        resolved_at = now if resolved_now or group.resolved_at is None else group.resolved_at
        until = rule_for_done(
            jira.values.fix_versions, resolved_at=resolved_at, config=cfg.fix_versions
        )
        updates["resolve_rule"] = until.rule.to_json()
        updates["resolved_at"] = resolved_at
        problems.extend(until.problems)
        audits.append(
            AuditEntry(
                actor=ACTOR,
                action="group.resolved_until",
                detail={
                    "fix_versions": sorted(jira.values.fix_versions),
                    "fix_version": until.fix_version,
                    "rule": until.rule.to_json(),
                    "describe": until.rule.describe(),
                },
            )
        )
    return updates, audits, problems


class _Nothing:
    """No value is taken from Jira for a field."""


_NOTHING = _Nothing()


def _applied_value(item: FieldMerge[Any]) -> Any:
    decision = item.decision
    if isinstance(decision, Conflict):
        decision = decision.then
    return decision.value if isinstance(decision, ApplyFromJira) else _NOTHING


def _apply_entry(name: str, before: Any, after: Any) -> AuditEntry:
    return AuditEntry(
        actor=ACTOR,
        action="sync.apply",
        detail={"field": name, "before": before, "after": after},
    )


def conflict_entry(name: str, conflict: Conflict[Any], issue_key: str) -> AuditEntry:
    return AuditEntry(
        actor=ACTOR,
        action="sync.conflict",
        detail={
            "field": name,
            "issue": issue_key,
            "engine": jsonable(conflict.engine),
            "jira": jsonable(conflict.jira),
            "winner": conflict.winner.value,
            "resolved_to": jsonable(conflict.resolved_to),
            "policy": conflict.policy.value,
        },
    )
