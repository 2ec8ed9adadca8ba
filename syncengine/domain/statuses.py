"""Status mapping between Jira statuses and engine states, both ways.

Inbound (:func:`state_for`): a Jira status (and the issue's resolution) gives an
engine state.

1. Configured sets first (``SyncSettings.state_statuses``): each engine state
   lists Jira statuses by id or by name (names compared case-insensitively).
2. Otherwise the status category: ``new`` → open, ``indeterminate`` →
   in_progress, ``done`` → resolved. Any other category is unmapped (the reason
   says which status, so the user can add it to ``state_statuses``).
3. A status that maps to resolved whose resolution is one of
   ``muted_resolutions`` ("Won't Do", "Duplicate") maps to muted instead.

Outbound (:func:`choose_transition`): to move an issue to an engine state, given
the transitions Jira offers from its current status (``GET transitions``):

- :class:`AlreadyThere` when the current status already satisfies the target in
  meaning (:func:`satisfies`: it maps to the target, or the target is resolved
  and the issue is closed in any done status, muted ones included — a group
  resolved while its issue sits in Won't Do is resolved already); nothing is
  sent: no double "Done";
- else the first transition that matches ``state_transitions[target]`` (its
  id, its name, or its target status's id or name);
- else the first transition whose target status is listed for the target
  state in ``state_statuses``;
- else the first whose target status, by its category, lands in the target
  state (Jira's order);
- else, when no offered transition lands there, one step along the workflow
  (:class:`Transition` with ``step=True``) to a status not visited yet — first
  one of category new, then indeterminate (a reopen: from there most workflows
  reach every state), never a done one — so the executor can chain
  transitions (Done → Reopen → Won't Do for muted), bounded in steps;
- else :class:`NoTransition`, whose reason lists what is available.

A configured transition that is not offered from the current status falls
back to the later steps (a workflow offers "Reopen" only from done, say). A
:class:`Transition` into a done status whose screen has a resolution field sets
the resolution: ``resolution_on_done`` for resolved, the first of
``muted_resolutions`` for muted. Without a resolution field, muted is reached
only through a status configured for muted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from syncengine.domain.groups import GroupState

__all__ = [
    "AlreadyThere",
    "AvailableTransition",
    "InboundState",
    "JiraStatus",
    "NoTransition",
    "StatusCategory",
    "StatusMapping",
    "Transition",
    "choose_transition",
    "satisfies",
    "state_for",
    "validate_mapping",
]


class StatusCategory(StrEnum):
    """Jira's status category keys."""

    NEW = "new"
    INDETERMINATE = "indeterminate"
    DONE = "done"
    UNDEFINED = "undefined"


_BY_CATEGORY = {
    StatusCategory.NEW.value: GroupState.OPEN,
    StatusCategory.INDETERMINATE.value: GroupState.IN_PROGRESS,
    StatusCategory.DONE.value: GroupState.RESOLVED,
}


@dataclass(frozen=True, kw_only=True, slots=True)
class JiraStatus:
    """A Jira status: its id, its name and its category key (``statusCategory.key``)."""

    id: str
    name: str
    category: str

    def matches(self, entry: str) -> bool:
        """Whether a configured entry names this status (by id, or name ignoring case)."""
        return entry == self.id or entry.casefold() == self.name.casefold()

    def describe(self) -> str:
        return f"{self.name!r} ({self.category})"


@dataclass(frozen=True, kw_only=True, slots=True)
class AvailableTransition:
    """One transition of ``GET /issue/{key}/transitions``.

    ``has_resolution_field``: the transition screen has a resolution field
    (``expand=transitions.fields``).
    """

    id: str
    name: str
    to: JiraStatus
    has_resolution_field: bool = False

    def describe(self) -> str:
        return f"{self.id} {self.name!r} → {self.to.describe()}"


@dataclass(frozen=True, kw_only=True, slots=True)
class StatusMapping:
    """``SyncSettings.state_statuses``, ``state_transitions``, ``resolution_on_done``,
    ``muted_resolutions``, with the state names turned into :class:`GroupState`."""

    state_statuses: Mapping[GroupState, tuple[str, ...]] = field(default_factory=dict)
    state_transitions: Mapping[GroupState, str] = field(default_factory=dict)
    resolution_on_done: str = "Done"
    muted_resolutions: tuple[str, ...] = ("Won't Do", "Duplicate")


@dataclass(frozen=True, kw_only=True, slots=True)
class InboundState:
    """The engine state a Jira status maps to (None: unmapped), and why."""

    state: GroupState | None
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class AlreadyThere:
    """The issue's status already maps to the target state: send nothing."""

    status: str


