"""The webhook parser is total: any body is a JiraEvent or a PayloadError naming the field.

Property tests over JSON shapes, and over the recorded Cloud and Data Center
payloads with one value anywhere replaced by a value of another type.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncengine.domain.webhooks import (
    MAX_DEPTH,
    JiraEvent,
    PayloadError,
    age_problem,
    decode_payload,
    delivery_key,
    parse_delivery,
    parse_webhook,
)
from tests.paths import WEBHOOK_PAYLOADS

RECORDED = {
    p.name: json.loads(p.read_text(encoding="utf-8"))
    for p in sorted(WEBHOOK_PAYLOADS.glob("*.json"))
}
NOW = datetime(2019, 2, 16, 3, 30, tzinfo=UTC)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["", "\x00", "\ud83d", "10040", "1e30", "x" * 5000, 10**30, 1e30])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
# Shapes built from the keys the parser reads, so the search reaches its branches.
keys = st.sampled_from(
    [
        "issue",
        "id",
        "key",
        "fields",
        "status",
        "statusCategory",
        "name",
        "assignee",
        "accountId",
        "emailAddress",
        "labels",
        "fixVersions",
        "resolution",
        "updated",
        "project",
        "timestamp",
        "webhookEvent",
        "issue_event_type_name",
        "changelog",
        "items",
        "field",
        "fieldId",
        "from",
        "to",
        "fromString",
        "toString",
        "comment",
    ]
)
shaped = st.recursive(
    json_values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=25,
)


def _total(payload: Any) -> JiraEvent | None:
    """Parse; None for a PayloadError with a message. Anything else fails the test."""
    try:
        event = parse_webhook(payload)
    except PayloadError as exc:
        refusal = str(exc)
    else:
        refusal = ""
    if refusal:
        return None
    # Whatever was accepted can be keyed for the store.
    key = delivery_key(event, None)
    assert len(key) <= 200
    assert key.isascii()
    return event


@settings(max_examples=200)
@given(shaped)
def test_any_json_shape_is_an_event_or_a_payload_error(payload: Any) -> None:
    _total(payload)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _replace(payload: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(payload)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


PATHS = {name: _paths(payload) for name, payload in RECORDED.items()}


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    name = draw(st.sampled_from(sorted(RECORDED)))
    path = draw(st.sampled_from(PATHS[name]))
    return _replace(RECORDED[name], path, draw(json_values))


@settings(max_examples=300)
@given(mutated())
def test_a_recorded_payload_with_any_value_of_another_type_is_total(payload: Any) -> None:
    _total(payload)


BASE = RECORDED["webhook-issue-updated-resolved.json"]


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("issue", "fields", "status"), 5, "issue.fields.status must be an object"),
        (("issue", "fields", "status"), ["Done"], "issue.fields.status must be an object"),
        (("issue", "fields", "assignee"), 42, "issue.fields.assignee must be an object"),
        (
            ("issue", "fields", "assignee"),
            [{"name": "x"}],
            "issue.fields.assignee must be an object",
        ),
        (("issue", "fields", "labels"), 7, "issue.fields.labels must be a list of strings"),
        (("issue", "fields", "labels"), [["a"]], "issue.fields.labels[0] must be a string"),
        (("issue", "fields", "labels"), [3], "issue.fields.labels[0] must be a string"),
        (("issue", "fields", "fixVersions"), "v1", "issue.fields.fixVersions must be a list"),
        (("issue", "fields", "status", "id"), {"x": 1}, "issue.fields.status.id must be"),
        (("timestamp",), 1e30, "timestamp 1e+30 is not a time"),
        (("timestamp",), -1, "timestamp -1 is not a time"),
        (("timestamp",), "1550286940507", "timestamp must be epoch milliseconds"),
        (("issue", "id"), [10040], "issue.id must be"),
        (("issue", "id"), "10040; DROP", "issue.id must be Jira's numeric issue id"),
        (("issue", "key"), "K\x00-1", "issue.key contains a NUL"),
        (("issue", "key"), "K\ud83d-1", "issue.key contains a lone surrogate"),
        (("changelog", "items"), {"field": "status"}, "changelog.items must be a list of objects"),
        (("changelog", "items", 0), "status", "changelog.items[0] must be an object"),
        (("webhookEvent",), 3, "webhookEvent must be a string"),
    ],
)
def test_each_wrong_type_is_named(path: tuple[Any, ...], value: Any, named: str) -> None:
    with pytest.raises(PayloadError) as refused:
        parse_webhook(_replace(BASE, path, value))
    assert named in str(refused.value)


def test_deep_nesting_is_refused_at_any_depth() -> None:
    for depth in (MAX_DEPTH + 1, 900, 5_000, 100_000):
        body = b'{"issue":' + b"[" * depth + b"]" * depth + b"}"
        with pytest.raises(PayloadError, match="nested deeper than 64 levels"):
            parse_delivery(body)
    shallow = json.dumps({**BASE, "extra": json.loads("[" * 60 + "]" * 60)}).encode()
    assert parse_delivery(shallow).issue_key == "TES-41"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"issue": ', "not JSON"),
        (b'{"timestamp": 1' + b"0" * 5000 + b"}", "not JSON"),
        (b'{"timestamp": NaN, "issue": {"id": "1"}}', "timestamp nan is not a time"),
    ],
)
def test_bodies_that_are_not_json_events_say_why(body: bytes, says: str) -> None:
    with pytest.raises(PayloadError, match=says):
        parse_delivery(body)


def test_long_or_odd_delivery_identifiers_still_fit_the_store() -> None:
    event = parse_webhook(BASE)
    assert delivery_key(event, "abc-123") == "atl:abc-123"
    for identifier in ("x" * 500, "id\x00with-nul", "ünïcode"):
        key = delivery_key(event, identifier)
        assert key.startswith("sha256:")
        assert len(key) <= 200
        assert key == delivery_key(event, identifier), "the same delivery, the same key"


def test_an_old_or_far_future_delivery_is_refused_as_a_replay() -> None:
    event = parse_webhook(BASE)  # signed at 2019-02-16 03:15:40 UTC
    hour = timedelta(hours=1)
    assert age_problem(event, NOW, hour) is None
    old = age_problem(event, NOW + timedelta(hours=3), hour)
    assert old is not None
    assert "3.2 h old" in old
    assert "http.webhook_max_age_seconds = 3600" in old
    ahead = age_problem(event, NOW - timedelta(hours=2), hour)
    assert ahead is not None
    assert "ahead of this server's clock" in ahead


def test_decoding_keeps_what_json_says() -> None:
    assert decode_payload(b'{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}


def test_a_long_description_edit_in_the_changelog_does_not_refuse_the_delivery() -> None:
    """A transition screen that edits the description too: Jira puts the whole old and
    new text (up to 32,767 characters) in the changelog item; the status change counts."""
    payload = copy.deepcopy(RECORDED["webhook-issue-updated-resolved.json"])
    payload["changelog"]["items"].append(
        {
            "field": "description",
            "fieldtype": "jira",
            "fieldId": "description",
            "from": None,
            "fromString": "old " * 8000,
            "to": None,
            "toString": "new " * 8000,
        }
    )
    event = parse_webhook(payload)
    assert "status" in {c.field for c in event.changes}
    [edit] = [c for c in event.changes if c.field == "description"]
    assert edit.to_string is not None
    assert len(edit.to_string) == 4096
