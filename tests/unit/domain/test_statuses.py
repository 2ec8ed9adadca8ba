"""Status mapping: Jira status → engine state, and the transition for a target state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncengine.domain.groups import GroupState
from syncengine.domain.statuses import (
    AlreadyThere,
    AvailableTransition,
    JiraStatus,
    NoTransition,
    StatusMapping,
    Transition,
    choose_transition,
    satisfies,
    state_for,
    validate_mapping,
)

TODO = JiraStatus(id="10000", name="To Do", category="new")
REOPENED = JiraStatus(id="4", name="Reopened", category="new")
IN_PROGRESS = JiraStatus(id="3", name="In Progress", category="indeterminate")
IN_REVIEW = JiraStatus(id="10100", name="In Review", category="indeterminate")
DONE = JiraStatus(id="10001", name="Done", category="done")
WONT_FIX = JiraStatus(id="10200", name="Won't Fix", category="done")
LIMBO = JiraStatus(id="77", name="Limbo", category="undefined")

DEFAULT = StatusMapping()
OPEN, IN_PROG, RESOLVED, MUTED = (
    GroupState.OPEN,
    GroupState.IN_PROGRESS,
    GroupState.RESOLVED,
    GroupState.MUTED,
)


# --- inbound --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (TODO, OPEN),
        (REOPENED, OPEN),
        (IN_PROGRESS, IN_PROG),
        (IN_REVIEW, IN_PROG),
        (DONE, RESOLVED),
    ],
)
def test_category_fallback(status: JiraStatus, state: GroupState) -> None:
    assert state_for(status, None, DEFAULT).state is state


@pytest.mark.parametrize("resolution", ["Won't Do", "duplicate", "DUPLICATE"])
def test_muted_resolutions_mute_a_done_issue(resolution: str) -> None:
    mapped = state_for(DONE, resolution, DEFAULT)
    assert mapped.state is MUTED
    assert resolution in mapped.reason


def test_a_muted_resolution_on_an_open_status_is_ignored() -> None:
    assert state_for(TODO, "Won't Do", DEFAULT).state is OPEN


def test_done_with_an_ordinary_resolution_is_resolved() -> None:
    assert state_for(DONE, "Fixed", DEFAULT).state is RESOLVED


def test_configured_sets_by_name_ignoring_case_or_by_id() -> None:
    mapping = StatusMapping(
        state_statuses={MUTED: ("won't fix",), OPEN: ("10100",)}  # In Review by id
    )
    assert state_for(WONT_FIX, None, mapping).state is MUTED
    assert state_for(IN_REVIEW, None, mapping).state is OPEN
    assert "configured as open" in state_for(IN_REVIEW, None, mapping).reason
    assert state_for(IN_PROGRESS, None, mapping).state is IN_PROG  # others fall back


def test_unknown_category_is_unmapped_with_a_fix() -> None:
    mapped = state_for(LIMBO, None, DEFAULT)
    assert mapped.state is None
    assert "'Limbo' (undefined)" in mapped.reason
    assert "sync.state_statuses" in mapped.reason
    assert state_for(LIMBO, None, StatusMapping(state_statuses={OPEN: ("Limbo",)})).state is OPEN


def test_validate_mapping() -> None:
    mapping = StatusMapping(
        state_statuses={OPEN: ("To Do", " "), RESOLVED: ("to do",)},
        state_transitions={MUTED: ""},
        resolution_on_done="",
    )
    problems = validate_mapping(mapping)
    assert "state_statuses.open: an entry is empty" in problems
    assert "state_statuses: 'to do' is listed for both open and resolved; " in problems[1]
    assert any(p.startswith("state_transitions.muted") for p in problems)
    assert any(p.startswith("resolution_on_done") for p in problems)
    assert validate_mapping(DEFAULT) == []


# --- outbound -------------------------------------------------------------------------------

START = AvailableTransition(id="21", name="Start Progress", to=IN_PROGRESS)
REVIEW = AvailableTransition(id="22", name="Request Review", to=IN_REVIEW)
RESOLVE = AvailableTransition(id="31", name="Resolve", to=DONE, has_resolution_field=True)
CLOSE = AvailableTransition(id="32", name="Close", to=DONE)
WONT = AvailableTransition(id="33", name="Won't Fix", to=WONT_FIX)
BACK = AvailableTransition(id="11", name="Back to To Do", to=TODO)
REOPEN = AvailableTransition(id="41", name="Reopen", to=REOPENED)


def choose(
    target: GroupState,
    current: JiraStatus,
    available: list[AvailableTransition],
    *,
    resolution: str | None = None,
    mapping: StatusMapping = DEFAULT,
    visited: frozenset[str] = frozenset(),
) -> AlreadyThere | NoTransition | Transition:
    return choose_transition(
        target,
        current=current,
        current_resolution=resolution,
        available=available,
        mapping=mapping,
        visited=visited,
    )


def test_already_there_sends_nothing() -> None:
    assert choose(RESOLVED, DONE, [REOPEN]) == AlreadyThere(status="Done")
    assert choose(MUTED, DONE, [REOPEN], resolution="Won't Do") == AlreadyThere(status="Done")
    assert choose(OPEN, REOPENED, [RESOLVE]) == AlreadyThere(status="Reopened")


def test_resolved_by_category_sets_the_resolution_when_the_screen_has_the_field() -> None:
    decision = choose(RESOLVED, IN_PROGRESS, [BACK, RESOLVE, CLOSE])
    assert decision == Transition(
        id="31",
        name="Resolve",
        to_status="Done",
        needs_resolution=True,
        resolution="Done",
        via="status category",
    )
    plain = choose(RESOLVED, IN_PROGRESS, [CLOSE])
    assert isinstance(plain, Transition)
    assert (plain.id, plain.needs_resolution, plain.resolution) == ("32", False, None)


def test_muted_needs_a_resolution_field_or_a_muted_status() -> None:
    decision = choose(MUTED, IN_PROGRESS, [CLOSE, RESOLVE])
    assert isinstance(decision, Transition)
    assert (decision.id, decision.resolution) == ("31", "Won't Do")
    assert isinstance(choose(MUTED, IN_PROGRESS, [CLOSE]), NoTransition)
    mapping = StatusMapping(state_statuses={MUTED: ("Won't Fix",)})
    by_status = choose(MUTED, IN_PROGRESS, [CLOSE, WONT], mapping=mapping)
    assert isinstance(by_status, Transition)
    assert (by_status.id, by_status.via) == ("33", "configured status")


def test_resolved_skips_a_done_status_configured_as_muted() -> None:
    mapping = StatusMapping(state_statuses={MUTED: ("Won't Fix",)})
    decision = choose(RESOLVED, TODO, [WONT, CLOSE], mapping=mapping)
    assert isinstance(decision, Transition)
    assert decision.id == "32"


@pytest.mark.parametrize(
    "configured", ["Request Review", "request review", "22", "In Review", "10100"]
)
def test_configured_transition_by_name_id_or_target_status(configured: str) -> None:
    mapping = StatusMapping(state_transitions={IN_PROG: configured})
    decision = choose(IN_PROG, TODO, [START, REVIEW], mapping=mapping)
    assert isinstance(decision, Transition)
    assert decision.id == "22"
    assert decision.via == f"configured as {configured!r}"


def test_a_configured_transition_not_offered_falls_back_to_the_category() -> None:
    mapping = StatusMapping(state_transitions={OPEN: "Reopen"})
    decision = choose(OPEN, IN_PROGRESS, [BACK, RESOLVE], mapping=mapping)
    assert isinstance(decision, Transition)
    assert (decision.id, decision.via) == ("11", "status category")
    from_done = choose(OPEN, DONE, [BACK, REOPEN], mapping=mapping)
    assert isinstance(from_done, Transition)
    assert from_done.id == "41"


def test_open_from_done_clears_nothing_and_sets_no_resolution() -> None:
    decision = choose(OPEN, DONE, [REOPEN])
    assert isinstance(decision, Transition)
    assert decision.needs_resolution is False
    assert decision.resolution is None


def test_no_transition_lists_what_is_available() -> None:
    mapping = StatusMapping(state_transitions={RESOLVED: "Finish"})
    passed = frozenset({IN_PROGRESS.id, IN_REVIEW.id})  # no step left to take either
    decision = choose(RESOLVED, TODO, [START, REVIEW], mapping=mapping, visited=passed)
    assert isinstance(decision, NoTransition)
    assert "no transition from 'To Do' (new) leads to resolved" in decision.reason
    assert "configured 'Finish' is not offered" in decision.reason
    assert "21 'Start Progress' → 'In Progress' (indeterminate)" in decision.reason
    assert "22 'Request Review' → 'In Review' (indeterminate)" in decision.reason
    assert "sync.state_transitions.resolved" in decision.reason
    empty = choose(RESOLVED, TODO, [])
    assert isinstance(empty, NoTransition)
    assert "Transition Issues permission" in empty.reason


_statuses = st.sampled_from([TODO, REOPENED, IN_PROGRESS, IN_REVIEW, DONE, WONT_FIX])
_transitions = st.lists(st.sampled_from([START, REVIEW, RESOLVE, CLOSE, WONT, BACK, REOPEN]))


@given(
    st.sampled_from(list(GroupState)), _statuses, _transitions, st.sampled_from([None, "Won't Do"])
)
def test_a_chosen_transition_lands_in_the_target_state(
    target: GroupState,
    current: JiraStatus,
    available: list[AvailableTransition],
    resolution: str | None,
) -> None:
    mapping = StatusMapping(state_statuses={MUTED: ("Won't Fix",)})
    decision = choose(target, current, available, resolution=resolution, mapping=mapping)
    if isinstance(decision, Transition) and decision.step:
        item = next(t for t in available if t.id == decision.id)
        assert item.to.category in {"new", "indeterminate"}  # a step never closes the issue
        assert item.to.id != current.id
    elif isinstance(decision, Transition):
        item = next(t for t in available if t.id == decision.id)
        landed = state_for(item.to, decision.resolution, mapping).state
        assert landed is target  # and so re-deciding from there gives AlreadyThere
        again = choose(target, item.to, available, resolution=decision.resolution, mapping=mapping)
        assert isinstance(again, AlreadyThere)
    elif isinstance(decision, AlreadyThere):
        assert satisfies(current, resolution, target, mapping)


def test_a_target_no_transition_reaches_takes_a_step_towards_it() -> None:
    done = JiraStatus(id="10002", name="Done", category="done")
    to_do = JiraStatus(id="10001", name="To Do", category="new")
    reopen = AvailableTransition(id="51", name="Reopen", to=to_do)
    choice = choose_transition(
        GroupState.MUTED,
        current=done,
        current_resolution="Done",
        available=[reopen],
        mapping=StatusMapping(),
    )
    assert isinstance(choice, Transition)
    assert choice.step
    assert choice.id == "51"
    assert not choice.needs_resolution
    again = choose_transition(
        GroupState.MUTED,
        current=done,
        current_resolution="Done",
        available=[reopen],
        mapping=StatusMapping(),
        visited=frozenset({"10001"}),
    )
    assert isinstance(again, NoTransition)  # never back to a status passed through


def test_resolved_is_satisfied_by_a_muted_close_but_not_the_other_way() -> None:
    wont_do = JiraStatus(id="10003", name="Won't Do", category="done")
    done = JiraStatus(id="10002", name="Done", category="done")
    assert satisfies(wont_do, "Won't Do", GroupState.RESOLVED, StatusMapping())
    assert not satisfies(done, "Done", GroupState.MUTED, StatusMapping())
    assert not satisfies(done, "Done", GroupState.OPEN, StatusMapping())
