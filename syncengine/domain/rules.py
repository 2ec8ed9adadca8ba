"""Ticket rules: when an error group is due a Jira ticket.

Per project (``RuleSettings``; this module's :class:`TicketRules` mirrors it key
for key), checked in this order — the first that fails gives :class:`NotDue`:

1. ``enabled``: rules off means tickets are only created by hand.
2. The group has no ticket yet (linked, or a create already queued).
3. The group's state is not one of ``never_states`` (muted, by default).
4. Occurrences: the group has reached ``min_occurrences`` (1 = "when the group is
   new"). With ``window_minutes`` it must reach them within that window; the
   caller counts the reports since :func:`window_start` and passes the count.
5. ``filters``, in order, all hold for the attributes of the report being
   ingested (its version included, under the project's version attribute):

   - ``equals`` / ``not_equals``: exact string comparison; a missing attribute
     is not equal to anything (so ``not_equals`` holds for it);
   - ``regex``: ``re.search`` finds the pattern in the value (anchor with
     ``^...$`` for a whole-value match); a missing attribute fails;
   - ``version_gt`` / ``version_ge`` / ``version_lt`` / ``version_le``: the value
     compared with the filter's version under the project's ``version_scheme``;
     a missing or unparseable value fails, and the reason says so.

Then :class:`TicketDue`. Every decision carries a ``reason`` a user can read.
Bad filters (a regex that does not compile, a version bound the scheme cannot
read) are found by :func:`validate_rules` at configuration time; should one
reach :func:`ticket_due` anyway it raises :class:`InvalidTicketRules`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from syncengine.domain.groups import GroupState
from syncengine.domain.versions import (
    UnparseableVersion,
    Version,
    VersionScheme,
    parse_version,
)
from syncengine.errors import ConfigError

__all__ = [
    "AttributeFilter",
    "FilterOp",
    "InvalidTicketRules",
    "NotDue",
    "TicketDue",
    "TicketRules",
    "ticket_due",
    "validate_rules",
    "window_start",
]


class FilterOp(StrEnum):
    """How an :class:`AttributeFilter` compares (``AttributeFilter.op`` in settings)."""

    EQUALS = "equals"
    NOT_EQUALS = "not_equals"
    REGEX = "regex"
    VERSION_GT = "version_gt"
    VERSION_GE = "version_ge"
    VERSION_LT = "version_lt"
    VERSION_LE = "version_le"


_VERSION_OPS: dict[FilterOp, tuple[str, Callable[[Version, Version], bool]]] = {
    FilterOp.VERSION_GT: (">", operator.gt),
    FilterOp.VERSION_GE: ("≥", operator.ge),
    FilterOp.VERSION_LT: ("<", operator.lt),
    FilterOp.VERSION_LE: ("≤", operator.le),
}


@dataclass(frozen=True, kw_only=True, slots=True)
class AttributeFilter:
    """One ordered condition on the report's attributes."""

    attribute: str
    op: FilterOp = FilterOp.EQUALS
    value: str

    def describe(self) -> str:
        return f"{self.attribute} {self.op.value} {self.value!r}"


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketRules:
    """``RuleSettings`` of one project, plus its ``sync.version_scheme`` for filters."""

    enabled: bool = True
    min_occurrences: int = 1
    window_minutes: int | None = None
    filters: tuple[AttributeFilter, ...] = ()
    never_states: tuple[GroupState, ...] = (GroupState.MUTED,)
    version_scheme: VersionScheme = VersionScheme.LOOSE


class InvalidTicketRules(ConfigError):
    """Ticket rules cannot be used; ``problems`` has one line per problem (a ConfigError)."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__([f"invalid ticket rule: {problem}" for problem in problems])


@dataclass(frozen=True, kw_only=True, slots=True)
class TicketDue:
    """The group is due a ticket now."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class NotDue:
    """The group is not due a ticket; ``reason`` says which rule held it back."""

    reason: str


def validate_rules(rules: TicketRules) -> list[str]:
    """Every problem with ``rules``, one line each naming the key; empty when usable."""
    problems: list[str] = []
    if rules.min_occurrences < 1:
        problems.append(f"min_occurrences: {rules.min_occurrences} must be at least 1")
    if rules.window_minutes is not None and rules.window_minutes < 1:
        problems.append(f"window_minutes: {rules.window_minutes} must be at least 1 (or unset)")
    for index, item in enumerate(rules.filters):
        problem = _filter_problem(item, rules.version_scheme)
        if problem:
            problems.append(f"filters[{index}] ({item.describe()}): {problem}")
    return problems


