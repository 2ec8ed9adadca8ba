"""Sentry events, envelopes, the legacy store body and the auth header."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from syncengine.domain.fingerprint import custom_fingerprint, default_components
from syncengine.ingest.limits import ReportContext
from syncengine.ingest.sentry import (
    event_report,
    parse_sentry_auth,
    parse_sentry_envelope,
    parse_sentry_store,
)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CTX = ReportContext(project="shop", now=NOW)


def frame(function: str, module: str, in_app: bool = True) -> dict[str, Any]:
    return {
        "function": function,
        "module": module,
        "filename": module.replace(".", "/") + ".py",
        "abs_path": "/srv/" + module.replace(".", "/") + ".py",
        "lineno": 12,
        "in_app": in_app,
    }


CHAINED = {
    "event_id": "a" * 32,
    "timestamp": "2026-02-28T09:30:00.123456Z",
    "platform": "python",
    "level": "error",
    "release": "shop@2.0.1",
    "environment": "production",
    "server_name": "web-3",
    "tags": {"region": "eu", "shard": 4},
    "exception": {
        "values": [
            {
                "type": "KeyError",
                "value": "'sku'",
                "stacktrace": {"frames": [frame("lookup", "shop.catalog")]},
            },
            {
                "type": "CheckoutFailed",
                "value": "cannot price cart 1234",
                "mechanism": {"type": "generic", "handled": True},
                "stacktrace": {
                    "frames": [
                        frame("run", "flask.app", in_app=False),
                        frame("checkout", "shop.views"),
                        frame("price", "shop.pricing"),
                    ]
                },
            },
        ]
    },
}


def test_chained_exception_uses_the_last_value_and_reverses_frames() -> None:
    item = event_report(CHAINED, CTX)
    report = item.report
    assert item.event_id == "a" * 32
    assert report.classifier == "CheckoutFailed"
    assert report.message == "cannot price cart 1234"
    assert [f.function for f in report.frames] == ["price", "checkout", "run"]
    assert default_components(report) == [
        "type:CheckoutFailed",
        "frame:shop.pricing:price",
        "frame:shop.views:checkout",
    ]
    assert report.attributes == {
        "region": "eu",
        "shard": "4",
        "release": "shop@2.0.1",
        "environment": "production",
        "level": "error",
        "server_name": "web-3",
        "platform": "python",
        "handled": "true",
        "version": "shop@2.0.1",  # the canonical version attribute, from the release
    }
    assert report.version == "shop@2.0.1"
    assert report.timestamp == datetime(2026, 2, 28, 9, 30, 0, 123456, tzinfo=UTC)


def test_legacy_exception_list_and_epoch_timestamp_and_tag_pairs() -> None:
    event = dict(
        CHAINED,
        exception=CHAINED["exception"]["values"],  # type: ignore[index]
        timestamp=1772000000.5,
        tags=[["region", "us"]],
    )
    report = event_report(event, CTX).report
    assert report.classifier == "CheckoutFailed"
    assert report.attributes["region"] == "us"
    assert report.timestamp == datetime.fromtimestamp(1772000000.5, UTC)


def test_custom_fingerprint_with_default() -> None:
    event = dict(CHAINED, fingerprint=["{{ default }}", "payments"])
    report = event_report(event, CTX).report
    assert report.fingerprint == custom_fingerprint(["{{ default }}", "payments"], report)


@pytest.mark.parametrize(
    "event",
    [
        {"message": "user 12 logged in"},
        {"message": {"message": "user %s logged in", "formatted": "user 12 logged in"}},
        {"logentry": {"message": "user %s logged in", "formatted": "user 12 logged in"}},
    ],
)
def test_message_events(event: dict[str, Any]) -> None:
    report = event_report(event, CTX).report
    assert report.message == "user 12 logged in"
    assert report.classifier == ""
    assert report.frames == ()


def test_logentry_groups_by_template() -> None:
    one = {"logentry": {"message": "user %s gone", "formatted": "user alice gone"}}
    two = {"logentry": {"message": "user %s gone", "formatted": "user bob gone"}}
    assert event_report(one, CTX).report.fingerprint == event_report(two, CTX).report.fingerprint


def test_message_with_attached_thread_stack() -> None:
    event = {
        "message": "slow",
        "threads": {"values": [{"current": True, "stacktrace": {"frames": [frame("a", "m")]}}]},
    }
    assert event_report(event, CTX).report.frames[0].function == "a"


def envelope(*items: tuple[dict[str, Any], bytes], head: dict[str, Any] | None = None) -> bytes:
    lines = [json.dumps(head or {"event_id": "b" * 32}).encode()]
    for header, payload in items:
        lines += [json.dumps(header).encode(), payload]
    return b"\n".join(lines)


def test_envelope_skips_unknown_items_and_reports_bad_events() -> None:
    event = json.dumps(CHAINED).encode()
    body = envelope(
        ({"type": "session"}, b'{"sid":"x"}'),
        ({"type": "event", "length": len(event)}, event),
        ({"type": "something_new"}, b"\x00\x01"),
        ({"type": "event"}, b"{broken"),
    )
    parsed, headers = parse_sentry_envelope(body, CTX)
    assert headers["event_id"] == "b" * 32
    assert [p.index for p in parsed.reports] == [1]
    assert [p.index for p in parsed.problems] == [3]


def test_legacy_store_body_plain_and_raven_packed() -> None:
    plain = json.dumps(CHAINED).encode()
    assert parse_sentry_store(plain, CTX).reports[0].report.classifier == "CheckoutFailed"
    packed = base64.b64encode(zlib.compress(plain))
    assert parse_sentry_store(packed, CTX).reports[0].report.classifier == "CheckoutFailed"


def test_bad_event_fields() -> None:
    parsed = parse_sentry_store(json.dumps({"tags": "x", "message": "m"}).encode(), CTX)
    assert parsed.problems[0].errors[0].field == "tags"
    parsed = parse_sentry_store(json.dumps({"fingerprint": [{"a": 1}]}).encode(), CTX)
    assert parsed.problems[0].errors[0].field == "fingerprint"
    parsed = parse_sentry_store(json.dumps({"tags": {"os": {"n": 1}}}).encode(), CTX)
    assert parsed.problems[0].errors[0].field == "tags.os"
    parsed = parse_sentry_store(json.dumps({"release": {"v": 1}}).encode(), CTX)
    assert parsed.problems[0].errors[0].field == "release"


@pytest.mark.parametrize(
    "header",
    [
        "Sentry sentry_key=k123, sentry_version=7, sentry_client=sentry.python/2.75.0",
        "Sentry sentry_version=7,sentry_key=k123",
        "Sentry sentry_timestamp=1, sentry_client=raven-js/3, sentry_version=7, sentry_key=k123",
        "sentry sentry_key = k123 , sentry_secret=s",
        'Sentry sentry_key="k123"',
    ],
)
def test_auth_header_in_any_order(header: str) -> None:
    assert parse_sentry_auth(header)["sentry_key"] == "k123"


def test_user_context_becomes_user_attributes() -> None:
    # As sentry-sdk sends sentry_sdk.set_user(...) (ip "{{auto}}" with send_default_pii).
    event = {
        **CHAINED,
        "user": {
            "id": 42,
            "email": "ada@example.com",
            "username": "ada",
            "ip_address": "203.0.113.9",
            "data": {"plan": "pro"},
        },
    }
    attributes = event_report(event, CTX).report.attributes
    assert {k: v for k, v in attributes.items() if k.startswith("user.")} == {
        "user.id": "42",
        "user.email": "ada@example.com",
        "user.username": "ada",
        "user.ip_address": "203.0.113.9",
    }
    auto = event_report({**CHAINED, "user": {"id": "7", "ip_address": "{{auto}}"}}, CTX)
    assert "user.ip_address" not in auto.report.attributes
    assert auto.report.attributes["user.id"] == "7"
    parsed = parse_sentry_store(json.dumps({**CHAINED, "user": "ada"}).encode(), CTX)
    assert parsed.problems[0].errors[0].field == "user"
