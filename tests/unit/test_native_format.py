"""The native report format and the shared limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from syncengine.domain.fingerprint import custom_fingerprint, default_fingerprint
from syncengine.ingest.limits import MARKER, IngestLimits, ReportContext
from syncengine.ingest.native import parse_native
from syncengine.ingest.problems import RequestProblem

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CTX = ReportContext(project="shop", now=NOW)

REPORT = {
    "classifier": "TimeoutError",
    "message": "upstream timed out after 30s",
    "frames": [
        {"function": "charge", "module": "shop.pay", "file": "shop/pay.py", "line": 88},
        {"function": "checkout", "filename": "shop/views.py", "column": 3},
    ],
    "attributes": {"host": "web-1", "retries": 3, "ratio": 0.5, "beta": True, "gone": None},
    "timestamp": "2026-02-28T10:00:00Z",
    "version": "2.4.1",
}


def parse(body: object, content_type: str = "application/json", ctx: ReportContext = CTX):  # type: ignore[no-untyped-def]
    return parse_native(json.dumps(body).encode(), content_type, ctx)


def test_one_report() -> None:
    parsed = parse(REPORT)
    assert parsed.problems == []
    report = parsed.reports[0].report
    assert report.project == "shop"
    assert report.classifier == "TimeoutError"
    assert [f.function for f in report.frames] == ["charge", "checkout"]
    assert report.frames[1].filename == "shop/views.py"
    assert report.attributes == {
        "host": "web-1",
        "retries": "3",
        "ratio": "0.5",
        "beta": "true",
        "version": "2.4.1",  # the canonical version attribute
    }
    assert report.timestamp == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert report.version == "2.4.1"
    assert report.fingerprint == default_fingerprint(report)
    assert report.raw is None  # nothing in a native report is left out of the fields


def test_callstack_and_client_fingerprints() -> None:
    parsed = parse(
        [
            {"callstack": ["f", "g"], "fingerprint": "checkout-timeout"},
            {"callstack": ["f", "g"], "fingerprint": ["{{ default }}", "eu"]},
            {"message": "m", "timestamp": 1767225600, "attributes": {"version": "9"}},
        ]
    )
    first, second, third = (p.report for p in parsed.reports)
    assert first.frames[0].function == "f"
    assert first.fingerprint == custom_fingerprint(["checkout-timeout"], first)
    assert second.fingerprint == custom_fingerprint(["{{ default }}", "eu"], second)
    assert third.timestamp == datetime(2026, 1, 1, tzinfo=UTC)
    assert third.version == "9"  # the project's version attribute
    assert third.timestamp <= NOW


def test_a_future_timestamp_is_the_receive_time() -> None:
    assert parse({"timestamp": "2099-01-01T00:00:00Z"}).reports[0].report.timestamp == NOW


def test_bad_items_are_reported_by_index_and_good_ones_kept() -> None:
    parsed = parse(
        [
            REPORT,
            {"atributes": {}},
            {"attributes": {"os": {"name": "linux"}, "tags": ["a"]}},
            "just a string",
            {"timestamp": "yesterday"},
            {"frames": [], "callstack": []},
        ]
    )
    assert [p.index for p in parsed.reports] == [0]
    problems = {p.index: p for p in parsed.problems}
    assert sorted(problems) == [1, 2, 3, 4, 5]
    assert "unknown field" in problems[1].errors[0].problem
    assert problems[1].errors[0].field == "atributes"
    assert [e.field for e in problems[2].errors] == ["attributes.os", "attributes.tags"]
    assert "flatten it" in problems[2].errors[0].problem
    assert problems[4].errors[0].field == "timestamp"
    assert "either frames or callstack" in problems[5].errors[0].problem


def test_json_lines_with_a_broken_line() -> None:
    body = b'{"message":"a"}\n\n{"message":\n{"message":"c"}\r\n'
    parsed = parse_native(body, "application/x-ndjson", CTX)
    assert [p.index for p in parsed.reports] == [0, 2]
    assert parsed.problems[0].index == 1
    assert parsed.problems[0].errors[0].problem.startswith("line 3: invalid JSON")


def test_limits_cut_count_and_reject() -> None:
    limits = IngestLimits(max_attributes=3, max_key_length=20, max_value_length=16)
    ctx = ReportContext(project="shop", now=NOW, limits=limits)
    long = {"attributes": {"k" * 30: "v", "a": "x" * 40, "b": "short"}}
    parsed = parse([long, {"attributes": {str(i): i for i in range(4)}}], ctx=ctx)
    good = parsed.reports[0]
    assert good.truncated == 2
    assert parsed.truncated == 2
    key = "k" * (20 - len(MARKER)) + MARKER
    assert good.report.attributes[key] == "v"
    assert good.report.attributes["a"] == "x" * (16 - len(MARKER)) + MARKER
    assert len(good.report.attributes["a"]) == 16
    assert parsed.problems[0].kind == "too-many-attributes"
    assert "at most 3" in parsed.problems[0].errors[0].problem


@pytest.mark.parametrize(
    ("attributes", "kept", "cuts", "error"),
    [
        ({"k" * 20: "v" * 16}, {"k" * 20: "v" * 16}, 0, None),  # at both limits: kept whole
        ({"a": "v" * 17}, {"a": "v" * (16 - len(MARKER)) + MARKER}, 1, None),
        ({"a": "x", "n": 3, "t": True}, {"a": "x", "n": "3", "t": "true"}, 0, None),
        ({"a": "x", "  ": "y"}, None, 0, "an attribute name is empty"),
        ({"a": "x", "o": {"p": 1}}, None, 0, "is an object"),
    ],
)
def test_text_attributes_within_the_limits_are_kept_as_sent(
    attributes: dict[str, object], kept: dict[str, str] | None, cuts: int, error: str | None
) -> None:
    limits = IngestLimits(max_attributes=3, max_key_length=20, max_value_length=16)
    parsed = parse(
        [{"attributes": attributes}], ctx=ReportContext(project="s", now=NOW, limits=limits)
    )
    if error is None:
        assert parsed.reports[0].report.attributes == kept
        assert parsed.reports[0].truncated == cuts
    else:
        assert error in parsed.problems[0].errors[0].problem


def test_one_report_over_the_size_limit() -> None:
    ctx = ReportContext(project="shop", now=NOW, limits=IngestLimits(max_report_bytes=200))
    parsed = parse([{"message": "x" * 300}, {"message": "ok"}], ctx=ctx)
    assert [p.index for p in parsed.reports] == [1]
    assert parsed.problems[0].status == 413
    assert "ingest.max_report_bytes" in parsed.problems[0].errors[0].problem


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"{not json", "application/json", 400, "invalid JSON at line 1, column 2"),
        (b"\xff\xfe\xfa", "application/json", 400, "not UTF-8"),
        (b"[" * 100_000, "application/json", 400, "nested too deeply"),
        (b"{}", "text/plain", 415, "application/x-ndjson"),
        (b'{"message":"a"}\n{"message":"b"}', "application/json", 400, "x-ndjson"),
        (b"[]", "application/json", 400, "holds no report"),
        (b"\n\n", "application/x-ndjson", 400, "holds no report"),
    ],
)
def test_whole_body_problems(body: bytes, content_type: str, status: int, says: str) -> None:
    with pytest.raises(RequestProblem, match=says) as caught:
        parse_native(body, content_type, CTX)
    assert caught.value.status_code == status
