"""Resolve-until rules: JSON form, validation, evaluation; fix-version sync."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncengine.domain.fixversions import FixVersionConfig, rule_for_done
from syncengine.domain.reports import CrashReport
from syncengine.domain.resolve import (
    And,
    InvalidRule,
    RegularExpression,
    ReportFacts,
    ResolveRule,
    TimestampGt,
    VersionBound,
    evaluate,
    unbounded_rule,
)
from syncengine.domain.versions import VersionScheme

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LOOSE = VersionScheme.LOOSE


def facts(version: str | None = None, *, at: datetime = NOW, **attrs: str) -> ReportFacts:
    attributes = dict(attrs)
    if version is not None:
        attributes["version"] = version
    return ReportFacts(timestamp=at, attributes=attributes)


def bound(version: str, *, inclusive: bool) -> ResolveRule:
    return ResolveRule(
        any_of=(VersionBound(field="version", version=version, inclusive=inclusive),)
    )


# --- the example ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("seen", "under_ge", "under_gt"),
    [("2.2.9", False, False), ("2.3.0", True, False), ("2.3.1", True, True), ("2.3", True, False)],
)
def test_fix_in_2_3_0(seen: str, under_ge: bool, under_gt: bool) -> None:
    assert (
        evaluate(bound("2.3.0", inclusive=True), facts(seen), default_scheme=LOOSE).breaks
        is under_ge
    )
    assert (
        evaluate(bound("2.3.0", inclusive=False), facts(seen), default_scheme=LOOSE).breaks
        is under_gt
    )


def test_a_breaking_report_names_the_invariant_and_its_version() -> None:
    rule = bound("2.3.0", inclusive=True)
    result = evaluate(rule, facts("2.3.1"), default_scheme=LOOSE)
    assert result.invariant == rule.any_of[0]
    assert result.version == "2.3.1"
    assert result.problems == ()


def test_missing_or_unparseable_report_versions_do_not_break_and_are_reported() -> None:
    rule = bound("2.3.0", inclusive=True)
    missing = evaluate(rule, facts(None), default_scheme=LOOSE)
    assert not missing.breaks
    assert missing.problems == ("the report has no 'version' attribute to compare",)
    garbage = evaluate(rule, facts("nightly-build"), default_scheme=LOOSE)
    assert not garbage.breaks
    assert "'nightly-build' is not a loose version" in garbage.problems[0]


def test_a_rule_scheme_wins_over_the_default() -> None:
    rule = ResolveRule(
        any_of=(
            VersionBound(
                field="version", version="2024.05", inclusive=False, scheme=VersionScheme.CALENDAR
            ),
        )
    )
    assert evaluate(rule, facts("2024.06"), default_scheme=VersionScheme.SEMVER).breaks
    assert not evaluate(rule, facts("2024.04.30"), default_scheme=VersionScheme.SEMVER).breaks


def test_a_bound_that_no_longer_parses_is_reported_not_guessed() -> None:
    rule = bound("2.3", inclusive=True)  # stored under loose, project moved to semver
    result = evaluate(rule, facts("2.3.1"), default_scheme=VersionScheme.SEMVER)
    assert not result.breaks
    assert "the rule's bound" in result.problems[0]


def test_timestamp_regex_and_and() -> None:
    resolved_at = NOW - timedelta(hours=1)
    rule = ResolveRule(
        any_of=(
            And(
                invariants=(
                    TimestampGt(after=resolved_at),
                    RegularExpression(field="environment", regex="^prod"),
                )
            ),
        )
    )
    assert evaluate(rule, facts(environment="production"), default_scheme=LOOSE).breaks
    assert not evaluate(rule, facts(environment="staging"), default_scheme=LOOSE).breaks
    assert not evaluate(rule, facts(), default_scheme=LOOSE).breaks
    old = facts(at=resolved_at, environment="production")
    assert not evaluate(rule, old, default_scheme=LOOSE).breaks  # strictly after


def test_any_invariant_breaks_the_rule_and_the_first_that_holds_is_named() -> None:
    rule = ResolveRule(
        any_of=(
            RegularExpression(field="os", regex="windows"),
            VersionBound(field="version", version="3", inclusive=False),
        )
    )
    result = evaluate(rule, facts("4", os="linux"), default_scheme=LOOSE)
    assert result.breaks
    assert result.invariant == rule.any_of[1]
    assert not evaluate(rule, facts("2", os="linux"), default_scheme=LOOSE).breaks


def test_unbounded_rule_reopens_on_any_later_report() -> None:
    rule = unbounded_rule(NOW)
    assert evaluate(rule, facts(at=NOW + timedelta(seconds=1)), default_scheme=LOOSE).breaks
    assert not evaluate(rule, facts(at=NOW), default_scheme=LOOSE).breaks
    assert not evaluate(rule, facts(at=NOW - timedelta(days=1)), default_scheme=LOOSE).breaks
    with pytest.raises(ValueError, match="no time zone"):
        unbounded_rule(datetime(2026, 1, 1))


def test_facts_from_a_report_carry_its_version_as_version_and_the_version_attribute() -> None:
    report = CrashReport(
        project="demo", timestamp=NOW, attributes={"environment": "prod"}, version="2.3.1"
    )
    made = ReportFacts.from_report(report, version_attribute="app.version")
    assert made.attributes == {"environment": "prod", "app.version": "2.3.1", "version": "2.3.1"}
    assert made.timestamp == NOW


# --- JSON -------------------------------------------------------------------------------


def test_json_form_is_backtraces() -> None:
    rule = ResolveRule(
        any_of=(
            VersionBound(field="version", version="2.3.0", inclusive=True, scheme=LOOSE),
            TimestampGt(after=datetime(2024, 1, 1, tzinfo=UTC)),
            And(invariants=(RegularExpression(field="env", regex="^prod"),)),
        )
    )
    data = rule.to_json()
    assert data == [
        {"type": "version_ge", "field": "version", "version": "2.3.0", "scheme": "loose"},
        {"type": "timestamp_gt", "timestamp": 1704067200},
        {
            "type": "and",
            "invariants": [{"type": "regular_expression", "field": "env", "regex": "^prod"}],
        },
    ]
    assert ResolveRule.from_json(json.loads(json.dumps(data)), default_scheme=LOOSE) == rule


def test_backtrace_written_rules_are_read() -> None:
    data = [{"type": "version_gt", "field": "application.version", "version": "1.0.2"}]
    rule = ResolveRule.from_json(data, default_scheme=VersionScheme.SEMVER)
    assert rule.any_of == (
        VersionBound(field="application.version", version="1.0.2", inclusive=False),
    )
    assert rule.describe() == "application.version > 1.0.2"


def test_fractional_timestamps_survive() -> None:
    rule = unbounded_rule(datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=UTC))
    assert rule.to_json()[0]["timestamp"] == pytest.approx(1772366400.5)
    assert ResolveRule.from_json(rule.to_json(), default_scheme=LOOSE) == rule


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "version_gt"}, "expected a list of invariants, got dict"),
        ([], "the list is empty"),
        ([42], r"\[0\]: expected an object with a 'type', got int"),
        ([{"type": "version_lt"}], r"\[0\]: unknown type 'version_lt'"),
        ([{"type": "version_gt", "field": "version"}], r"\[0\]: version_gt needs version"),
        ([{"type": "timestamp_gt", "timestamp": 1, "x": 2}], "timestamp_gt does not take x"),
        ([{"type": "timestamp_gt", "timestamp": "1"}], "Unix seconds, got str"),
        ([{"type": "timestamp_gt", "timestamp": True}], "Unix seconds, got bool"),
        ([{"type": "timestamp_gt", "timestamp": -5}], "between 1970 and 9999"),
        ([{"type": "regular_expression", "field": "a", "regex": "("}], "does not compile"),
        ([{"type": "regular_expression", "field": "", "regex": "x"}], "non-empty attribute"),
        ([{"type": "version_ge", "field": "v", "version": "2.x"}], "'2.x' is not a semver version"),
        ([{"type": "version_ge", "field": "v", "version": 2}], "version must be a string, got int"),
        ([{"type": "version_ge", "field": "v", "version": "1", "scheme": "x"}], "unknown scheme"),
        ([{"type": "and", "invariants": []}], "and needs a non-empty list"),
        ([{"type": "and", "invariants": [{"type": "?"}]}], r"\[0\].invariants\[0\]: unknown type"),
    ],
)
def test_invalid_rules_say_what_is_wrong(data: Any, message: str) -> None:
    with pytest.raises(InvalidRule, match=message):
        ResolveRule.from_json(data, default_scheme=VersionScheme.SEMVER)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(InvalidRule) as caught:
        ResolveRule.from_json([{"type": "?"}, {"type": "timestamp_gt"}], default_scheme=LOOSE)
    assert len(caught.value.problems) == 2


_invariants = st.recursive(
    st.one_of(
        st.builds(
            VersionBound,
            field=st.sampled_from(["version", "app.version"]),
            version=st.sampled_from(["1", "2.3.0", "2.3.0-rc1"]),
            inclusive=st.booleans(),
            scheme=st.sampled_from([None, LOOSE]),
        ),
        st.builds(
            TimestampGt,
            after=st.datetimes(
                min_value=datetime(1970, 1, 2),
                max_value=datetime(2200, 1, 1),
                timezones=st.just(UTC),
            ).map(lambda d: d.replace(microsecond=0)),
        ),
        st.builds(RegularExpression, field=st.just("env"), regex=st.sampled_from(["^prod", "x|y"])),
    ),
    lambda children: st.lists(children, min_size=1, max_size=3).map(
        lambda items: And(invariants=tuple(items))
    ),
    max_leaves=6,
)


@given(st.lists(_invariants, min_size=1, max_size=4))
def test_json_round_trip(items: list[Any]) -> None:
    rule = ResolveRule(any_of=tuple(items))
    text = json.dumps(rule.to_json())
    assert ResolveRule.from_json(json.loads(text), default_scheme=LOOSE) == rule


# --- fix versions -------------------------------------------------------------------------


def test_done_with_fix_versions_resolves_until_the_highest() -> None:
    decided = rule_for_done(
        ["checkout 2.2.9", "checkout 2.3.0", "checkout 2.3.0-rc1"],
        resolved_at=NOW,
        config=FixVersionConfig(),
    )
    assert decided.fix_version == "checkout 2.3.0"
    assert decided.version is not None
    assert decided.version.text == "2.3.0"
    assert decided.rule.to_json() == [
        {"type": "version_ge", "field": "version", "version": "2.3.0", "scheme": "loose"}
    ]
    assert decided.problems == ()
    rule = decided.rule
    assert not evaluate(rule, facts("2.2.9"), default_scheme=LOOSE).breaks
    assert evaluate(rule, facts("2.3.0"), default_scheme=LOOSE).breaks
    assert evaluate(rule, facts("2.3.1"), default_scheme=LOOSE).breaks


def test_version_gt_by_configuration() -> None:
    config = FixVersionConfig(resolve_rule="version_gt", version_attribute="app.version")
    decided = rule_for_done(["2.3.0"], resolved_at=NOW, config=config)
    assert decided.rule.to_json()[0]["type"] == "version_gt"
    assert decided.rule.to_json()[0]["field"] == "app.version"
    assert not evaluate(
        decided.rule, facts(**{"app.version": "2.3.0"}), default_scheme=LOOSE
    ).breaks
    assert evaluate(decided.rule, facts(**{"app.version": "2.3.1"}), default_scheme=LOOSE).breaks


def test_unparseable_fix_versions_are_reported_and_the_rest_used() -> None:
    config = FixVersionConfig(version_scheme=VersionScheme.SEMVER)
    decided = rule_for_done(
        ["Backlog sweep", "web 2.3", "web 2.4.0"], resolved_at=NOW, config=config
    )
    assert decided.fix_version == "web 2.4.0"
    assert len(decided.problems) == 2
    assert "'Backlog sweep'" in decided.problems[0]
    assert "'web 2.3'" in decided.problems[1]


def test_no_usable_fix_version_resolves_without_a_bound_and_says_so() -> None:
    decided = rule_for_done(["Someday"], resolved_at=NOW, config=FixVersionConfig())
    assert decided.version is None
    assert decided.rule == unbounded_rule(NOW)
    assert decided.problems[-1].startswith("resolved without a version bound")


@pytest.mark.parametrize("names", [[], ["  "]])
def test_done_without_fix_versions_resolves_without_a_bound(names: list[str]) -> None:
    decided = rule_for_done(names, resolved_at=NOW, config=FixVersionConfig())
    assert decided.rule == unbounded_rule(NOW)
    assert decided.problems == ()


def test_fix_version_sync_off_ignores_fix_versions() -> None:
    decided = rule_for_done(["2.3.0"], resolved_at=NOW, config=FixVersionConfig(fix_versions=False))
    assert decided.rule == unbounded_rule(NOW)
