"""Recorded Jira answers not served by the contract test, replayed through the parsers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from syncengine.jira import parsing, site_parsing
from syncengine.jira.errors import (
    JiraAuthError,
    JiraBadRequest,
    JiraUnexpectedResponse,
    RequestContext,
    error_from_response,
)

from .conftest import load_json, load_pydict

CREATE = RequestContext(operation="create an issue", user="bot@example.com", project_key="FOO")


def test_full_issue_from_atlassian_python_api() -> None:
    data = load_pydict("atlassian-python-api/rest_api_2_issue_FOO-123_GET.pydict")["fields=*all"]
    issue = parsing.parse_issue(data)
    assert (issue.id, issue.key, issue.summary) == ("138135", "FOO-123", "Sample")
    assert issue.status is not None
    assert (issue.status.id, issue.status.name, issue.status.category_key) == (
        "10909",
        "Backlog",
        "new",
    )
    assert issue.assignee is None
    assert issue.resolution is None
    assert issue.fix_versions == ()
    assert issue.labels == ("sample",)
    assert issue.issue_type == "Epic"
    assert issue.project_key == "FOO"
    assert issue.updated == datetime(
        2022, 7, 11, 6, 25, 48, 416000, tzinfo=timezone(timedelta(hours=-4))
    )
    assert "customfield_10000" in issue.fields or issue.fields["summary"] == "Sample"


@pytest.mark.parametrize("name", ["issue.json", "issue-1.json", "issue-2.json"])
def test_jira_cli_issues(name: str) -> None:
    issue = parsing.parse_issue(load_json(f"jira-cli/{name}"))
    assert issue.key.startswith("TEST-")
    assert issue.status is not None
    assert issue.status.name
    assert issue.status.id is None  # the recording leaves it out; the parser copes
    assert issue.updated is not None
    assert issue.updated.tzinfo is not None


def test_v3_issue_description_stays_adf() -> None:
    issue = parsing.parse_issue(load_json("jira-cli/issue.json"))
    description = issue.fields.get("description")
    assert isinstance(description, dict)
    assert description["type"] == "doc"
    assert parsing.adf_text(description)


def test_comments_from_atlassian_python_api() -> None:
    data = load_pydict("atlassian-python-api/rest_api_2_issue_FOO-123_comment_GET.pydict")[None]
    comments, total = parsing.parse_comments(data)
    assert total == 2
    assert len(comments) == 2
    assert all(c.author is not None and c.author.account_id for c in comments)
    assert all(c.created is not None for c in comments)


def test_remote_links_from_both_recordings() -> None:
    links = parsing.parse_remote_links(
        load_pydict("atlassian-python-api/rest_api_2_issue_FOO-123_remotelink_GET.pydict")[None]
    )
    assert [(link.id, link.url, link.title) for link in links] == [
        (10001, "https://example.com", "Example")
    ]
    assert len(parsing.parse_remote_links(load_json("go-jira/remote_links.json"))) == 2


def test_jira_cli_transitions_mark_unavailable_ones() -> None:
    transitions = parsing.parse_transitions(load_json("jira-cli/transitions.json"))
    assert [(t.id, t.available) for t in transitions] == [("11", True), ("21", True), ("31", False)]


def test_go_jira_transition_fields() -> None:
    (first, *_rest) = parsing.parse_transitions(load_json("go-jira/transitions.json"))
    assert first.fields
    assert first.to_status is not None


def test_single_status_category() -> None:
    (category,) = site_parsing.parse_status_categories([load_json("go-jira/status_category.json")])
    assert category.key
    assert category.id is not None


def test_atlassian_python_api_create_errors() -> None:
    responses = load_pydict("atlassian-python-api/rest_api_2_issue_POST.pydict")
    mapped = []
    for answer in responses.values():
        status = answer.pop("status_code")
        headers = answer.pop("headers", {})
        mapped.append(
            error_from_response(status, headers, json.dumps(answer), context=CREATE, path="/issue")
        )
    bad, auth = mapped
    assert isinstance(bad, JiraBadRequest)
    assert "labels" in bad.field_errors
    assert isinstance(auth, JiraAuthError)


def test_wrong_shapes_are_unexpected_responses() -> None:
    with pytest.raises(JiraUnexpectedResponse):
        parsing.parse_issue(["not", "an", "issue"])
    with pytest.raises(JiraUnexpectedResponse):
        parsing.parse_created({"self": "x"})
    with pytest.raises(JiraUnexpectedResponse, match="without a time zone"):
        parsing.parse_datetime("2020-12-03T14:05:20")
    with pytest.raises(JiraUnexpectedResponse, match="2 requests"):
        parsing.parse_bulk_create({"issues": [], "errors": []}, count=2)
