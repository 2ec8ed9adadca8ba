"""Resolved-until rules set by hand (CLI and API), without Jira.

``resolve`` takes at most one of: a version (the project's configured rule type,
``version_ge`` by default, on its version attribute and scheme) or a rule in
Backtrace's JSON form; with neither, the group is resolved "until seen again"
(any later report reopens it). The change goes through
:class:`~syncengine.sync.changes.GroupChanges`: audited, and pushed to a linked
issue like any engine-side change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from syncengine.domain.groups import GroupState
from syncengine.domain.resolve import InvalidRule, ResolveRule, unbounded_rule
from syncengine.errors import NotFound
from syncengine.store.link_sync import LinkSyncStore
from syncengine.sync.changes import ChangeResult, GroupChanges
from syncengine.sync.executor import LinkSync

__all__ = ["ManualResolution"]


class ManualResolution:
    """Resolves and reopens groups on a person's behalf."""

    def __init__(
        self,
        *,
        changes: GroupChanges,
        store: LinkSyncStore,
        executor: LinkSync,
        clock: Callable[[], datetime],
    ) -> None:
        self._changes = changes
        self._store = store
        self._executor = executor
        self._clock = clock

    async def rule_for(
        self, group_id: int, *, until_version: str | None = None, rule_json: Any = None
    ) -> ResolveRule:
        """The rule ``resolve`` would store.

        Raises:
            NotFound: no such group.
            InvalidRule: both or a bad one given (the problems say what to fix).
        """
        group = await self._store.group(group_id)
        if group is None:
            raise NotFound(f"no error group {group_id}")
        if until_version is not None and rule_json is not None:
            raise InvalidRule(["give a version or a rule, not both"])
        cfg = self._executor.config(await self._executor.slug_of(group.project_id))
        if until_version is not None:
            rule_json = [
                {
                    "type": cfg.fix_versions.resolve_rule,
                    "field": cfg.fix_versions.version_attribute,
                    "version": until_version.strip(),
                }
            ]
        if rule_json is None:
            return unbounded_rule(self._clock())
        return ResolveRule.from_json(rule_json, default_scheme=cfg.scheme)

    async def resolve(
        self,
        group_id: int,
        *,
        actor: str,
        until_version: str | None = None,
        rule_json: Any = None,
    ) -> tuple[ChangeResult, ResolveRule]:
        """Resolve a group until the given version or rule (see the module docstring)."""
        rule = await self.rule_for(group_id, until_version=until_version, rule_json=rule_json)
        result = await self._changes.set_state(
            group_id, GroupState.RESOLVED, actor=actor, resolve_rule=rule.to_json()
        )
        return result, rule

    async def reopen(self, group_id: int, *, actor: str) -> ChangeResult:
        """Reopen a group (its rule is cleared). Raises NotFound for an unknown group."""
        return await self._changes.set_state(group_id, GroupState.OPEN, actor=actor)
