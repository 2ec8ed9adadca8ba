"""The three-way merge of one issue link: state, assignee and fix versions.

Per field the inputs are the link's snapshot (the last value both sides agreed
on: the merge base), the engine's current value, Jira's current value (already
in engine terms: a state through :mod:`syncengine.domain.statuses`, a user
through the user map), the values of our pushes that Jira has not confirmed
yet (``in_flight``, oldest first, from the outbox) and, for ``newest_wins``,
when each side last changed the field. Rules, in order:

1. mode ``off``: :class:`NoOp`.
2. Engine and Jira agree: :class:`NoOp`; the agreed value becomes the snapshot.
3. Jira is unchanged — equal to the snapshot, or equal to one of our in-flight
   pushes (our own echo, possibly of an older push): the engine's value goes to
   Jira (:class:`PushToJira`) unless it is already the newest in-flight push.
4. Jira was changed by someone: in ``one_way`` mode Jira is never applied (the
   engine's value is pushed if the engine changed, else nothing); in
   ``two_way`` mode, if the engine has no change of its own (equal to the
   snapshot, nothing in flight), :class:`ApplyFromJira`; otherwise both sides
   changed: a :class:`Conflict`, settled by the policy (``jira_wins``,
   ``engine_wins``, or ``newest_wins``: the later change time wins; Jira wins
   ties and whenever a time is unknown), to be written to the audit log.
   Without a snapshot (a link never synced) every disagreement is a conflict
   in two-way mode and a push in one-way mode.

Snapshots. ``snapshot_now`` is what to store with the decision: the agreed or
applied value, or, for a push, Jira's current value — the push is not in Jira
yet, and keeping Jira's value as the base means a Jira change made meanwhile is
still seen. When a push is confirmed, the executor stores the pushed value as
the snapshot (pushes of one link are confirmed in the order they were made).
``new_snapshot`` is the value once every decision is applied and confirmed;
merging again from there gives only NoOps: no echo loops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from syncengine.domain.groups import GroupState

__all__ = [
    "ApplyFromJira",
    "ChangeTimes",
    "Conflict",
    "ConflictPolicy",
    "FieldDecision",
    "FieldMerge",
    "InFlight",
    "LinkMerge",
    "LinkValues",
    "NoOp",
    "PushToJira",
    "Side",
    "SyncMode",
    "merge_field",
    "merge_link",
]

T = TypeVar("T")


class SyncMode(StrEnum):
    """``SyncSettings.mode``."""

    OFF = "off"
    ONE_WAY = "one_way"
    TWO_WAY = "two_way"


class ConflictPolicy(StrEnum):
    """``SyncSettings.conflict_policy``."""

    JIRA_WINS = "jira_wins"
    ENGINE_WINS = "engine_wins"
    NEWEST_WINS = "newest_wins"


class Side(StrEnum):
    """Which side's value a conflict kept."""

    ENGINE = "engine"
    JIRA = "jira"


@dataclass(frozen=True, kw_only=True, slots=True)
class NoOp:
    """Nothing to do for this field; ``reason`` says why."""

    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class PushToJira(Generic[T]):
    """Send the engine's ``value`` to Jira."""

    value: T


@dataclass(frozen=True, kw_only=True, slots=True)
class ApplyFromJira(Generic[T]):
    """Set the engine's field to Jira's ``value``."""

    value: T


@dataclass(frozen=True, kw_only=True, slots=True)
class Conflict(Generic[T]):
    """Both sides changed the field; ``then`` is what settles it (audit this value)."""

    engine: T
    jira: T
    winner: Side
    resolved_to: T
    policy: ConflictPolicy
    then: PushToJira[T] | ApplyFromJira[T] | NoOp


FieldDecision = NoOp | PushToJira[T] | ApplyFromJira[T] | Conflict[T]


@dataclass(frozen=True, kw_only=True, slots=True)
class FieldMerge(Generic[T]):
    """The decision for one field and the snapshot to store now and after it is done."""

    decision: NoOp | PushToJira[T] | ApplyFromJira[T] | Conflict[T]
    snapshot_now: T
    new_snapshot: T


