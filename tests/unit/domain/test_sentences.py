"""Resolve rules and audit entries in words (the group page reads these)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncengine.domain.resolve import ResolveRule, unbounded_rule
from syncengine.domain.sentences import audit_sentence, until_words

VERSION = [{"type": "version_ge", "field": "version", "version": "2.3.0"}]


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (VERSION, "until a version ≥ 2.3.0 is seen"),
        (
            [{"type": "version_gt", "field": "app_version", "version": "7", "scheme": "loose"}],
            "until a report with app_version > 7 is seen",
        ),
        (
            [
                {
                    "type": "and",
                    "invariants": [
                        *VERSION,
                        {"type": "regular_expression", "field": "environment", "regex": "^prod"},
                    ],
                }
            ],
            "until a report with version ≥ 2.3.0 and environment matching /^prod/ is seen",
        ),
        (
            [*VERSION, {"type": "timestamp_gt", "timestamp": 1764687000}],
            "until a version ≥ 2.3.0 or a report after 2025-12-02 14:50 UTC is seen",
        ),
        ([{"type": "timestamp_gt", "timestamp": 1764687000}], "until it is seen again"),
        (None, "until it is seen again"),
        ([{"type": "from_the_future"}], "until a report with {'type': 'from_the_future'} is seen"),
    ],
)
def test_rules_in_words(rule: object, words: str) -> None:
    assert until_words(rule).startswith(words)


def test_the_rules_the_engine_stores_read_as_words() -> None:
    stored = ResolveRule.from_json(VERSION, default_scheme="semver").to_json()
    assert until_words(stored) == "until a version ≥ 2.3.0 is seen"
    unbounded = unbounded_rule(datetime(2026, 12, 2, 14, 49, tzinfo=UTC)).to_json()
    assert until_words(unbounded) == "until it is seen again (a report after 2026-12-02 14:49 UTC)"


@pytest.mark.parametrize(
    ("action", "detail", "sentence"),
    [
        (
            "group.state",
            {"before": "open", "after": "resolved"},
            "changed the state from open to resolved",
        ),
        (
            "group.assignee",
            {"before": None, "after": "dev@example.com"},
            "assigned it to dev@example.com",
        ),
        (
            "group.assignee",
            {"before": "dev@example.com", "after": None},
            "unassigned it (was dev@example.com)",
        ),
        ("ticket.linked", {"issue": "CRASH-3"}, "linked it to CRASH-3"),
        (
            "jira.transition",
            {
                "issue": "CRASH-1",
                "transition": "Done",
                "to": "Done",
                "resolution": "Done",
                "via": "x",
            },
            "moved CRASH-1 to Done (Done with resolution Done)",
        ),
        (
            "group.resolved_until",
            {"fix_version": "2.3.0", "rule": VERSION},
            "set by fix version 2.3.0 in Jira: resolved until a version ≥ 2.3.0 is seen",
        ),
        (
            "group.regression",
            {"version": "2.4.0", "rule": VERSION, "regression_count": 2},
            "reopened it (regression 2): a report from version 2.4.0 broke “resolved until a "
            "version ≥ 2.3.0 is seen”",
        ),
        (
            "sync.apply",
            {"field": "assignee", "before": None, "after": "dev@example.com"},
            "took assignee from Jira: nothing → dev@example.com",
        ),
        (
            "link.moved",
            {"issue_id": "1", "from": "CRASH-1", "to": "OPS-7"},
            "followed the issue's move: CRASH-1 is now OPS-7",
        ),
        ("something.new", {"b": 2, "a": [1, 2]}, "something.new: a 1, 2, b 2"),
        ("something.new", None, "something.new"),
    ],
)
def test_audit_entries_as_sentences(
    action: str, detail: dict[str, object] | None, sentence: str
) -> None:
    assert audit_sentence(action, detail) == sentence
