"""The three-way merge: decisions per field, snapshots, and no echo loops."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from syncengine.domain.groups import GroupState
from syncengine.domain.merge import (
    ApplyFromJira,
    ChangeTimes,
    Conflict,
    ConflictPolicy,
    FieldMerge,
    InFlight,
    LinkValues,
    NoOp,
    PushToJira,
    Side,
    SyncMode,
    merge_field,
    merge_link,
)

TWO, ONE, OFF = SyncMode.TWO_WAY, SyncMode.ONE_WAY, SyncMode.OFF
JIRA_WINS, ENGINE_WINS, NEWEST = (
    ConflictPolicy.JIRA_WINS,
    ConflictPolicy.ENGINE_WINS,
    ConflictPolicy.NEWEST_WINS,
)
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def merge(
    snapshot: str | None,
    engine: str | None,
    jira: str | None,
    *,
    mode: SyncMode = TWO,
    policy: ConflictPolicy = JIRA_WINS,
    in_flight: tuple[str | None, ...] = (),
    engine_at: datetime | None = None,
    jira_at: datetime | None = None,
    has_snapshot: bool = True,
) -> FieldMerge[str | None]:
    return merge_field(
        snapshot=snapshot,
        engine=engine,
        jira=jira,
        mode=mode,
        policy=policy,
        in_flight=in_flight,
        engine_changed_at=engine_at,
        jira_changed_at=jira_at,
        has_snapshot=has_snapshot,
    )


# --- the cases one by one -------------------------------------------------------------------


def test_nothing_changed() -> None:
    result = merge("alice", "alice", "alice")
    assert isinstance(result.decision, NoOp)
    assert result.snapshot_now == result.new_snapshot == "alice"


def test_our_own_echo_is_ignored() -> None:
    # We pushed "bob" and it was confirmed; Jira now reports "bob" (the echo).
    result = merge("bob", "bob", "bob")
    assert isinstance(result.decision, NoOp)


def test_engine_change_is_pushed_and_the_base_stays_jiras_until_confirmed() -> None:
    result = merge("alice", "bob", "alice")
    assert result.decision == PushToJira(value="bob")
    assert result.snapshot_now == "alice"
    assert result.new_snapshot == "bob"


def test_jira_change_is_applied_in_two_way_only() -> None:
    result = merge("alice", "alice", "carol")
    assert result.decision == ApplyFromJira(value="carol")
    assert result.snapshot_now == result.new_snapshot == "carol"
    one_way = merge("alice", "alice", "carol", mode=ONE)
    assert isinstance(one_way.decision, NoOp)
    assert "one-way" in one_way.decision.reason
    assert one_way.snapshot_now == one_way.new_snapshot == "alice"


def test_jira_at_a_value_of_ours_is_unchanged_but_not_pending() -> None:
    """The running push's earlier try landed "bob" (its answer lost); the engine now wants
    "carol": push carol, no conflict. With "bob" wanted again, it is still pushed (in
    flight would say it is on its way and send nothing)."""
    ours = merge_field(
        snapshot="alice",
        engine="carol",
        jira="bob",
        mode=TWO,
        policy=JIRA_WINS,
        ours=("bob",),
    )
    assert ours.decision == PushToJira(value="carol")
    back = merge_field(
        snapshot="alice", engine="alice", jira="bob", mode=TWO, policy=JIRA_WINS, ours=("bob",)
    )
    assert back.decision == PushToJira(value="alice")
    assert isinstance(merge("alice", "carol", "bob").decision, Conflict)


def test_both_changed_the_same_way_is_no_conflict() -> None:
    result = merge("alice", "bob", "bob")
    assert isinstance(result.decision, NoOp)
    assert result.snapshot_now == "bob"


@pytest.mark.parametrize(
    ("policy", "engine_at", "jira_at", "winner"),
    [
        (JIRA_WINS, None, None, Side.JIRA),
        (ENGINE_WINS, None, None, Side.ENGINE),
        (NEWEST, T0 + timedelta(minutes=1), T0, Side.ENGINE),
        (NEWEST, T0, T0 + timedelta(minutes=1), Side.JIRA),
        (NEWEST, T0, T0, Side.JIRA),
        (NEWEST, T0, None, Side.JIRA),
        (NEWEST, None, T0, Side.JIRA),
    ],
)
def test_conflicts_follow_the_policy(
    policy: ConflictPolicy, engine_at: datetime | None, jira_at: datetime | None, winner: Side
) -> None:
    result = merge("alice", "bob", "carol", policy=policy, engine_at=engine_at, jira_at=jira_at)
    conflict = result.decision
    assert isinstance(conflict, Conflict)
    assert (conflict.engine, conflict.jira, conflict.winner, conflict.policy) == (
        "bob",
        "carol",
        winner,
        policy,
    )
    expected = "bob" if winner is Side.ENGINE else "carol"
    assert conflict.resolved_to == result.new_snapshot == expected
    assert result.snapshot_now == "carol"
    if winner is Side.ENGINE:
        assert conflict.then == PushToJira(value="bob")
    else:
        assert conflict.then == ApplyFromJira(value="carol")


def test_one_way_pushes_over_a_jira_change_without_conflict() -> None:
    result = merge("alice", "bob", "carol", mode=ONE)
    assert result.decision == PushToJira(value="bob")


def test_off_does_nothing() -> None:
    for snapshot, engine, jira in [("a", "b", "a"), ("a", "a", "b"), ("a", "b", "c")]:
        result = merge(snapshot, engine, jira, mode=OFF)
        assert result.decision == NoOp(reason="sync is off")
        assert result.snapshot_now == result.new_snapshot == snapshot


def test_echo_of_an_in_flight_push_while_the_engine_moved_on() -> None:
    # Pushed "b" then "c"; Jira shows "b" (the first push landed): no conflict, no re-push.
    result = merge("a", "c", "b", in_flight=("b", "c"))
    assert isinstance(result.decision, NoOp)
    assert result.new_snapshot == "c"
    # The engine went back to "a" meanwhile: that must reach Jira.
    assert merge("a", "a", "b", in_flight=("b",)).decision == PushToJira(value="a")


def test_a_stale_jira_read_while_a_push_is_pending_is_not_applied() -> None:
    result = merge("a", "b", "a", in_flight=("b",))
    assert isinstance(result.decision, NoOp)
    assert result.snapshot_now == "a"


def test_a_jira_edit_during_a_pending_push_is_a_conflict() -> None:
    result = merge("a", "b", "x", in_flight=("b",), policy=ENGINE_WINS)
    assert isinstance(result.decision, Conflict)
    assert isinstance(result.decision.then, NoOp)  # "b" is already on its way
    assert result.snapshot_now == "x"
    again = merge(result.snapshot_now, "b", "x", in_flight=("b",), policy=ENGINE_WINS)
    assert isinstance(again.decision, NoOp)  # audited once, not at every poll


def test_never_synced_link() -> None:
    conflict = merge(None, "bob", "carol", has_snapshot=False).decision
    assert isinstance(conflict, Conflict)
    assert conflict.winner is Side.JIRA
    assert merge(None, "bob", "carol", has_snapshot=False, mode=ONE).decision == PushToJira(
        value="bob"
    )
    assert isinstance(merge(None, "bob", "bob", has_snapshot=False).decision, NoOp)


def test_unassigned_is_a_value() -> None:
    assert merge("alice", None, "alice").decision == PushToJira(value=None)
    assert merge(None, None, "alice").decision == ApplyFromJira(value="alice")


# --- a whole link ----------------------------------------------------------------------------


def test_merge_link_decides_each_field_and_collects_conflicts() -> None:
    snapshot = LinkValues(state=GroupState.OPEN, assignee="alice", fix_versions=frozenset())
    engine = LinkValues(state=GroupState.IN_PROGRESS, assignee="bob", fix_versions=frozenset())
    jira = LinkValues(state=GroupState.OPEN, assignee="carol", fix_versions=frozenset({"2.3.0"}))
    result = merge_link(
        snapshot=snapshot,
        engine=engine,
        jira=jira,
        mode=TWO,
        policy=NEWEST,
        engine_times=ChangeTimes(assignee=T0 + timedelta(seconds=5)),
        jira_times=ChangeTimes(assignee=T0),
    )
    assert result.state.decision == PushToJira(value=GroupState.IN_PROGRESS)
    assert result.fix_versions.decision == ApplyFromJira(value=frozenset({"2.3.0"}))
    assert set(result.conflicts) == {"assignee"}
    assert result.conflicts["assignee"].winner is Side.ENGINE
    assert result.new_snapshot == LinkValues(
        state=GroupState.IN_PROGRESS, assignee="bob", fix_versions=frozenset({"2.3.0"})
    )
    assert result.snapshot_now == LinkValues(
        state=GroupState.OPEN, assignee="carol", fix_versions=frozenset({"2.3.0"})
    )
    assert not result.all_noop


def test_merge_link_with_in_flight_pushes_and_no_snapshot() -> None:
    engine = LinkValues(state=GroupState.RESOLVED, assignee="bob")
    jira = LinkValues(state=GroupState.OPEN, assignee="bob")
    pending = merge_link(
        snapshot=LinkValues(state=GroupState.OPEN, assignee="bob"),
        engine=engine,
        jira=jira,
        mode=TWO,
        policy=JIRA_WINS,
        in_flight=InFlight(state=(GroupState.RESOLVED,)),
    )
    assert pending.all_noop
    never = merge_link(snapshot=None, engine=engine, jira=jira, mode=OFF, policy=JIRA_WINS)
    assert never.all_noop
    assert never.snapshot_now is None
    assert never.new_snapshot is None


# --- properties ------------------------------------------------------------------------------

VALUES = st.sampled_from([None, "a", "b", "c"])
MODES = st.sampled_from([TWO, ONE, OFF])
POLICIES = st.sampled_from([JIRA_WINS, ENGINE_WINS, NEWEST])
TIMES = st.one_of(st.none(), st.integers(0, 3).map(lambda n: T0 + timedelta(minutes=n)))


def _apply(
    result: FieldMerge[str | None], engine: str | None, jira: str | None
) -> tuple[str | None, str | None]:
    decision = result.decision
    if isinstance(decision, Conflict):
        decision = decision.then
    if isinstance(decision, PushToJira):
        jira = decision.value
    elif isinstance(decision, ApplyFromJira):
        engine = decision.value
    return engine, jira


@given(VALUES, VALUES, VALUES, MODES, POLICIES, TIMES, TIMES, st.booleans())
def test_applying_the_decisions_then_merging_again_is_all_noop(
    snapshot: str | None,
    engine: str | None,
    jira: str | None,
    mode: SyncMode,
    policy: ConflictPolicy,
    engine_at: datetime | None,
    jira_at: datetime | None,
    has_snapshot: bool,
) -> None:
    first = merge(
        snapshot,
        engine,
        jira,
        mode=mode,
        policy=policy,
        engine_at=engine_at,
        jira_at=jira_at,
        has_snapshot=has_snapshot,
    )
    engine2, jira2 = _apply(first, engine, jira)
    if mode is OFF and not has_snapshot:
        return  # nothing is stored for a never-synced link with sync off
    second = merge(first.new_snapshot, engine2, jira2, mode=mode, policy=policy)
    assert isinstance(second.decision, NoOp), (first, second)
    if mode is TWO:
        assert engine2 == jira2 == first.new_snapshot
    if mode is not TWO:
        assert engine2 == engine  # Jira never reaches the engine


@dataclass
class World:
    """One link's field: the engine, Jira, the stored snapshot and our unconfirmed pushes."""

    mode: SyncMode
    policy: ConflictPolicy
    engine: str | None = "a"
    jira: str | None = "a"
    snapshot: str | None = "a"
    outbox: list[str | None] = field(default_factory=list)  # pushed, not yet in Jira
    landed: list[str | None] = field(default_factory=list)  # in Jira, not yet confirmed
    decisions: list[object] = field(default_factory=list)

    def merge(self) -> None:
        result = merge(
            self.snapshot,
            self.engine,
            self.jira,
            mode=self.mode,
            policy=self.policy,
            in_flight=(*self.landed, *self.outbox),
        )
        self.decisions.append(result.decision)
        decision = result.decision
        if isinstance(decision, Conflict):
            decision = decision.then
        if isinstance(decision, PushToJira):
            self.outbox.append(decision.value)
        elif isinstance(decision, ApplyFromJira):
            self.engine = decision.value
        self.snapshot = result.snapshot_now

    def land(self) -> None:
        if self.outbox:
            self.jira = self.outbox.pop(0)
            self.landed.append(self.jira)

    def confirm(self) -> None:
        if self.landed:
            self.snapshot = self.landed.pop(0)

    def quiesce(self) -> None:
        for _ in range(4):
            while self.outbox:
                self.land()
            while self.landed:
                self.confirm()
            self.merge()
        assert not self.outbox  # the last merges pushed nothing more


