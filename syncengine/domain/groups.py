"""Read-only views of an error group, as templates, rules and sync decisions see it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from syncengine.domain.reports import Frame

__all__ = ["AttributeValue", "GroupSnapshot", "GroupState", "rank_values"]


class GroupState(StrEnum):
    """The engine-side state of an error group."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    MUTED = "muted"


@dataclass(frozen=True, kw_only=True, slots=True)
class AttributeValue:
    """One value of one attribute of a group, with how often and when it was last seen."""

    value: str
    count: int
    last_seen: datetime


def rank_values(values: Iterable[AttributeValue]) -> tuple[AttributeValue, ...]:
    """``values`` best first: highest count, then most recently seen, then lexically smallest.

    The one place the tie rule lives; ``$attribute`` expansion, the description
    and the store's snapshot builder all rank through it.
    """
    # Two stable sorts: the secondary key (value, ascending) first, then the primary
    # keys descending; comparing datetimes directly avoids naive/aware timestamp traps.
    by_value = sorted(values, key=lambda v: v.value)
    return tuple(sorted(by_value, key=lambda v: (v.count, v.last_seen), reverse=True))


@dataclass(frozen=True, kw_only=True, slots=True)
class GroupSnapshot:
    """Everything about a group that a template or a rule may read.

    ``attributes`` maps an attribute name to its values, best first as
    :func:`rank_values` orders them (the store builds snapshots that way);
    ``$attribute`` expansion and the description rank again, so any order is safe.
    """

    id: int
    project: str
    fingerprint: str
    state: GroupState
    count: int
    first_seen: datetime
    last_seen: datetime
    classifier: str = ""
    message: str = ""
    first_version: str | None = None
    last_version: str | None = None
    assignee: str | None = None
    regression_count: int = 0
    last_sync_error: str | None = None
    version_problem: str | None = None  # why reports' versions cannot be ordered, if so
    attributes: dict[str, tuple[AttributeValue, ...]] = field(default_factory=dict)
    frames: tuple[Frame, ...] = ()
    url: str = ""

    def top_value(self, name: str) -> str | None:
        """The highest-count value of attribute ``name``, or None when the group has none."""
        values = self.attributes.get(name)
        return rank_values(values)[0].value if values else None
