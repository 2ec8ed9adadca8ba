"""Whatever arrives, the parsers answer with reports or a 4xx problem — never a crash."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from syncengine.errors import IngestError
from syncengine.ingest.backtrace import parse_backtrace
from syncengine.ingest.limits import IngestLimits, ReportContext
from syncengine.ingest.native import parse_native
from syncengine.ingest.sentry import parse_sentry_envelope, parse_sentry_store

CTX = ReportContext(
    project="p",
    now=datetime(2026, 1, 1, tzinfo=UTC),
    limits=IngestLimits(max_report_bytes=4000, max_attributes=8, max_value_length=20),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    [
        "fingerprint",
        "classifier",
        "message",
        "frames",
        "callstack",
        "attributes",
        "timestamp",
        "version",
        "exception",
        "values",
        "stacktrace",
        "tags",
        "logentry",
        "threads",
        "mainThread",
        "classifiers",
        "stack",
        "funcName",
        "release",
        "level",
        "type",
        "value",
    ]
)
shaped = st.recursive(
    json_values,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=6),
    max_leaves=30,
)


def check(parse: Any, body: bytes) -> None:
    try:
        parsed = parse(body)
    except IngestError as exc:
        status = exc.status_code
        parsed = None
    else:
        status = 200
    assert 200 <= status < 500
    if parsed is None:
        return
    if isinstance(parsed, tuple):
        parsed = parsed[0]
    for item in parsed.reports:
        report = item.report
        assert report.fingerprint is not None
        assert len(report.fingerprint) == 64
        assert all(isinstance(v, str) and len(v) <= 20 for v in report.attributes.values())
    for problem in parsed.problems:
        assert 400 <= problem.status < 500
        assert problem.errors


PARSERS = [
    lambda b: parse_native(b, "application/json", CTX),
    lambda b: parse_native(b, "application/x-ndjson", CTX),
    lambda b: parse_backtrace(b, "application/json", CTX),
    lambda b: parse_sentry_store(b, CTX),
    lambda b: parse_sentry_envelope(b, CTX),
]


@settings(max_examples=150)
@given(st.binary(max_size=200), st.integers(0, len(PARSERS) - 1))
def test_random_bytes(body: bytes, which: int) -> None:
    check(PARSERS[which], body)


@settings(max_examples=300)
@given(shaped, st.integers(0, len(PARSERS) - 1))
def test_random_json_shapes(value: Any, which: int) -> None:
    body = json.dumps(value).encode()
    if which == 4:
        body = b'{}\n{"type":"event"}\n' + body
    check(PARSERS[which], body)