_EVENT_CHOICES: list[tuple[str, str | None]] = [
    *((kind, value) for kind in ("engine", "jira") for value in (None, "a", "b", "c")),
    *(("merge", None), ("merge", None), ("land", None), ("confirm", None)),
]
EVENTS = st.lists(st.sampled_from(_EVENT_CHOICES), max_size=30)
# The shortest echo trap: a second push before the first one's echo arrives.
ECHO_TRAP = [("engine", "b"), ("merge", None), ("engine", "c"), ("merge", None), ("land", None)]
ECHO_TRAP += [("merge", None)]


def _run(world: World, events: list[tuple[str, str | None]]) -> None:
    for kind, value in events:
        if kind == "engine":
            world.engine = value
        elif kind == "jira":
            world.jira = value
        else:
            getattr(world, kind)()


@settings(max_examples=400)
@given(EVENTS, st.sampled_from([TWO, ONE]), POLICIES)
@example(ECHO_TRAP, TWO, JIRA_WINS)
def test_without_jira_edits_no_interleaving_ever_applies_or_conflicts(
    events: list[tuple[str, str | None]], mode: SyncMode, policy: ConflictPolicy
) -> None:
    world = World(mode=mode, policy=policy)
    _run(world, [event for event in events if event[0] != "jira"])
    world.quiesce()
    assert not any(isinstance(d, ApplyFromJira | Conflict) for d in world.decisions)
    assert world.jira == world.engine == world.snapshot
    assert isinstance(world.decisions[-1], NoOp)


@settings(max_examples=400)
@given(EVENTS, st.sampled_from([TWO, ONE]), POLICIES)
@example(
    [("engine", "b"), ("merge", None), ("jira", "c"), ("land", None), ("merge", None)],
    TWO,
    JIRA_WINS,
)
def test_any_interleaving_settles_with_no_echo_loop(
    events: list[tuple[str, str | None]], mode: SyncMode, policy: ConflictPolicy
) -> None:
    world = World(mode=mode, policy=policy)
    engine_before = [world.engine]
    _run(world, events)
    world.quiesce()
    assert isinstance(world.decisions[-1], NoOp)
    if mode is TWO:
        assert world.jira == world.engine == world.snapshot
    else:
        assert not any(isinstance(d, ApplyFromJira | Conflict) for d in world.decisions)
        assert engine_before  # one-way: Jira may differ, but nothing ever flows back
