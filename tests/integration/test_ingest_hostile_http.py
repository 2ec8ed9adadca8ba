"""Hostile reports over HTTP, on SQLite and PostgreSQL: each is its own problem, never another's.

Text no database keeps (a lone UTF-16 surrogate, NUL) is stored with U+FFFD in its
place, the same way on both backends; numbers JSON cannot spell are kept as
strings; reports nested past the limit get 422 and the reports sent with them
are stored.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from syncengine.domain.groups import GroupSnapshot
from syncengine.ingest.wire_text import REPLACEMENT
from tests.asgi_calls import hang_up_mid_body
from tests.integration.ingest_harness import SHOP_TOKEN, Harness, harness
from tests.unit.test_backtrace_format import BOUNDARY, REPORT, multipart
from tests.unit.test_sentry_format import CHAINED, envelope

__all__ = ["harness"]  # the fixture, imported for pytest

AUTH = {"Authorization": f"Bearer {SHOP_TOKEN}", "Content-Type": "application/json"}
URL = "/api/v1/projects/shop/reports"
F = REPLACEMENT
LONE = "\\ud83d"  # as JSON spells it: half of an emoji
NUL = "\\u0000"

# Each text field of a native report, holding `X` where the hostile escape goes.
NATIVE_FIELDS = {
    "attribute value": '{"classifier": "A", "attributes": {"hostname": "web-X"}}',
    "attribute name": '{"classifier": "A", "attributes": {"host-X": "web"}}',
    "message": '{"classifier": "A", "message": "boom X"}',
    "classifier": '{"classifier": "AX"}',
    "frames": '{"classifier": "A", "frames": [{"function": "fX", "file": "X.py"}]}',
    "callstack": '{"classifier": "A", "callstack": ["fX"]}',
    "fingerprint": '{"classifier": "A", "fingerprint": ["fp", "X"]}',
    "version": '{"classifier": "A", "version": "1.X"}',
}


def stored_text(group: GroupSnapshot) -> str:
    """Every text of a group that came from its reports, as one string."""
    parts = [group.classifier, group.message, group.last_version or ""]
    parts += [f.function + f.filename for f in group.frames]
    for name, values in group.attributes.items():
        parts += [name, *(v.value for v in values)]
    return " ".join(parts)


@pytest.mark.parametrize("escape", [LONE, NUL])
async def test_unstorable_text_in_any_native_field_is_replaced_and_fails_nothing(
    harness: Harness, escape: str
) -> None:
    good = '{"classifier": "Good", "attributes": {"hostname": "web-1"}}'
    hostile = [
        text.replace('"A', f'"A{n}').replace("X", escape)
        for n, text in enumerate(NATIVE_FIELDS.values())
    ]
    body = "[" + ", ".join([good, *hostile, good]) + "]"
    response = await harness.client.post(URL, content=body, headers=AUTH)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (len(hostile) + 2, 0)
    groups = {g.classifier: g for g in await harness.groups()}
    assert groups["Good"].count == 2
    for n, field in enumerate(NATIVE_FIELDS):
        (group,) = [g for name, g in groups.items() if name.startswith(f"A{n}")]
        if field != "fingerprint":  # the fingerprint is kept as its digest
            assert F in stored_text(group), field
        assert "\x00" not in stored_text(group), field


async def test_the_same_text_as_json_lines(harness: Harness) -> None:
    lines = [NATIVE_FIELDS[name].replace("X", LONE + NUL) for name in NATIVE_FIELDS]
    response = await harness.client.post(
        URL,
        content="\n".join([*lines, '{"classifier": "Good"}']),
        headers={**AUTH, "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == 202, response.text
    assert response.json()["accepted"] == len(NATIVE_FIELDS) + 1


def backtrace_with(escape: str) -> str:
    report: dict[str, Any] = json.loads(json.dumps(REPORT))
    report["attributes"]["hostname"] = "X"
    report["classifiers"] = ["ZeroDivisionErrorX"]
    report["annotations"] = {"Exception": {"message": "X"}, "ratio": 0.5}
    return json.dumps(report).replace("X", escape).replace("0.5", "NaN")


@pytest.mark.parametrize("escape", [LONE, NUL])
async def test_backtrace_with_unstorable_text_and_nan_is_stored(
    harness: Harness, escape: str
) -> None:
    url = f"/post?format=json&token={SHOP_TOKEN}"
    plain = await harness.client.post(
        url, content=backtrace_with(escape), headers={"Content-Type": "application/json"}
    )
    assert plain.status_code == 200, plain.text
    upload = multipart(json.loads(backtrace_with(escape)))
    form = await harness.client.post(
        url,
        content=upload,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )
    assert form.status_code == 200, form.text
    (group,) = await harness.groups()
    assert group.count == 2
    assert group.classifier == f"ZeroDivisionError{F}"
    assert group.top_value("hostname") == F


@pytest.mark.parametrize("escape", [LONE, NUL])
async def test_sentry_store_and_envelope_with_unstorable_text_and_nan_are_stored(
    harness: Harness, escape: str
) -> None:
    event = json.loads(json.dumps(CHAINED))
    event["tags"] = {"hostname": "X"}
    event["extra"] = {"ratio": 0.5, "big": 1e300}
    event["exception"]["values"][-1]["value"] = "X"
    text = json.dumps(event).replace("X", escape).replace("0.5", "NaN").replace("1e+300", "1e999")
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={SHOP_TOKEN}"}
    store = await harness.client.post("/api/shop/store/", content=text, headers=headers)
    assert store.status_code == 200, store.text
    body = envelope(({"type": "event"}, text.encode()), ({"type": "event"}, b'{"message": "ok"}'))
    sent = await harness.client.post("/api/shop/envelope/", content=body, headers=headers)
    assert sent.status_code == 200, sent.text
    groups = await harness.groups()
    assert sorted(g.count for g in groups) == [1, 2]
    hostile = next(g for g in groups if g.count == 2)
    assert F in hostile.message
    assert hostile.top_value("hostname") == F


def nested(depth: int) -> str:
    return '{"x":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("depth", [100, 900, 5000])
async def test_deeply_nested_backtrace_reports_get_4xx_and_the_server_goes_on(
    harness: Harness, depth: int
) -> None:
    report = json.dumps(dict(REPORT, annotations={"deep": 1}))
    hostile = report.replace('{"deep": 1}', nested(depth))
    response = await harness.client.post(
        f"/post?format=json&token={SHOP_TOKEN}",
        content=hostile,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in {400, 422}, response.text
    assert "nest" in response.text
    good = await harness.client.post(
        f"/post?format=json&token={SHOP_TOKEN}",
        content=report,
        headers={"Content-Type": "application/json"},
    )
    assert good.status_code == 200
    assert [g.count for g in await harness.groups()] == [1]


async def test_a_deep_sentry_event_in_an_envelope_fails_only_itself(harness: Harness) -> None:
    body = envelope(
        ({"type": "event"}, ('{"message": "deep", "extra": ' + nested(500) + "}").encode()),
        ({"type": "event"}, b'{"message": "ok"}'),
    )
    response = await harness.client.post(
        "/api/shop/envelope/",
        content=body,
        headers={"X-Sentry-Auth": f"Sentry sentry_key={SHOP_TOKEN}"},
    )
    assert response.status_code == 200, response.text
    (group,) = await harness.groups()
    assert group.message == "ok"


HUNG_UP = {
    "native": ("/api/v1/projects/shop/reports", "", {"authorization": f"Bearer {SHOP_TOKEN}"}),
    "sentry store": ("/api/shop/store/", "", {"x-sentry-auth": f"Sentry sentry_key={SHOP_TOKEN}"}),
    "sentry envelope": (
        "/api/shop/envelope/",
        "",
        {"x-sentry-auth": f"Sentry sentry_key={SHOP_TOKEN}"},
    ),
    "backtrace": ("/post", f"format=json&token={SHOP_TOKEN}", {}),
}


def _whole(route: str) -> bytes:
    event = {"message": "hung up " * 200, "tags": {"hostname": "web-1"}}
    if route == "sentry envelope":
        return envelope(({"type": "event"}, json.dumps(event).encode()))
    if route == "backtrace":
        return backtrace_with("x").encode()
    if route == "native":
        return json.dumps({"classifier": "A", "message": "hung up " * 200}).encode()
    return json.dumps(event).encode()


@pytest.mark.parametrize("route", list(HUNG_UP))
async def test_a_client_that_hangs_up_mid_body_is_no_error_and_stores_nothing(
    harness: Harness, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The SDK (or a proxy) cut the connection after half the body: ASGI says http.disconnect.
    path, query, extra = HUNG_UP[route]
    whole = _whole(route)
    headers = [(name.encode(), value.encode()) for name, value in extra.items()]
    caplog.set_level(logging.INFO, logger="syncengine")
    # No exception reaches the server.
    await hang_up_mid_body(harness.app, path, whole, headers, query=query.encode())
    assert "hung up" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert await harness.groups() == []  # half a report is no report
    url = f"{path}?{query}" if query else path
    answer = await harness.client.post(
        url, content=whole, headers={**extra, "content-type": "application/json"}
    )
    assert answer.status_code < 300, answer.text  # the whole request, sent again, is stored
    assert [g.count for g in await harness.groups()] == [1]