def window_start(rules: TicketRules, now: datetime) -> datetime | None:
    """From when the caller counts occurrences for ``count_in_window`` (None: no window)."""
    if rules.window_minutes is None:
        return None
    return now - timedelta(minutes=rules.window_minutes)


def ticket_due(
    rules: TicketRules,
    *,
    state: GroupState,
    has_ticket: bool,
    count: int,
    count_in_window: int | None = None,
    attributes: Mapping[str, str],
) -> TicketDue | NotDue:
    """Whether a group is due a ticket after a report with ``attributes`` arrived.

    ``has_ticket``: the group is linked or a create is already queued.
    ``count``: the group's occurrences so far; ``count_in_window``: those since
    :func:`window_start`, required when the rules have a window (``ValueError``
    otherwise). Raise :class:`InvalidTicketRules` for a filter that cannot be used.
    """
    counted = _occurrences(rules, count, count_in_window)
    held_back = _held_back(rules, state=state, has_ticket=has_ticket, counted=counted)
    if held_back is None:
        for index, item in enumerate(rules.filters):
            failed = _filter_fails(item, attributes, rules.version_scheme)
            if failed:
                held_back = f"filter {index + 1} ({item.describe()}) does not hold: {failed}"
                break
    if held_back is not None:
        return NotDue(reason=held_back)
    if rules.min_occurrences == 1 and rules.window_minutes is None:
        return TicketDue(reason="a new group")
    where = f" within {rules.window_minutes} minutes" if rules.window_minutes else ""
    return TicketDue(reason=f"{counted} occurrences{where} (threshold {rules.min_occurrences})")


def _held_back(
    rules: TicketRules, *, state: GroupState, has_ticket: bool, counted: int
) -> str | None:
    if not rules.enabled:
        return "ticket rules are disabled for this project; create tickets by hand"
    if has_ticket:
        return "the group already has a ticket"
    if state in rules.never_states:
        return f"{state.value} groups never get tickets (never_states)"
    if counted < rules.min_occurrences:
        where = f" in the last {rules.window_minutes} minutes" if rules.window_minutes else ""
        return f"{counted} of {rules.min_occurrences} occurrences{where}"
    return None


def _occurrences(rules: TicketRules, count: int, count_in_window: int | None) -> int:
    if rules.window_minutes is None:
        return count
    if count_in_window is None:
        raise ValueError(
            "these rules have a window: pass count_in_window, counted since window_start()"
        )
    return count_in_window


def _filter_problem(item: AttributeFilter, scheme: VersionScheme) -> str | None:
    if not item.attribute:
        return "attribute must not be empty"
    if item.op is FilterOp.REGEX:
        try:
            re.compile(item.value)
        except re.error as exc:
            return f"the regex does not compile: {exc}"
    elif item.op in _VERSION_OPS:
        try:
            parse_version(item.value, scheme)
        except UnparseableVersion as exc:
            return str(exc)
    return None


def _filter_fails(
    item: AttributeFilter, attributes: Mapping[str, str], scheme: VersionScheme
) -> str | None:
    """None when the filter holds, else why it does not."""
    problem = _filter_problem(item, scheme)
    if problem:
        raise InvalidTicketRules([f"{item.describe()}: {problem}"])
    value = attributes.get(item.attribute)
    if item.op is FilterOp.NOT_EQUALS:
        return None if value != item.value else f"{item.attribute} is {value!r}"
    if value is None:
        return f"the report has no {item.attribute!r} attribute"
    if item.op is FilterOp.EQUALS:
        return None if value == item.value else f"{item.attribute} is {value!r}"
    if item.op is FilterOp.REGEX:
        found = re.search(item.value, value)
        return None if found else f"{item.attribute} {value!r} does not match"
    symbol, compare = _VERSION_OPS[item.op]
    try:
        seen = parse_version(value, scheme)
    except UnparseableVersion as exc:
        return str(exc)
    bound = parse_version(item.value, scheme)
    return None if compare(seen, bound) else f"{item.attribute} {value} is not {symbol} {bound}"