class _NoBase:
    """The snapshot of a link that was never synced: equal to nothing."""

    def __repr__(self) -> str:
        return "NO_BASE"


_NO_BASE = _NoBase()


def merge_field(
    *,
    snapshot: T,
    engine: T,
    jira: T,
    mode: SyncMode,
    policy: ConflictPolicy,
    in_flight: Sequence[T] = (),
    engine_changed_at: datetime | None = None,
    jira_changed_at: datetime | None = None,
    has_snapshot: bool = True,
    ours: Sequence[T] = (),
) -> FieldMerge[T]:
    """Merge one field (see the module docstring for the rules).

    ``has_snapshot=False`` means the link was never synced: ``snapshot`` is ignored.
    ``ours``: values our own writes may have left in Jira that are not on their way any
    more (the running push's earlier try, a chained push's step): Jira at one of them is
    unchanged, as at an in-flight value, but the engine's value is not taken as pending.
    """
    base: T | _NoBase = snapshot if has_snapshot else _NO_BASE
    keep: T = snapshot if has_snapshot else jira
    if mode is SyncMode.OFF or engine == jira:
        settled = keep if mode is SyncMode.OFF else engine
        return _noop("sync is off" if mode is SyncMode.OFF else "in step", settled, settled)
    pending = bool(in_flight) and engine == in_flight[-1]
    jira_unchanged = jira == base or jira in in_flight or jira in ours
    if pending and (jira_unchanged or mode is SyncMode.ONE_WAY):
        return _noop("the engine's value is on its way to Jira", keep, engine)
    engine_changed = engine != base or bool(in_flight)
    if mode is SyncMode.ONE_WAY and not jira_unchanged and not engine_changed:
        return _noop("one-way sync: changes made in Jira are not applied", keep, keep)
    if jira_unchanged or mode is SyncMode.ONE_WAY:
        return _push(engine, jira)
    if not engine_changed:  # only Jira changed
        return FieldMerge(decision=ApplyFromJira(value=jira), snapshot_now=jira, new_snapshot=jira)
    return _conflict(
        engine=engine,
        jira=jira,
        policy=policy,
        pending=pending,
        winner=_winner(policy, engine_changed_at, jira_changed_at),
    )


def _noop(reason: str, now: T, after: T) -> FieldMerge[T]:
    return FieldMerge(decision=NoOp(reason=reason), snapshot_now=now, new_snapshot=after)


def _conflict(
    *, engine: T, jira: T, policy: ConflictPolicy, pending: bool, winner: Side
) -> FieldMerge[T]:
    then: PushToJira[T] | ApplyFromJira[T] | NoOp
    if winner is Side.JIRA:
        resolved, then = jira, ApplyFromJira(value=jira)
    elif pending:
        resolved, then = engine, NoOp(reason="the engine's value is on its way to Jira")
    else:
        resolved, then = engine, PushToJira(value=engine)
    conflict = Conflict(
        engine=engine, jira=jira, winner=winner, resolved_to=resolved, policy=policy, then=then
    )
    # Until a winning engine value is confirmed, Jira's value stays the base.
    return FieldMerge(decision=conflict, snapshot_now=jira, new_snapshot=resolved)


def _push(engine: T, jira: T) -> FieldMerge[T]:
    # The base stays what Jira has until the push is confirmed (see the module docstring).
    return FieldMerge(decision=PushToJira(value=engine), snapshot_now=jira, new_snapshot=engine)


def _winner(policy: ConflictPolicy, engine_at: datetime | None, jira_at: datetime | None) -> Side:
    if policy is ConflictPolicy.ENGINE_WINS:
        return Side.ENGINE
    if policy is ConflictPolicy.NEWEST_WINS and engine_at and jira_at and engine_at > jira_at:
        return Side.ENGINE
    return Side.JIRA


