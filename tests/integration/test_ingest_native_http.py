"""POST /api/v1/projects/{project}/reports: auth, formats, limits, answers."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

import pytest

from syncengine.ingest.limits import MARKER
from tests.integration.ingest_harness import (
    OTHER_TOKEN,
    SHOP_TOKEN,
    BrokenSink,
    Harness,
    harness,
    serve_harness,
)

__all__ = ["harness"]  # the fixture, imported for pytest

URL = "/api/v1/projects/shop/reports"
AUTH = {"Authorization": f"Bearer {SHOP_TOKEN}"}
CRASH = {
    "classifier": "TimeoutError",
    "message": "upstream timed out",
    "frames": [{"function": "charge", "file": "shop/pay.py", "line": 3}],
    "attributes": {"host": "web-1", "app.version": "2.0"},
}


def problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:syncengine:problem:{kind}"
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


async def test_one_report_is_accepted_and_grouped(harness: Harness) -> None:
    first = await harness.client.post(URL, json=CRASH, headers=AUTH)
    again = await harness.client.post(URL, json=dict(CRASH, message="other text"), headers=AUTH)
    assert first.status_code == 202
    assert first.json() == {
        "accepted": 1,
        "rejected": 0,
        "truncated": 0,
        "reports": [{"index": 0, "group_id": 1, "new_group": True, "truncated": 0}],
        "errors": [],
    }
    assert again.json()["reports"] == [
        {"index": 0, "group_id": 1, "new_group": False, "truncated": 0}
    ]
    (group,) = await harness.groups()
    assert group.count == 2
    assert group.project == "shop"
    assert group.last_version == "2.0"  # the project's version attribute
    assert group.top_value("host") == "web-1"


@pytest.mark.parametrize(
    "auth",
    [
        {"headers": {"Authorization": f"Bearer {SHOP_TOKEN}"}},
        {"headers": {"authorization": f"bearer {SHOP_TOKEN}"}},
        {"headers": {"X-Syncengine-Token": SHOP_TOKEN}},
        {"params": {"token": SHOP_TOKEN}},
    ],
)
async def test_every_token_form_is_accepted(harness: Harness, auth: dict[str, Any]) -> None:
    response = await harness.client.post(URL, json=CRASH, **auth)
    assert response.status_code == 202


async def test_tokens_missing_wrong_or_of_another_project(harness: Harness) -> None:
    missing = await harness.client.post(URL, json=CRASH)
    body = problem(missing, 401, "token-missing")
    assert "Authorization: Bearer" in body["detail"]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = await harness.client.post(URL, json=CRASH, headers={"Authorization": "Bearer nope"})
    problem(wrong, 403, "token-rejected")
    # an unknown project with a wrong token looks exactly like a known one
    unknown = await harness.client.post(
        "/api/v1/projects/nosuch/reports", json=CRASH, headers={"Authorization": "Bearer nope"}
    )
    assert unknown.json() == wrong.json()
    other = await harness.client.post(URL, json=CRASH, params={"token": OTHER_TOKEN})
    assert "another project" in problem(other, 404, "project-not-found")["detail"]
    nosuch = await harness.client.post("/api/v1/projects/nosuch/reports", json=CRASH, headers=AUTH)
    problem(nosuch, 404, "project-not-found")
    assert SHOP_TOKEN not in nosuch.text
    assert await harness.groups() == []


async def test_a_batch_keeps_the_good_and_names_the_bad(harness: Harness) -> None:
    batch = [CRASH, {"attributes": {"os": {"name": "linux"}}}, {"message": "m", "colour": 1}, CRASH]
    response = await harness.client.post(URL, json=batch, headers=AUTH)
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 2
    assert body["rejected"] == 2
    assert [r["index"] for r in body["reports"]] == [0, 3]
    assert [e["index"] for e in body["errors"]] == [1, 2]
    assert body["errors"][0]["errors"][0]["field"] == "attributes.os"
    assert body["errors"][0]["type"] == "urn:syncengine:problem:invalid-attribute"
    assert body["errors"][1]["errors"][0]["field"] == "colour"
    assert (await harness.groups())[0].count == 2


async def test_json_lines_gzip(harness: Harness) -> None:
    lines = b"\n".join(json.dumps(dict(CRASH, message=str(i))).encode() for i in range(50))
    response = await harness.client.post(
        URL,
        content=gzip.compress(lines + b"\n{oops\n"),
        headers={**AUTH, "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
    )
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (50, 1)
    assert body["errors"][0]["index"] == 50
    assert (await harness.groups())[0].count == 50


async def test_deflate_body(harness: Harness) -> None:
    response = await harness.client.post(
        URL,
        content=zlib.compress(json.dumps(CRASH).encode()),
        headers={**AUTH, "Content-Type": "application/json", "Content-Encoding": "deflate"},
    )
    assert response.status_code == 202


async def test_nothing_good_is_4xx_with_every_item(harness: Harness) -> None:
    response = await harness.client.post(URL, json=[{"x": 1}, {"attributes": []}], headers=AUTH)
    body = problem(response, 422, "invalid-report")
    assert [e["index"] for e in body["errors"]] == [0, 1]
    single = await harness.client.post(URL, json={"timestamp": "soon"}, headers=AUTH)
    body = problem(single, 422, "invalid-report")
    assert body["errors"][0]["errors"][0]["field"] == "timestamp"
    assert await harness.groups() == []


@pytest.mark.parametrize(
    ("content", "headers", "status", "kind"),
    [
        (b"{nope", {"Content-Type": "application/json"}, 400, "invalid-json"),
        (
            b"a=b",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            "unsupported-media-type",
        ),
        (b"not gzip", {"Content-Encoding": "gzip"}, 400, "bad-content-encoding"),
        (b"x", {"Content-Encoding": "zstd"}, 415, "unsupported-content-encoding"),
        (b"[]", {"Content-Type": "application/json"}, 400, "empty-body"),
    ],
)
async def test_bad_bodies(
    harness: Harness, content: bytes, headers: dict[str, str], status: int, kind: str
) -> None:
    response = await harness.client.post(URL, content=content, headers={**AUTH, **headers})
    problem(response, status, kind)


async def test_limits(database_url: str) -> None:
    async with serve_harness(
        database_url,
        max_request_bytes=4000,
        max_report_bytes=1000,
        max_attributes=4,
        max_value_length=20,
    ) as h:
        big = await h.client.post(URL, json=[{"message": "x" * 900}] * 5, headers=AUTH)
        assert "max_request_bytes" in problem(big, 413, "body-too-large")["detail"]
        bomb = gzip.compress(json.dumps({"message": "x" * 100_000}).encode())
        bombed = await h.client.post(
            URL, content=bomb, headers={**AUTH, "Content-Encoding": "gzip"}
        )
        problem(bombed, 413, "body-too-large")
        one_big = await h.client.post(URL, json={"message": "x" * 2000}, headers=AUTH)
        problem(one_big, 413, "report-too-large")
        many = await h.client.post(
            URL, json={"attributes": {str(i): i for i in range(5)}}, headers=AUTH
        )
        problem(many, 422, "too-many-attributes")
        cut = await h.client.post(
            URL, json={"attributes": {"a": "y" * 50, "b": 12, "c": False}}, headers=AUTH
        )
        assert cut.status_code == 202
        assert cut.json()["truncated"] == 1
        (group,) = await h.groups()
        assert {name: group.top_value(name) for name in group.attributes} == {
            "a": "y" * (20 - len(MARKER)) + MARKER,
            "b": "12",
            "c": "false",
        }


async def test_store_down_is_503_and_says_retry(database_url: str) -> None:
    async with serve_harness(database_url, sink=BrokenSink()) as harness:
        response = await harness.client.post(URL, json=CRASH, headers=AUTH)
    body = problem(response, 503, "store-unavailable")
    assert "retry" in body["detail"]
    assert response.headers["retry-after"] == "5"


async def test_every_route_is_measured_by_its_template(harness: Harness) -> None:
    from prometheus_client import generate_latest

    assert (await harness.client.post(URL, json=CRASH, headers=AUTH)).status_code == 202
    assert (await harness.client.post(URL, content=b"{", headers=AUTH)).status_code == 400
    other = "/api/v1/projects/other/reports"
    assert (await harness.client.post(other, json=CRASH)).status_code == 401
    assert (await harness.client.get("/no/such/page/12345")).status_code == 404
    assert (await harness.client.get("/healthz")).status_code == 200
    text = generate_latest(harness.container.metrics.registry).decode()
    route = "/api/v1/projects/{project}/reports"
    for status, count in (("202", 1.0), ("400", 1.0), ("401", 1.0)):
        labels = f'method="POST",route="{route}",status="{status}"'
        assert f"syncengine_http_requests_total{{{labels}}} {count}" in text
    assert 'route="/healthz",status="200"' in text
    assert 'route="(unmatched)",status="404"' in text
    assert "/no/such/page" not in text  # templates, not raw paths
    assert "projects/shop" not in text
    assert f'syncengine_http_request_seconds_count{{method="POST",route="{route}"}} 3.0' in text
