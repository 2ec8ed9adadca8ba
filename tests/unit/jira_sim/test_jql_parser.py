"""The JQL parser answers any input with a query or Jira's 400, never a crash."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from syncengine.jira.simulator import ManualClock, create_simulator
from syncengine.jira.simulator.errors import JiraHttpError
from syncengine.jira.simulator.issues import create_issue
from syncengine.jira.simulator.jql import Query, parse

SIM = create_simulator(clock=ManualClock())
for labels in (["crash"], [], ["ios", "crash"]):
    create_issue(
        SIM.state,
        SIM.user("bot@example.com"),
        {
            "fields": {
                "project": {"key": "CRASH"},
                "issuetype": {"name": "Task"},
                "summary": "s",
                "labels": labels,
            }
        },
        api_version=2,
    )
WORDS = [
    "project",
    "=",
    "CRASH",
    "AND",
    "OR",
    "NOT",
    "(",
    ")",
    "IN",
    ",",
    "labels",
    "status",
    "updated",
    ">=",
    "'2026-01-05 10:00'",
    "ORDER",
    "BY",
    "key",
    "DESC",
    "EMPTY",
    "IS",
    "issue.property[syncengine].group",
    '"g-1"',
    "statusCategory",
    "done",
    "-5m",
    "!=",
]


def _outcome(text: str) -> Query | JiraHttpError:
    try:
        return parse(SIM.state, text)
    except JiraHttpError as error:
        return error


@settings(max_examples=300)
@given(st.lists(st.sampled_from(WORDS), max_size=12))
def test_token_soup_parses_or_is_a_400(tokens: list[str]) -> None:
    result = _outcome(" ".join(tokens))
    if isinstance(result, Query):
        found = result.run(list(SIM.state.issues.values()))
        assert {i.id for i in found} <= set(SIM.state.issues)
    else:
        assert result.status == 400
        assert isinstance(result.body, dict)
        assert result.body["errorMessages"]


@settings(max_examples=200)
@given(st.text(max_size=40))
def test_arbitrary_text_parses_or_is_a_400(text: str) -> None:
    result = _outcome(text)
    assert isinstance(result, Query) or result.status == 400
