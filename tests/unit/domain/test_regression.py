"""Regression decisions at ingest and on the Jira side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncengine.domain.fixversions import FixVersionConfig, rule_for_done
from syncengine.domain.groups import GroupState
from syncengine.domain.regression import (
    CountOnly,
    FileNewIssue,
    Regressed,
    RegressionConfig,
    ReopenIssue,
    decide_regression,
    jira_action,
)
from syncengine.domain.resolve import ReportFacts, ResolveRule
from syncengine.domain.versions import VersionScheme

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RESOLVED_AT = NOW - timedelta(days=2)
LOOSE = VersionScheme.LOOSE


def report(version: str | None, *, at: datetime = NOW) -> ReportFacts:
    return ReportFacts(timestamp=at, attributes={} if version is None else {"version": version})


def fixed_in(version: str, rule: str = "version_ge") -> ResolveRule:
    config = FixVersionConfig(resolve_rule=rule)  # type: ignore[arg-type]
    return rule_for_done([f"checkout {version}"], resolved_at=RESOLVED_AT, config=config).rule


def decide(
    rule: ResolveRule | None,
    reports: list[ReportFacts],
    *,
    state: GroupState = GroupState.RESOLVED,
    resolved_at: datetime | None = RESOLVED_AT,
) -> Regressed | CountOnly:
    return decide_regression(
        state=state, rule=rule, resolved_at=resolved_at, reports=reports, default_scheme=LOOSE
    )


# --- the issue's cases ---------------------------------------------------------------------


def test_older_version_only_counts() -> None:
    decision = decide(fixed_in("2.3.0"), [report("2.2.9")])
    assert isinstance(decision, CountOnly)
    assert "version ≥ 2.3.0" in decision.reason


def test_crash_in_the_fix_version_regresses_under_version_ge() -> None:
    decision = decide(fixed_in("2.3.0"), [report("2.3.0")])
    assert isinstance(decision, Regressed)
    assert decision.version == "2.3.0"
    assert decision.report_index == 0


def test_crash_in_the_fix_version_does_not_regress_under_version_gt() -> None:
    assert isinstance(decide(fixed_in("2.3.0", "version_gt"), [report("2.3.0")]), CountOnly)


@pytest.mark.parametrize("rule", ["version_ge", "version_gt"])
def test_later_version_regresses(rule: str) -> None:
    decision = decide(fixed_in("2.3.0", rule), [report("2.3.1")])
    assert isinstance(decision, Regressed)
    assert decision.version == "2.3.1"


def test_one_regression_per_batch_however_many_reports_break_it() -> None:
    batch = [report("2.2.9"), report("2.3.1"), report("2.3.0"), report("2.2.0"), report("2.4")]
    decision = decide(fixed_in("2.3.0"), batch)
    assert isinstance(decision, Regressed)
    assert decision.report_index == 1
    assert decision.version == "2.3.1"
    assert decision.breaking_reports == 3


def test_groups_that_are_not_resolved_never_regress() -> None:
    for state in (GroupState.OPEN, GroupState.IN_PROGRESS, GroupState.MUTED):
        decision = decide(fixed_in("2.3.0"), [report("9.9.9")], state=state)
        assert isinstance(decision, CountOnly)
        assert state.value in decision.reason


def test_unreadable_versions_count_and_are_reported() -> None:
    decision = decide(fixed_in("2.3.0"), [report(None), report("banana")])
    assert isinstance(decision, CountOnly)
    assert len(decision.problems) == 1
    assert "'banana' is not a loose version" in decision.problems[0]


def test_the_latest_report_says_whether_versions_can_be_ordered() -> None:
    """As one request per report would leave it: a clean report clears the problem."""
    clean = decide(fixed_in("2.3.0"), [report("banana"), report("2.2.9")])
    assert isinstance(clean, CountOnly)
    assert clean.problems == ()
    odd = decide(fixed_in("2.3.0"), [report("2.2.9"), report("banana")])
    assert isinstance(odd, CountOnly)
    alone = decide(fixed_in("2.3.0"), [report("banana")])
    assert isinstance(alone, CountOnly)
    assert odd.problems == alone.problems


def test_resolved_without_a_rule_reopens_on_a_later_report_only() -> None:
    assert isinstance(decide(None, [report(None, at=RESOLVED_AT - timedelta(hours=1))]), CountOnly)
    decision = decide(None, [report(None, at=RESOLVED_AT - timedelta(hours=1)), report("1.0")])
    assert isinstance(decision, Regressed)
    assert decision.report_index == 1


def test_resolved_without_rule_or_time_reopens_on_any_report() -> None:
    decision = decide(None, [report("1.0", at=datetime(2000, 1, 1, tzinfo=UTC))], resolved_at=None)
    assert isinstance(decision, Regressed)
    assert decision.rule is None


def test_an_empty_batch_is_count_only() -> None:
    assert isinstance(decide(fixed_in("2.3.0"), []), CountOnly)


@given(st.lists(st.sampled_from(["2.2.9", "2.3.0", "2.3.1", "1.0", "3"]), max_size=12))
def test_regressed_exactly_when_some_report_is_at_or_above_the_fix(versions: list[str]) -> None:
    decision = decide(fixed_in("2.3.0"), [report(v) for v in versions])
    breaking = [i for i, v in enumerate(versions) if v in {"2.3.0", "2.3.1", "3"}]
    if breaking:
        assert isinstance(decision, Regressed)
        assert decision.report_index == breaking[0]
        assert decision.breaking_reports == len(breaking)
    else:
        assert isinstance(decision, CountOnly)


# --- the Jira side ---------------------------------------------------------------------------

URL = "https://crash.example.com/groups/42"


def regressed() -> Regressed:
    decision = decide(fixed_in("2.3.0"), [report("2.3.1"), report("2.3.2")])
    assert isinstance(decision, Regressed)
    return decision


def act(
    config: RegressionConfig,
    *,
    closed_at: datetime | None = NOW - timedelta(days=3),
    resolution: str | None = "Done",
) -> ReopenIssue | FileNewIssue:
    return jira_action(
        regressed(),
        issue_key="CRASH-7",
        closed_at=closed_at,
        resolution=resolution,
        regression_count=2,
        group_url=URL,
        config=config,
        now=NOW,
    )


def test_reopen_with_a_comment_naming_version_count_and_link() -> None:
    action = act(RegressionConfig())
    assert isinstance(action, ReopenIssue)
    assert action.issue_key == "CRASH-7"
    assert "version 2.3.1 crashed again" in action.comment
    assert "version ≥ 2.3.0" in action.comment
    assert "2 new reports" in action.comment
    assert "regression #2" in action.comment
    assert URL in action.comment


def test_new_issue_always_when_configured() -> None:
    action = act(RegressionConfig(regression_action="new_issue"))
    assert isinstance(action, FileNewIssue)
    assert action.link_to == "CRASH-7"
    assert "2.3.1" in action.comment


def test_new_issue_when_closed_long_ago() -> None:
    config = RegressionConfig(new_issue_after_days=30)
    recent = act(config, closed_at=NOW - timedelta(days=30))
    assert isinstance(recent, ReopenIssue)
    old = act(config, closed_at=NOW - timedelta(days=31))
    assert isinstance(old, FileNewIssue)
    assert "31 days ago (more than 30)" in old.reason
    assert isinstance(act(config, closed_at=None), ReopenIssue)


@pytest.mark.parametrize("resolution", ["Won't Do", "won't do"])
def test_new_issue_when_closed_as_wont_do(resolution: str) -> None:
    action = act(RegressionConfig(), resolution=resolution)
    assert isinstance(action, FileNewIssue)
    assert "Won't Do" in action.reason or "won't do" in action.reason


def test_comment_without_a_version() -> None:
    decision = decide(None, [report(None)])
    assert isinstance(decision, Regressed)
    action = jira_action(
        decision,
        issue_key="CRASH-1",
        closed_at=None,
        resolution=None,
        regression_count=1,
        group_url="",
        config=RegressionConfig(),
        now=NOW,
    )
    assert isinstance(action, ReopenIssue)
    assert action.comment.startswith("Regression: the error was seen again")
    assert "1 new report broke" in action.comment
    assert "Error group" not in action.comment
