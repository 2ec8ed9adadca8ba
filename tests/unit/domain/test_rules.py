"""Ticket rules: when a group is due a ticket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncengine.domain.groups import GroupState
from syncengine.domain.rules import (
    AttributeFilter,
    FilterOp,
    InvalidTicketRules,
    NotDue,
    TicketDue,
    TicketRules,
    ticket_due,
    validate_rules,
    window_start,
)
from syncengine.domain.versions import VersionScheme

PROD = {"environment": "production", "version": "2.3.1"}


def due(
    rules: TicketRules,
    *,
    state: GroupState = GroupState.OPEN,
    has_ticket: bool = False,
    count: int = 1,
    count_in_window: int | None = None,
    attributes: dict[str, str] | None = None,
) -> TicketDue | NotDue:
    return ticket_due(
        rules,
        state=state,
        has_ticket=has_ticket,
        count=count,
        count_in_window=count_in_window,
        attributes=PROD if attributes is None else attributes,
    )


def test_default_rules_ticket_a_new_group() -> None:
    assert due(TicketRules()) == TicketDue(reason="a new group")


def test_threshold_is_reached_not_crossed() -> None:
    rules = TicketRules(min_occurrences=10)
    assert due(rules, count=9) == NotDue(reason="9 of 10 occurrences")
    assert isinstance(due(rules, count=10), TicketDue)
    assert isinstance(due(rules, count=11), TicketDue)


def test_window_uses_the_count_in_the_window() -> None:
    rules = TicketRules(min_occurrences=5, window_minutes=60)
    held = due(rules, count=500, count_in_window=4)
    assert held == NotDue(reason="4 of 5 occurrences in the last 60 minutes")
    decision = due(rules, count=5, count_in_window=5)
    assert decision == TicketDue(reason="5 occurrences within 60 minutes (threshold 5)")
    with pytest.raises(ValueError, match="count_in_window"):
        due(rules, count=5)


def test_window_start() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert window_start(TicketRules(), now) is None
    assert window_start(TicketRules(window_minutes=90), now) == now - timedelta(minutes=90)


def test_muted_and_never_states() -> None:
    assert due(TicketRules(), state=GroupState.MUTED) == NotDue(
        reason="muted groups never get tickets (never_states)"
    )
    rules = TicketRules(never_states=(GroupState.MUTED, GroupState.RESOLVED))
    assert isinstance(due(rules, state=GroupState.RESOLVED), NotDue)
    assert isinstance(due(rules, state=GroupState.IN_PROGRESS), TicketDue)


def test_disabled_rules_and_existing_tickets() -> None:
    assert "disabled" in due(TicketRules(enabled=False)).reason
    assert due(TicketRules(), has_ticket=True) == NotDue(reason="the group already has a ticket")


def test_only_production() -> None:
    rules = TicketRules(filters=(AttributeFilter(attribute="environment", value="production"),))
    assert isinstance(due(rules), TicketDue)
    staging = due(rules, attributes={"environment": "staging"})
    assert staging == NotDue(
        reason="filter 1 (environment equals 'production') does not hold: environment is 'staging'"
    )
    missing = due(rules, attributes={})
    assert "no 'environment' attribute" in missing.reason


def test_filters_hold_in_order_and_all_must_hold() -> None:
    rules = TicketRules(
        filters=(
            AttributeFilter(attribute="environment", op=FilterOp.REGEX, value="^prod"),
            AttributeFilter(attribute="version", op=FilterOp.VERSION_GE, value="2.3"),
            AttributeFilter(attribute="host", op=FilterOp.NOT_EQUALS, value="ci-runner"),
        )
    )
    assert isinstance(due(rules), TicketDue)
    assert isinstance(due(rules, attributes={**PROD, "host": "web-1"}), TicketDue)
    ci = due(rules, attributes={**PROD, "host": "ci-runner"})
    assert ci.reason.startswith("filter 3")
    both_fail = due(rules, attributes={"environment": "dev", "version": "1.0"})
    assert both_fail.reason.startswith("filter 1")  # the first failing filter is named
    old = due(rules, attributes={"environment": "prod", "version": "2.2.9"})
    assert old.reason.endswith("version 2.2.9 is not ≥ 2.3")


@pytest.mark.parametrize(
    ("op", "seen", "holds"),
    [
        (FilterOp.VERSION_GT, "2.3.0", False),
        (FilterOp.VERSION_GT, "2.3.1", True),
        (FilterOp.VERSION_GE, "2.3.0", True),
        (FilterOp.VERSION_LT, "2.3.0-rc1", True),
        (FilterOp.VERSION_LT, "2.3", False),
        (FilterOp.VERSION_LE, "2.3", True),
        (FilterOp.VERSION_LE, "2.4", False),
    ],
)
def test_version_filters(op: FilterOp, seen: str, holds: bool) -> None:
    rules = TicketRules(filters=(AttributeFilter(attribute="version", op=op, value="2.3.0"),))
    assert isinstance(due(rules, attributes={"version": seen}), TicketDue) is holds


def test_unparseable_report_versions_fail_the_filter_with_the_reason() -> None:
    rules = TicketRules(
        filters=(AttributeFilter(attribute="version", op=FilterOp.VERSION_GE, value="2.3.0"),),
        version_scheme=VersionScheme.SEMVER,
    )
    decision = due(rules, attributes={"version": "2.3"})
    assert isinstance(decision, NotDue)
    assert "'2.3' is not a semver version" in decision.reason


def test_validate_reports_every_bad_filter() -> None:
    rules = TicketRules(
        min_occurrences=0,
        window_minutes=0,
        filters=(
            AttributeFilter(attribute="environment", value="production"),
            AttributeFilter(attribute="message", op=FilterOp.REGEX, value="(unclosed"),
            AttributeFilter(attribute="version", op=FilterOp.VERSION_GT, value="two"),
            AttributeFilter(attribute="", value="x"),
        ),
    )
    problems = validate_rules(rules)
    assert problems[0] == "min_occurrences: 0 must be at least 1"
    assert problems[1].startswith("window_minutes: 0")
    assert problems[2].startswith(
        "filters[1] (message regex '(unclosed'): the regex does not compile"
    )
    assert problems[3].startswith(
        "filters[2] (version version_gt 'two'): 'two' is not a loose version"
    )
    assert problems[4] == "filters[3] ( equals 'x'): attribute must not be empty"
    assert len(problems) == 5
    assert validate_rules(TicketRules(filters=rules.filters[:1])) == []


def test_a_bad_filter_that_reaches_the_decision_raises() -> None:
    rules = TicketRules(filters=(AttributeFilter(attribute="m", op=FilterOp.REGEX, value="("),))
    with pytest.raises(InvalidTicketRules, match="does not compile"):
        due(rules)


@given(
    st.integers(min_value=1, max_value=50),
    st.integers(min_value=0, max_value=100),
    st.sampled_from(list(GroupState)),
    st.booleans(),
)
def test_due_exactly_when_every_gate_passes(
    threshold: int, count: int, state: GroupState, has_ticket: bool
) -> None:
    rules = TicketRules(min_occurrences=threshold)
    decision = due(rules, count=count, state=state, has_ticket=has_ticket)
    expected = count >= threshold and state is not GroupState.MUTED and not has_ticket
    assert isinstance(decision, TicketDue) is expected
    assert decision.reason
