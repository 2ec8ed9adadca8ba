"""Every recorded Jira error body is parsed and mapped to an error that says what to fix."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncengine.errors import JiraPermanentError, JiraTransientError
from syncengine.jira.errors import (
    JiraAuthError,
    JiraBadRequest,
    JiraGone,
    JiraInvalidIssueType,
    JiraNotFound,
    JiraPermissionError,
    JiraRateLimited,
    JiraRequestRejected,
    JiraUnavailable,
    RequestContext,
    error_from_response,
    parse_error_body,
)

from .conftest import load_json

CASES = {case["id"]: case for case in load_json("error_responses/jira_error_bodies.json")["cases"]}

CREATE = RequestContext(
    operation="create an issue",
    user="bot@example.com",
    project_key="CRASH",
    permission="Create Issues",
)
READ_ISSUE = RequestContext(operation="read issue AV-168", user="bot@example.com", issue="AV-168")
SEARCH = RequestContext(operation="search issues", user="bot@example.com")

# case id -> (context, error class, phrases the operator must see)
EXPECTED: dict[str, tuple[RequestContext, type[Exception], tuple[str, ...]]] = {
    "create_400_field_not_on_screen_v2": (
        CREATE,
        JiraBadRequest,
        ("summary: Field 'summary' cannot be set", "priority:", "create/edit screen"),
    ),
    "create_400_customfield_not_on_screen_v3": (
        CREATE,
        JiraBadRequest,
        ("customfield_10137:", "customfield_10138:", "jira.custom_fields"),
    ),
    "create_400_invalid_issuetype_v3": (
        CREATE,
        JiraInvalidIssueType,
        ("issue type is not valid for this project", "jira.issue_type"),
    ),
    "create_400_required_field_spec_example": (
        CREATE,
        JiraBadRequest,
        ("Field 'priority' is required",),
    ),
    "create_400_labels_not_on_screen": (CREATE, JiraBadRequest, ("labels: Field 'labels'",)),
    "transition_400_non_integer_id": (
        CREATE,
        JiraBadRequest,
        ("'transition' identifier must be an integer",),
    ),
    "transition_400_non_integer_id_server_localized": (
        CREATE,
        JiraBadRequest,
        ("has to be an integer",),
    ),
    "remotelink_400_spec_example": (CREATE, JiraBadRequest, ("title: 'title' is required.",)),
    "bulk_create_400_spec_example": (
        CREATE,
        JiraBadRequest,
        ("issue 0: issuetype: The issue type selected is invalid.", "issue 0: project:"),
    ),
    "createmeta_400_maxresults_spec_example": (
        CREATE,
        JiraBadRequest,
        ("must not exceed the limit '200'",),
    ),
    "auth_401_cloud_bad_token": (
        READ_ISSUE,
        JiraAuthError,
        (
            "Jira rejected the API token for bot@example.com",
            "https://id.atlassian.com/manage-profile/security/api-tokens",
            "personal access token (Data Center)",
        ),
    ),
    "auth_403_denied_reason_header": (
        CREATE,
        JiraPermissionError,
        (
            "missing permission",
            "'Create Issues' permission in project CRASH",
            "<value not captured",
        ),
    ),
    "issue_404_cloud": (READ_ISSUE, JiraNotFound, ("Issue AV-168 does not exist",)),
    "issue_404_datacenter_9": (
        CREATE,
        JiraNotFound,
        ("Project CRASH does not exist or the user cannot see it", "jira.project_key"),
    ),
    "search_410_removed": (SEARCH, JiraGone, ("removed", "/search/jql")),
    "rate_limited_429_json": (SEARCH, JiraRateLimited, ("rate-limited",)),
    "rate_limited_429_html_cloud": (SEARCH, JiraRateLimited, ("rate-limited",)),
    "rate_limited_429_html_datacenter": (SEARCH, JiraRateLimited, ("rate-limited",)),
}


def _body_text(case: dict[str, Any]) -> tuple[str, str]:
    if "body_text_prefix" in case:
        return case["body_text_prefix"] + "<body>…</body></html>", "text/html;charset=UTF-8"
    if case.get("body") is None:
        return "", ""
    return json.dumps(case["body"]), "application/json"


def test_every_recorded_case_has_an_expectation() -> None:
    assert set(EXPECTED) == set(CASES)


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_recorded_error_maps_to_a_typed_error_with_the_fix(case_id: str) -> None:
    case = CASES[case_id]
    context, kind, phrases = EXPECTED[case_id]
    text, content_type = _body_text(case)
    error = error_from_response(
        case["status"],
        case.get("headers", {}),
        text,
        context=context,
        path=case.get("path") or "/rest/api/2/x",
        content_type=content_type,
    )
    assert type(error) is kind
    assert error.status == case["status"]
    assert error.transient is (case["status"] in {429, 502, 503, 504})
    assert error.fix, "every error tells the operator what to do"
    shown = error.user_message()
    for phrase in phrases:
        assert phrase in shown


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_recorded_error_body_is_read_whatever_its_shape(case_id: str) -> None:
    case = CASES[case_id]
    text, content_type = _body_text(case)
    body = parse_error_body(case["status"], case.get("headers", {}), text, content_type)
    if case_id.startswith("rate_limited_429_html"):
        assert body.messages[0].startswith(("Oops", "HTTP Status 429"))
    elif case.get("body") is not None:
        assert body.all_messages(), "a JSON error body always says something"


# pycontribs/jira tests/test_resilientsession.py errors_parsing_test_data (BSD-2-Clause).
PYCONTRIBS_PARSING = [
    (403, {"x-authentication-denied-reason": "err1"}, "", ["err1"]),
    (500, {}, "err1", ["err1"]),
    (500, {}, '{"message": "err1"}', ["err1"]),
    (500, {}, '{"errorMessages": "err1"}', ["err1"]),
    (500, {}, '{"errorMessages": ["err1", "err2"]}', ["err1", "err2"]),
    (500, {}, '{"errors": {"code1": "err1", "code2": "err2"}}', ["err1", "err2"]),
    (
        500,
        {},
        '{"errorMessages": [], "errors": {"code1": "err1", "code2": "err2"}}',
        ["err1", "err2"],
    ),
]


@pytest.mark.parametrize(("status", "headers", "content", "expected"), PYCONTRIBS_PARSING)
def test_pycontribs_error_parsing_table(
    status: int, headers: dict[str, str], content: str, expected: list[str]
) -> None:
    said = parse_error_body(status, headers, content).all_messages()
    assert len(said) == len(expected)
    for message, wanted in zip(said, expected, strict=True):
        assert message.endswith(wanted)  # field errors are shown as "code1: err1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("   ", []),
        (
            '{"message": "Client must be authenticated", "status-code": 401}',
            ["Client must be authenticated"],
        ),
        (
            '{"errorMessage": "Service temporarily unavailable"}',
            ["Service temporarily unavailable"],
        ),
        ('["a", "b"]', ["a", "b"]),
        ('"just a string"', ["just a string"]),
        ("<html><body><h1>Bad\n gateway</h1></body></html>", ["Bad gateway"]),
        ("x" * 1000, ["x" * 299 + "…"]),
    ],
)
def test_odd_bodies_are_read_defensively(text: str, expected: list[str]) -> None:
    assert parse_error_body(500, {}, text).all_messages() == expected


@pytest.mark.parametrize(
    ("status", "kind", "transient"),
    [
        (400, JiraBadRequest, False),
        (401, JiraAuthError, False),
        (403, JiraPermissionError, False),
        (404, JiraNotFound, False),
        (405, JiraRequestRejected, False),
        (409, JiraRequestRejected, False),
        (410, JiraGone, False),
        (429, JiraRateLimited, True),
        (500, JiraUnavailable, True),
        (502, JiraUnavailable, True),
        (503, JiraUnavailable, True),
        (504, JiraUnavailable, True),
    ],
)
def test_status_maps_to_transient_or_permanent(status: int, kind: type, transient: bool) -> None:
    error = error_from_response(status, {}, "", context=SEARCH, path="/x")
    assert isinstance(error, kind)
    assert isinstance(error, JiraTransientError if transient else JiraPermanentError)
    assert error.transient is transient


def test_bearer_401_points_at_personal_access_tokens() -> None:
    context = RequestContext(operation="read the current user", bearer=True)
    error = error_from_response(401, {}, "", context=context, path="/myself")
    assert "personal access token" in error.user_message()


def test_captcha_401_says_to_log_in_once() -> None:
    error = error_from_response(
        401, {"X-Seraph-LoginReason": "AUTHENTICATION_DENIED"}, "", context=SEARCH, path="/x"
    )
    assert "CAPTCHA" in error.user_message()


def test_400_on_project_names_the_project() -> None:
    body = json.dumps({"errors": {"project": "valid project is required"}})
    error = error_from_response(400, {}, body, context=CREATE, path="/issue")
    assert "Project CRASH does not exist or the user cannot see it" in str(error)
    assert isinstance(error, JiraBadRequest)
    assert error.field_errors == {"project": "valid project is required"}


def test_429_carries_retry_after() -> None:
    error = error_from_response(429, {}, "", context=SEARCH, path="/x", retry_after=7.0)
    assert error.retry_after == 7.0
    assert "retry after 7s" in str(error)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(status=st.sampled_from([400, 401, 403, 404, 410, 429, 500, 503]), data=_JSON)
def test_any_json_body_maps_to_a_jira_error(status: int, data: object) -> None:
    error = error_from_response(status, {}, json.dumps(data), context=CREATE, path="/issue")
    assert error.status == status
    assert error.fix


@given(
    text=st.text(max_size=400), content_type=st.sampled_from(["", "text/html", "application/json"])
)
def test_any_text_body_is_read_without_raising(text: str, content_type: str) -> None:
    body = parse_error_body(500, {}, text, content_type)
    assert all(len(m) <= 300 for m in body.messages)
    assert all(len(v) <= 300 for v in body.field_errors.values())
