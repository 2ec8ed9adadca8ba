"""The Backtrace- and Sentry-compatible endpoints over HTTP (in-process app)."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import brotli  # type: ignore[import-untyped]
import pytest

from tests.integration.ingest_harness import OTHER_TOKEN, SHOP_TOKEN, Harness, harness
from tests.unit.test_backtrace_format import BOUNDARY, REPORT, multipart
from tests.unit.test_sentry_format import CHAINED, envelope

__all__ = ["harness"]  # the fixture, imported for pytest

MULTIPART = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


async def test_backtrace_query_token_form(harness: Harness) -> None:
    response = await harness.client.post(
        f"/post?token={SHOP_TOKEN}&format=json", content=multipart(REPORT), headers=MULTIPART
    )
    assert response.status_code == 200
    assert response.json() == {"response": "ok", "_rxid": REPORT["uuid"]}
    (group,) = await harness.groups()
    assert group.project == "shop"
    assert group.classifier == "ZeroDivisionError"
    assert group.message == "division by zero"
    assert group.last_version == "7.1"
    assert group.top_value("process.id") == "4242"


async def test_backtrace_path_form_and_raw_json(harness: Harness) -> None:
    report = {k: v for k, v in REPORT.items() if k != "uuid"}
    response = await harness.client.post(f"/universe/{SHOP_TOKEN}/json", json=report)
    assert response.status_code == 200
    assert response.json()["response"] == "ok"
    assert len(response.json()["_rxid"]) == 32
    assert (await harness.groups())[0].count == 1


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/post?format=json", 401),
        ("/post?format=json&token=wrong", 403),
        ("/u/wrong/json", 403),
        (f"/post?format=minidump&token={SHOP_TOKEN}", 415),
    ],
)
async def test_backtrace_refusals(harness: Harness, url: str, status: int) -> None:
    response = await harness.client.post(url, content=multipart(REPORT), headers=MULTIPART)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert await harness.groups() == []


async def test_backtrace_missing_token_says_where_it_goes(harness: Harness) -> None:
    response = await harness.client.post("/post?format=json", json=REPORT)
    assert "/post?format=json&token=<token>" in response.json()["detail"]


async def test_backtrace_bad_report_is_4xx(harness: Harness) -> None:
    response = await harness.client.post(
        f"/post?token={SHOP_TOKEN}&format=json", json=dict(REPORT, attributes={"o": {}})
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["errors"][0]["field"] == "attributes.o"


def sentry_headers(key: str = SHOP_TOKEN, **extra: str) -> dict[str, str]:
    return {
        "X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=t/1",
        "Content-Type": "application/x-sentry-envelope",
        **extra,
    }


def event_envelope(event: dict[str, Any]) -> bytes:
    payload = json.dumps(event).encode()
    return envelope(
        ({"type": "event", "content_type": "application/json", "length": len(payload)}, payload),
        ({"type": "client_report"}, b'{"discarded_events":[]}'),
        head={"event_id": event["event_id"], "sent_at": "2026-03-01T00:00:00Z"},
    )


@pytest.mark.parametrize(
    ("project", "encoding"), [("shop", "gzip"), ("numeric", "gzip"), ("shop", "br")]
)
async def test_sentry_envelope_compressed(harness: Harness, project: str, encoding: str) -> None:
    project_id = str(harness.shop_id) if project == "numeric" else project
    envelope = event_envelope(CHAINED)
    packed = gzip.compress(envelope) if encoding == "gzip" else brotli.compress(envelope)
    response = await harness.client.post(
        f"/api/{project_id}/envelope/",
        content=packed,
        headers=sentry_headers(**{"Content-Encoding": encoding}),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": CHAINED["event_id"]}
    (group,) = await harness.groups()
    assert group.classifier == "CheckoutFailed"
    assert group.top_value("environment") == "production"
    assert group.top_value("region") == "eu"
    assert group.last_version == "shop@2.0.1"


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"X-Sentry-Auth": f"Sentry sentry_version=7,sentry_key={SHOP_TOKEN}"}, ""),
        ({"Authorization": f"Sentry sentry_key={SHOP_TOKEN}"}, ""),
        ({}, f"?sentry_key={SHOP_TOKEN}&sentry_version=7"),
    ],
)
async def test_sentry_auth_forms(harness: Harness, headers: dict[str, str], query: str) -> None:
    response = await harness.client.post(
        f"/api/shop/envelope{query}", content=event_envelope(CHAINED), headers=headers
    )
    assert response.status_code == 200, response.text


async def test_sentry_dsn_in_envelope_header(harness: Harness) -> None:
    body = envelope(
        ({"type": "event"}, json.dumps({"message": "hi"}).encode()),
        head={"dsn": f"http://{SHOP_TOKEN}@localhost/1", "event_id": "c" * 32},
    )
    response = await harness.client.post("/api/shop/envelope/", content=body)
    assert response.json() == {"id": "c" * 32}


async def test_sentry_refusals(harness: Harness) -> None:
    body = event_envelope(CHAINED)
    missing = await harness.client.post("/api/shop/envelope/", content=body)
    assert missing.status_code == 401
    assert "X-Sentry-Auth" in missing.json()["detail"]
    wrong = await harness.client.post(
        "/api/shop/envelope/", content=body, headers=sentry_headers("wrong")
    )
    assert wrong.status_code == 403
    other = await harness.client.post(
        "/api/shop/envelope/", content=body, headers=sentry_headers(OTHER_TOKEN)
    )
    assert other.status_code == 404
    broken = await harness.client.post(
        "/api/shop/envelope/", content=b"{}\n{nope}\n", headers=sentry_headers()
    )
    assert broken.json()["type"] == "urn:syncengine:problem:invalid-envelope"
    assert await harness.groups() == []


# sentry-sdk 3 sends log records as a "log" item (a batch of Sentry logs), not as events.
SDK3_LOG_ITEM = (
    {
        "type": "log",
        "item_count": 1,
        "content_type": "application/vnd.sentry.items.log+json",
    },
    json.dumps(
        {
            "items": [
                {
                    "timestamp": 1765115664.32,
                    "trace_id": "771a43a4192642f0b136d5159a501700",
                    "level": "error",
                    "severity_number": 17,
                    "body": "job alpha failed",
                    "attributes": {
                        "logger.name": {"value": "shop.jobs", "type": "string"},
                        "sentry.sdk.name": {"value": "sentry.python", "type": "string"},
                        "sentry.sdk.version": {"value": "3.0.0", "type": "string"},
                    },
                }
            ]
        }
    ).encode(),
)


@pytest.mark.parametrize(
    "item", [({"type": "session"}, b'{"sid":"s"}'), SDK3_LOG_ITEM], ids=["session", "log"]
)
async def test_sentry_envelope_without_events_is_ok(
    harness: Harness, item: tuple[dict[str, object], bytes]
) -> None:
    body = envelope(item, head={"event_id": None})
    response = await harness.client.post(
        "/api/shop/envelope/", content=body, headers=sentry_headers()
    )
    assert response.status_code == 200
    assert len(response.json()["id"]) == 32
    assert await harness.groups() == []


async def test_sentry_legacy_store_deflate(harness: Harness) -> None:
    response = await harness.client.post(
        "/api/shop/store/",
        content=zlib.compress(json.dumps(CHAINED).encode()),
        headers=sentry_headers(
            **{"Content-Encoding": "deflate", "Content-Type": "application/json"}
        ),
    )
    assert response.json() == {"id": CHAINED["event_id"]}
    assert (await harness.groups())[0].top_value("server_name") == "web-3"