@dataclass(frozen=True, kw_only=True, slots=True)
class NoTransition:
    """No offered transition reaches the target state; ``reason`` lists what is offered."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Transition:
    """Run transition ``id``; set ``resolution`` when ``needs_resolution``.

    ``step``: a step on the way (the target is not reached yet: choose again from
    ``lands``, the status it leads to).
    """

    id: str
    name: str
    to_status: str
    needs_resolution: bool
    resolution: str | None
    via: str
    step: bool = False
    lands: JiraStatus | None = field(default=None, compare=False)


def validate_mapping(mapping: StatusMapping) -> list[str]:
    """Problems with ``mapping``: a status listed for two states, an empty entry."""
    problems: list[str] = []
    seen: dict[str, GroupState] = {}
    for state, entries in mapping.state_statuses.items():
        for entry in entries:
            key = entry.strip().casefold()
            if not key:
                problems.append(f"state_statuses.{state.value}: an entry is empty")
            elif key in seen and seen[key] is not state:
                problems.append(
                    f"state_statuses: {entry!r} is listed for both {seen[key].value} "
                    f"and {state.value}; list it for one state only"
                )
            else:
                seen[key] = state
    for state, value in mapping.state_transitions.items():
        if not value.strip():
            problems.append(f"state_transitions.{state.value}: is empty; remove it or name one")
    if not mapping.resolution_on_done.strip():
        problems.append("resolution_on_done: is empty; name a resolution such as 'Done'")
    return problems


def state_for(status: JiraStatus, resolution: str | None, mapping: StatusMapping) -> InboundState:
    """The engine state of an issue in ``status`` with ``resolution`` (None: unresolved)."""
    state: GroupState | None = None
    for candidate, entries in mapping.state_statuses.items():
        if any(status.matches(entry) for entry in entries):
            state, reason = candidate, f"status {status.name!r} is configured as {candidate.value}"
            break
    else:
        state = _BY_CATEGORY.get(status.category)
        if state is None:
            return InboundState(
                state=None,
                reason=f"status {status.describe()} has no engine state: its category is not "
                "new, indeterminate or done; list it in sync.state_statuses",
            )
        reason = f"status {status.name!r} is in category {status.category}"
    muted = {name.casefold() for name in mapping.muted_resolutions}
    if state is GroupState.RESOLVED and resolution and resolution.casefold() in muted:
        return InboundState(state=GroupState.MUTED, reason=f"resolution {resolution!r} is muted")
    return InboundState(state=state, reason=reason)


def satisfies(
    status: JiraStatus, resolution: str | None, target: GroupState, mapping: StatusMapping
) -> bool:
    """Whether an issue in ``status`` with ``resolution`` is in ``target`` in meaning.

    It maps to ``target``, or ``target`` is resolved and the issue is closed with a
    muted resolution (muted is resolved without regressions: both are done).
    """
    state = state_for(status, resolution, mapping).state
    return state is target or (target is GroupState.RESOLVED and state is GroupState.MUTED)


def choose_transition(
    target: GroupState,
    *,
    current: JiraStatus,
    current_resolution: str | None,
    available: Sequence[AvailableTransition],
    mapping: StatusMapping,
    visited: frozenset[str] = frozenset(),
) -> AlreadyThere | NoTransition | Transition:
    """How to bring an issue in ``current`` status to the engine state ``target``.

    ``visited``: ids of the statuses this push passed through already (a step
    never leads back to one of them).
    """
    if satisfies(current, current_resolution, target, mapping):
        return AlreadyThere(status=current.name)
    configured = mapping.state_transitions.get(target)
    if configured:
        for item in available:
            if configured in (item.id, item.to.id) or configured.casefold() in (
                item.name.casefold(),
                item.to.name.casefold(),
            ):
                return _transition(item, target, mapping, via=f"configured as {configured!r}")
    listed = mapping.state_statuses.get(target, ())
    for item in available:
        if any(item.to.matches(entry) for entry in listed) and _lands_in(item, target, mapping):
            return _transition(item, target, mapping, via="configured status")
    for item in available:
        if _lands_in(item, target, mapping):
            return _transition(item, target, mapping, via="status category")
    seen = visited | {current.id}
    for category in (StatusCategory.NEW.value, StatusCategory.INDETERMINATE.value):
        for item in available:
            if item.to.category == category and item.to.id not in seen:
                step = _transition(item, target, mapping, via=f"a step towards {target.value}")
                return replace(step, step=True, needs_resolution=False, resolution=None)
    return NoTransition(reason=_nothing_fits(target, current, available, configured))


def _resolution_for(target: GroupState, mapping: StatusMapping) -> str | None:
    if target is GroupState.RESOLVED:
        return mapping.resolution_on_done
    if target is GroupState.MUTED and mapping.muted_resolutions:
        return mapping.muted_resolutions[0]
    return None


def _lands_in(item: AvailableTransition, target: GroupState, mapping: StatusMapping) -> bool:
    resolution = _resolution_for(target, mapping) if item.has_resolution_field else None
    return state_for(item.to, resolution, mapping).state is target


def _transition(
    item: AvailableTransition, target: GroupState, mapping: StatusMapping, *, via: str
) -> Transition:
    needs = item.has_resolution_field and item.to.category == StatusCategory.DONE.value
    resolution = _resolution_for(target, mapping) if needs else None
    if needs and resolution is None:
        resolution = mapping.resolution_on_done  # a done screen that asks for one: never blank
    return Transition(
        id=item.id,
        name=item.name,
        to_status=item.to.name,
        needs_resolution=needs,
        resolution=resolution,
        via=via,
        lands=item.to,
    )


def _nothing_fits(
    target: GroupState,
    current: JiraStatus,
    available: Sequence[AvailableTransition],
    configured: str | None,
) -> str:
    head = f"no transition from {current.describe()} leads to {target.value}"
    if configured:
        head += f" (configured {configured!r} is not offered from there)"
    if not available:
        return (
            f"{head}: Jira offers no transitions from this status; check the workflow and "
            "that the integration user has the Transition Issues permission"
        )
    offered = "; ".join(item.describe() for item in available)
    return (
        f"{head}; available: {offered}. Set sync.state_transitions.{target.value} "
        f"to one of them, or list its status in sync.state_statuses.{target.value}"
    )
