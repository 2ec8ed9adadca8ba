"""Impact decisions: when a refresh is due, which fields fit, what a person changed, the share."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from syncengine.domain.createmeta import FieldMeta
from syncengine.domain.fields import render_body
from syncengine.domain.impact import (
    ImpactFacts,
    ImpactPolicy,
    Refresh,
    RequestShare,
    Stat,
    Wait,
    backlink_comment,
    check_mapping,
    impact_fields,
    order_versions,
    person_edited,
    refresh_due,
)
from syncengine.domain.regression import Regressed, fix_version, regression_comment
from syncengine.domain.reports import Frame
from syncengine.domain.resolve import ResolveRule, VersionBound

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FACTS = ImpactFacts(
    count=1_000,
    affected_users=40,
    last_seen=T0,
    first_version="2.2.0",
    last_version="2.4.0",
    versions=("2.2.0", "2.3.0", "2.4.0"),
    regression_count=1,
    state="open",
    url="https://crash.example.com/admin/groups/7",
)
POLICY = ImpactPolicy(
    fields={Stat.OCCURRENCES: "Occurrences", Stat.AFFECTED_USERS: "customfield_10053"}
)
NUMBER = FieldMeta(
    id="customfield_10052",
    name="Occurrences",
    type="number",
    custom="com.atlassian.jira.plugin.system.customfieldtypes:float",
)
USERS = replace(NUMBER, id="customfield_10053", name="Affected users")
LABELS = FieldMeta(
    id="customfield_10057",
    name="Versions affected",
    type="array",
    items="string",
    custom="com.atlassian.jira.plugin.system.customfieldtypes:labels",
)
WHEN = FieldMeta(id="customfield_10055", name="Last seen", type="datetime")


def _due(facts: ImpactFacts, *, after: timedelta, policy: ImpactPolicy = POLICY) -> Refresh | Wait:
    return refresh_due(written=FACTS, written_at=T0, facts=facts, policy=policy, now=T0 + after)


@pytest.mark.parametrize(
    ("change", "due"),
    [
        ({}, False),
        ({"count": 1_099}, False),  # 9.9 %, 99 more: not meaningful
        ({"count": 1_100}, True),  # 100 more
        ({"state": "resolved"}, True),
        ({"affected_users": 41}, True),  # mapped
        ({"regression_count": 2}, False),  # not mapped
        ({"versions": ("2.2.0", "2.3.0", "2.4.0", "2.5.0")}, False),  # not mapped
    ],
)
def test_a_refresh_is_due_on_a_meaningful_change(change: dict[str, object], due: bool) -> None:
    decided = _due(replace(FACTS, **change), after=timedelta(minutes=20))  # type: ignore[arg-type]
    assert isinstance(decided, Refresh) is due


def test_percent_counts_for_small_groups_and_the_interval_always_holds() -> None:
    small = replace(FACTS, count=10)
    policy = replace(POLICY, min_change_occurrences=1_000)
    grown = replace(small, count=11)
    assert isinstance(
        refresh_due(
            written=small, written_at=T0, facts=grown, policy=policy, now=T0 + timedelta(hours=1)
        ),
        Refresh,
    )
    early = _due(replace(FACTS, state="resolved", count=90_000), after=timedelta(minutes=14))
    assert isinstance(early, Wait)
    assert early.until == T0 + timedelta(minutes=15)
    never = refresh_due(written=None, written_at=None, facts=FACTS, policy=POLICY, now=T0)
    assert never == Refresh(reason="never written")


def test_fields_keep_their_types() -> None:
    metas = {Stat.OCCURRENCES: NUMBER, Stat.VERSIONS_AFFECTED: LABELS, Stat.LAST_SEEN: WHEN}
    fields, problems = impact_fields(FACTS, metas, cloud=True)
    assert problems == ()
    assert fields == {
        "customfield_10052": 1000,
        "customfield_10057": ["2.2.0", "2.3.0", "2.4.0"],
        "customfield_10055": "2026-11-23T12:00:00.000+0000",
    }
    assert isinstance(fields["customfield_10052"], int)
    empty, _ = impact_fields(
        replace(FACTS, versions=()), {Stat.VERSIONS_AFFECTED: LABELS}, cloud=True
    )
    assert empty == {"customfield_10057": []}


def test_mapping_is_checked_against_the_edit_screen() -> None:
    policy = ImpactPolicy(
        fields={
            Stat.OCCURRENCES: "occurrences",  # by name, any case
            Stat.VERSIONS_AFFECTED: "customfield_10052",  # a number field
            Stat.REGRESSIONS: "Nope",
        }
    )
    found, problems = check_mapping(policy, {m.id: m for m in (NUMBER, LABELS)})
    assert found == {Stat.OCCURRENCES: NUMBER}
    assert [(p.stat, p.message) for p in problems] == [
        (Stat.VERSIONS_AFFECTED, "is a number field; versions need a labels field"),
        (Stat.REGRESSIONS, "is not on the issue's edit screen"),
    ]
    assert "Versions affected (customfield_10057)" in problems[1].fix


def test_a_persons_edit_is_told_apart_from_jiras_spelling() -> None:
    written = {
        "customfield_10052": 1000,
        "customfield_10057": ["2.2.0", "2.3.0"],
        "customfield_10055": "2026-11-23T12:00:00.000+0000",
        "customfield_10059": None,
    }
    same = {
        "customfield_10052": 1000.0,
        "customfield_10057": ["2.3.0", "2.2.0"],
        "customfield_10055": "2026-11-23T12:00:00.000Z",
        "customfield_10059": "",
    }
    assert person_edited(written, same) == frozenset()
    assert person_edited(written, {**same, "customfield_10052": 7.0}) == {"customfield_10052"}


def test_a_write_whose_answer_was_lost_is_ours_not_a_persons() -> None:
    written = {"customfield_10052": 1000, "customfield_10057": ["2.2.0"]}
    sending = {"customfield_10052": 1500}
    landed = {"customfield_10052": 1500.0, "customfield_10057": ["2.2.0"]}
    assert person_edited(written, landed, sending) == frozenset()
    assert person_edited(written, landed) == {"customfield_10052"}
    # A value that is neither ours nor the lost write's is a person's.
    assert person_edited(written, {**landed, "customfield_10052": 7}, sending) == {
        "customfield_10052"
    }


def test_request_share_refills_with_the_clock() -> None:
    share = RequestShare(per_second=10, share=0.1, burst=3, now=T0)
    assert share.refill(T0) == 3  # starts full
    assert [share.take() for _ in range(4)] == [True, True, True, False]
    assert share.refill(T0 + timedelta(seconds=1)) == 1
    assert share.refill(T0 + timedelta(hours=1)) == 3  # never more than the burst


def test_versions_are_ordered_as_versions() -> None:
    assert order_versions(["2.10.0", "2.9.1", "2.9.1", "beta"]) == ("beta", "2.9.1", "2.10.0")


@pytest.mark.parametrize("api_version", [2, 3])
def test_backlink_comment_links_the_group_page(api_version: int) -> None:
    document = backlink_comment(FACTS, title="KeyError: boom", project="shop", group_id=7)
    body = render_body(document, api_version=api_version)
    text = str(body)
    assert "1000 occurrences, 40 affected users, versions 2.2.0 to 2.4.0" in text
    assert FACTS.url in text  # the address itself, not only its escaped text


def test_regression_comment_carries_the_proof() -> None:
    rule = ResolveRule(any_of=(VersionBound(field="version", version="2.3.0", inclusive=True),))
    regressed = Regressed(
        report_index=0, rule=rule, invariant=None, version="2.3.1", breaking_reports=2
    )
    assert fix_version(rule) == "2.3.0"
    text = regression_comment(
        regressed,
        regression_count=1,
        group_url="https://crash.example.com/admin/groups/7",
        first_seen=T0,
        frames=[Frame(function="charge", filename="billing.py", line=12)] * 7,
    )
    assert "Fixed in: 2.3.0" in text
    assert "Crashed in: 2.3.1" in text
    assert "First reported: 2026-11-23 12:00:00 UTC" in text
    assert text.count("  at charge (billing.py:12)") == 5
