"""Webhook signatures (known-answer vectors) and real Cloud / Data Center payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncengine.domain.webhooks import (
    EventKind,
    PayloadError,
    age_problem,
    applied,
    combine,
    delivery_key,
    ignored,
    parse_webhook,
    sign,
    verify_signature,
)
from tests.paths import JIRA_FIXTURES, WEBHOOK_PAYLOADS

HOOKS = WEBHOOK_PAYLOADS


def load(name: str) -> Any:
    return json.loads((HOOKS / name).read_text(encoding="utf-8"))


def vectors() -> list[dict[str, Any]]:
    data = json.loads((JIRA_FIXTURES / "signature_test_vectors.json").read_text())
    return list(data["vectors"])


@pytest.mark.parametrize("vector", vectors(), ids=lambda v: str(v["expect"])[:20])
def test_known_answer_vectors(vector: dict[str, Any]) -> None:
    problem = verify_signature(
        vector["secret"].encode(), vector["body_utf8"].encode(), vector["x_hub_signature"]
    )
    if vector["expect"] == "accept":
        assert problem is None
    else:
        assert problem is not None


def test_sign_round_trips_and_one_byte_changes_reject() -> None:
    body = b'{"webhookEvent":"jira:issue_updated"}'
    header = sign(b"k", body)
    assert verify_signature(b"k", body, header) is None
    assert verify_signature(b"k", body + b" ", header) == "signatures do not match"
    assert verify_signature(b"other", body, header) == "signatures do not match"
    assert verify_signature(b"k", body, "md5=abc") == "X-Hub-Signature must be sha256=<hex digest>"
    assert verify_signature(b"k", body, None) == "missing X-Hub-Signature header"


def test_resolved_event_on_cloud() -> None:
    event = parse_webhook(load("webhook-issue-updated-resolved.json"))
    assert (event.kind, event.issue_id, event.issue_key) == (EventKind.UPDATED, "10040", "TES-41")
    assert event.timestamp == datetime(2019, 2, 16, 3, 15, 40, 507000, tzinfo=UTC)
    status = event.changed("status")
    assert status is not None
    assert (status.from_id, status.to_id, status.to_string) == ("3", "10002", "Done")
    assert event.state.status_category == "done"
    assert event.state.resolution == "Done"
    assert not event.needs_fetch


def test_created_event_uses_capitalised_status_field() -> None:
    event = parse_webhook(load("webhook-issue-created.json"))
    assert event.kind is EventKind.CREATED
    assert event.changed("status") is not None


def test_fix_version_change_without_field_id_is_canonical() -> None:
    payload = load("webhook-issue-updated-fix-version.json")
    for item in payload["changelog"]["items"]:
        item.pop("fieldId", None)  # as Data Center sends it
    change = parse_webhook(payload).changed("fixVersions")
    assert change is not None
    assert change.to_string == "v2"


def test_server_assignment_has_username() -> None:
    event = parse_webhook(load("webhook-issue-updated-assigned-on-server.json"))
    change = event.changed("assignee")
    assert change is not None
    assert change.to_id == "admin"


def test_assigned_event_with_empty_changelog_needs_fetch() -> None:
    payload = load("webhook-issue-updated-assigned.json")
    payload["changelog"] = {"id": "1", "items": []}
    assert parse_webhook(payload).needs_fetch


def test_deleted_event() -> None:
    event = parse_webhook(load("webhook-issue-deleted.json"))
    assert (event.kind, event.issue_key) == (EventKind.DELETED, "IDT-19")


def test_the_recorded_payloads_are_vendored() -> None:
    # An empty folder would turn the parametrized test below into a silent skip.
    assert len(list(HOOKS.glob("*.json"))) >= 30


@pytest.mark.parametrize("name", sorted(p.name for p in HOOKS.glob("*.json")))
def test_every_recorded_payload_parses(name: str) -> None:
    event = parse_webhook(load(name))
    assert event.issue_id
    assert delivery_key(event, None).startswith(event.issue_id)
    assert delivery_key(event, "abc") == "atl:abc"


@pytest.mark.parametrize(
    # ({"issue": {"id": "1"}} without a timestamp is read: see the timestamp-less test below)
    "body",
    [[], {"issue": {}}, {"timestamp": 1, "issue": "x"}, {"timestamp": 1, "comment": {"id": "1"}}],
)
def test_malformed_bodies_say_what_is_missing(body: Any) -> None:
    with pytest.raises(PayloadError):
        parse_webhook(body)


def dc_comment(self_link: object) -> dict[str, Any]:
    # Jira Data Center/Server comment events (Atlassian's webhook docs): no "issue" object.
    return {
        "timestamp": 1733137500000,
        "webhookEvent": "comment_updated",
        "comment": {"self": self_link, "id": "252789", "body": "Tested on master."},
    }


@pytest.mark.parametrize(
    "link",
    [
        "https://jira.example.com/rest/api/2/issue/10148/comment/252789",
        "https://example.com/jira/rest/api/latest/issue/10148/comment/252789",
    ],
)
def test_a_data_center_comment_event_takes_the_issue_id_from_comment_self(link: str) -> None:
    event = parse_webhook(dc_comment(link))
    assert (event.kind, event.issue_id, event.comment_id) == (EventKind.COMMENT, "10148", "252789")
    assert event.issue_key == ""


@pytest.mark.parametrize(
    "link", [None, "https://jira.example.com/rest/api/2/project/10", 10148, "/issue/x/comment/1"]
)
def test_a_comment_event_without_a_readable_issue_is_still_refused(link: object) -> None:
    with pytest.raises(PayloadError):
        parse_webhook(dc_comment(link))


def test_a_delivery_without_timestamp_is_read_and_keyed_by_its_body() -> None:
    payload = load("webhook-issue-updated-resolved.json")
    del payload["timestamp"]
    event = parse_webhook(payload)
    assert event.timestamp is None
    assert age_problem(event, datetime.now(UTC), timedelta(hours=1)) is None
    key = delivery_key(event, None, b"body one")
    assert key.startswith(f"{event.issue_id}:body:")
    assert delivery_key(event, None, b"body one") == key
    assert delivery_key(event, None, b"body two") != key
    assert delivery_key(event, "abc", b"body one") == "atl:abc"


def test_handler_answers_combine() -> None:
    assert combine([None, applied(), ignored("x")]) == applied()
    assert combine([ignored("not linked"), ignored("other")]) == ignored("not linked")
    assert combine([None]).status == "ignored"
    assert combine([]).reason == "no handler takes this event"