# --- a whole link ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkValues:
    """One side's (or the snapshot's) values of a link, in engine terms."""

    state: GroupState | None = None
    assignee: str | None = None
    fix_versions: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True, slots=True)
class ChangeTimes:
    """When one side last changed each field (None: unknown), for ``newest_wins``."""

    state: datetime | None = None
    assignee: datetime | None = None
    fix_versions: datetime | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class InFlight:
    """Our pushes per field that Jira has not confirmed yet, oldest first (from the outbox)."""

    state: tuple[GroupState | None, ...] = ()
    assignee: tuple[str | None, ...] = ()
    fix_versions: tuple[frozenset[str], ...] = ()
    # Values our writes may have left in Jira, no longer on their way (``merge_field``'s
    # ``ours``): the running push's own earlier try, a chained push's step.
    ours_state: tuple[GroupState | None, ...] = ()
    ours_assignee: tuple[str | None, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkMerge:
    """The decisions for a link's fields and the snapshots to store now and once done.

    The snapshots are None only for a never-synced link with sync off: store nothing.
    """

    state: FieldMerge[GroupState | None]
    assignee: FieldMerge[str | None]
    fix_versions: FieldMerge[frozenset[str]]
    snapshot_now: LinkValues | None
    new_snapshot: LinkValues | None

    @property
    def conflicts(self) -> dict[str, Conflict[object]]:
        """The fields in conflict, for the audit log."""
        found: dict[str, Conflict[object]] = {}
        for name in ("state", "assignee", "fix_versions"):
            decision = getattr(self, name).decision
            if isinstance(decision, Conflict):
                found[name] = decision
        return found

    @property
    def all_noop(self) -> bool:
        """Nothing to do on either side."""
        return all(
            isinstance(item.decision, NoOp)
            for item in (self.state, self.assignee, self.fix_versions)
        )


def merge_link(
    *,
    snapshot: LinkValues | None,
    engine: LinkValues,
    jira: LinkValues,
    mode: SyncMode,
    policy: ConflictPolicy,
    in_flight: InFlight | None = None,
    engine_times: ChangeTimes | None = None,
    jira_times: ChangeTimes | None = None,
) -> LinkMerge:
    """Merge every field of a link. ``snapshot=None``: the link was never synced."""
    base = snapshot or LinkValues()
    flying = in_flight or InFlight()
    e_at = engine_times or ChangeTimes()
    j_at = jira_times or ChangeTimes()

    def field(  # noqa: PLR0917 - local; one field's inputs in merge_field's order
        name: str, snap: T, eng: T, jir: T, flight: Sequence[T], ours: Sequence[T] = ()
    ) -> FieldMerge[T]:
        return merge_field(
            snapshot=snap,
            engine=eng,
            jira=jir,
            mode=mode,
            policy=policy,
            in_flight=flight,
            engine_changed_at=getattr(e_at, name),
            jira_changed_at=getattr(j_at, name),
            has_snapshot=snapshot is not None,
            ours=ours,
        )

    state = field("state", base.state, engine.state, jira.state, flying.state, flying.ours_state)
    assignee = field(
        "assignee",
        base.assignee,
        engine.assignee,
        jira.assignee,
        flying.assignee,
        flying.ours_assignee,
    )
    fix_versions = field(
        "fix_versions",
        base.fix_versions,
        engine.fix_versions,
        jira.fix_versions,
        flying.fix_versions,
    )
    if snapshot is None and mode is SyncMode.OFF:
        now = after = None
    else:
        now = LinkValues(
            state=state.snapshot_now,
            assignee=assignee.snapshot_now,
            fix_versions=fix_versions.snapshot_now,
        )
        after = LinkValues(
            state=state.new_snapshot,
            assignee=assignee.new_snapshot,
            fix_versions=fix_versions.new_snapshot,
        )
    return LinkMerge(
        state=state,
        assignee=assignee,
        fix_versions=fix_versions,
        snapshot_now=now,
        new_snapshot=after,
    )
