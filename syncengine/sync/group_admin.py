"""What people do to a group from the dashboard or the API, with one set of error answers.

Every action is audited by the engine service it calls; state and assignee
changes of a linked group queue a ``link.push`` to Jira (see
:mod:`syncengine.sync.changes`).
"""

from __future__ import annotations

import re
from typing import Any

from syncengine.bootstrap import Container
from syncengine.domain.groups import GroupState
from syncengine.domain.resolve import InvalidRule
from syncengine.errors import InvalidInput, StoreError
from syncengine.store.links import LinkRecord
from syncengine.sync.changes import ChangeResult

__all__ = ["ISSUE_KEY", "assign", "change_state", "link_issue"]

ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]+-[1-9][0-9]*$")
_MAX_EMAIL = 320


async def change_state(
    container: Container,
    group_id: int,
    state: GroupState,
    *,
    actor: str,
    until_version: str | None = None,
    rule: list[Any] | None = None,
) -> ChangeResult:
    """Move a group to ``state``; resolving may name a version or a Backtrace rule.

    Raises NotFound (no group) and InvalidInput (a rule or version where they do
    not belong, or a rule that cannot be used).
    """
    until_version = (until_version or "").strip() or None
    if state is not GroupState.RESOLVED or (until_version is None and rule is None):
        if until_version is not None or rule is not None:
            raise InvalidInput({"state": "a version or rule goes only with state 'resolved'"})
        return await container.changes.set_state(group_id, state, actor=actor)
    if container.sync is None:
        raise InvalidInput({"": "resolved-until rules need the sync service, which is not wired"})
    try:
        result, _ = await container.sync.manual.resolve(
            group_id, actor=actor, until_version=until_version, rule_json=rule
        )
    except InvalidRule as exc:
        raise InvalidInput({"rule": "; ".join(exc.problems)}) from exc
    return result


async def assign(
    container: Container, group_id: int, assignee: str | None, *, actor: str
) -> ChangeResult:
    """Give the group to ``assignee`` (an e-mail), or nobody for None/blank.

    Raises NotFound and InvalidInput (not an e-mail address).
    """
    value = (assignee or "").strip()
    if value and ("@" not in value or len(value) > _MAX_EMAIL or any(c.isspace() for c in value)):
        raise InvalidInput({"assignee": "give the assignee's e-mail address, or leave it empty"})
    return await container.changes.assign(group_id, value or None, actor=actor)


async def link_issue(container: Container, group_id: int, key: str, *, actor: str) -> LinkRecord:
    """Link the group to existing Jira issue ``key`` (read from Jira first).

    Raises NotFound, InvalidInput (a malformed key, or a link that already
    exists), and JiraError when Jira does not have the issue.
    """
    key = key.strip().upper()
    if not ISSUE_KEY.match(key):
        raise InvalidInput({"issue_key": f"{key!r} is not an issue key like CRASH-12"})
    try:
        return await container.manual.link_existing(group_id, key, actor=actor)
    except StoreError as exc:
        if type(exc) is not StoreError:  # busy or failing store: not the caller's to fix
            raise
        raise InvalidInput({"issue_key": str(exc)}) from exc
