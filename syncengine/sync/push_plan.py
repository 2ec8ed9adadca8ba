"""What a push sends: the fields a merge owes Jira, the context of one push, its errors.

Helpers of :mod:`syncengine.sync.executor` (engine → Jira): which field values a
merge pushes, which of them a dead push already found unreachable (a state no
workflow path leads to from the issue's status), and the errors a push raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncengine.domain.merge import Conflict, LinkMerge, PushToJira
from syncengine.errors import JiraPermanentError, JiraTransientError
from syncengine.jira.client import JiraClient
from syncengine.jira.models import JiraIssue
from syncengine.store.link_sync import GroupSyncView
from syncengine.store.links import LinkRecord
from syncengine.sync.config import ProjectSync

__all__ = ["MovedMeanwhile", "NoTransitionError", "PushContext", "pushes_of", "reachable"]


class NoTransitionError(JiraPermanentError):
    """No transition offered from the issue's status leads to the wanted state.

    ``at_status``: the id of the Jira status no path leads away from (the link is
    not pushed that state again while its issue stays there).
    """

    def __init__(self, message: str, *, fix: str = "", at_status: str | None = None) -> None:
        super().__init__(message, fix=fix)
        self.at_status = at_status


class MovedMeanwhile(JiraTransientError):
    """Jira refused a transition because the issue moved meanwhile: merge again later."""


@dataclass(frozen=True, kw_only=True, slots=True)
class PushContext:
    """What every push of one run needs."""

    cfg: ProjectSync
    client: JiraClient
    link: LinkRecord
    group: GroupSyncView
    issue: JiraIssue
    item_id: int


def reachable(
    pushes: list[tuple[str, Any]], unreachable: tuple[dict[str, Any], ...], issue: JiraIssue
) -> tuple[list[tuple[str, Any]], list[str]]:
    """``pushes`` without a state a dead push found no path to from the issue's status,
    and the problems to keep showing for those (retrying would only fail again)."""
    status = issue.status.id if issue.status is not None else None
    kept: list[tuple[str, Any]] = []
    stuck: list[str] = []
    for name, value in pushes:
        mark = next(
            (
                m
                for m in unreachable
                if name == "state" and m.get("state") == value.value and m.get("status") == status
            ),
            None,
        )
        if mark is None:
            kept.append((name, value))
        else:
            stuck.append(str(mark.get("error") or f"{issue.key} cannot be moved to {value.value}"))
    return kept, stuck


def pushes_of(merged: LinkMerge) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name in ("state", "assignee"):
        decision = getattr(merged, name).decision
        if isinstance(decision, Conflict):
            decision = decision.then
        if isinstance(decision, PushToJira) and (name != "state" or decision.value is not None):
            found.append((name, decision.value))
    return found
