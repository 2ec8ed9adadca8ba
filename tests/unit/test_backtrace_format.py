"""The Backtrace JSON submission, as backtracepython sends it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from syncengine.domain.fingerprint import default_components
from syncengine.ingest.backtrace import parse_backtrace
from syncengine.ingest.limits import IngestLimits, ReportContext
from syncengine.ingest.problems import RequestProblem

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CTX = ReportContext(project="shop", now=NOW, version_attribute="app.version")

REPORT = {
    "uuid": "0b1c2d3e-0000-4000-8000-000000000001",
    "timestamp": 1772000000,
    "lang": "python",
    "agent": "backtrace-python",
    "mainThread": "140",
    "classifiers": ["ZeroDivisionError"],
    "attributes": {
        "error.type": "Exception",
        "error.message": "division by zero",
        "application": "MainProcess",
        "process.id": 4242,
        "application.version": "1.0.0",
        "app.version": "7.1",
    },
    "annotations": {"Exception": {"type": "ZeroDivisionError", "message": "division by zero"}},
    "threads": {
        "140": {
            "name": "MainThread",
            "fault": True,
            "stack": [
                {"funcName": "divide", "line": 3, "library": "/srv/app/calc.py"},
                {"funcName": "<module>", "line": 10, "library": "/srv/app/main.py"},
            ],
        },
        "141": {"name": "Thread-1 (_worker)", "fault": False, "stack": []},
    },
    "sourceCode": {"/srv/app/calc.py": {"text": "x" * 5000}},
}

BOUNDARY = "0123456789abcdef0123456789abcdef"


def multipart(report: object, name: str = "upload_file") -> bytes:
    return (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{name}"; filename="{name}"\r\n\r\n'
        f"{json.dumps(report)}\r\n"
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="attachment_log.txt"; filename="/tmp/log.txt"\r\n'
        "Content-Type: application/octet-stream\r\n\r\nbinary\x00stuff\r\n"
        f"--{BOUNDARY}--\r\n"
    ).encode()


def test_multipart_upload_file() -> None:
    parsed = parse_backtrace(multipart(REPORT), f"multipart/form-data; boundary={BOUNDARY}", CTX)
    item = parsed.reports[0]
    report = item.report
    assert item.event_id == REPORT["uuid"]
    assert report.classifier == "ZeroDivisionError"
    assert report.message == "division by zero"
    assert [f.function for f in report.frames] == ["divide", "<module>"]  # innermost first
    assert report.attributes["process.id"] == "4242"
    assert report.version == "7.1"  # the project's configured version attribute
    assert report.timestamp == datetime.fromtimestamp(1772000000, UTC)
    assert report.raw is not None
    assert "sourceCode" not in report.raw
    assert default_components(report)[:2] == ["type:ZeroDivisionError", "frame:calc.py:divide"]


def test_raw_json_and_application_version_fallback() -> None:
    ctx = ReportContext(project="shop", now=NOW)
    parsed = parse_backtrace(json.dumps(REPORT).encode(), "application/json", ctx)
    assert parsed.reports[0].report.version == "1.0.0"


def test_message_report_and_fault_thread_fallback() -> None:
    message = {
        "mainThread": "missing",
        "attributes": {"error.type": "Message", "error.message": "cache cold"},
        "threads": {"1": {"fault": True, "stack": [{"funcName": "warm", "library": "c.py"}]}},
    }
    report = parse_backtrace(json.dumps(message).encode(), None, CTX).reports[0].report
    assert report.classifier == ""
    assert report.message == "cache cold"
    assert report.frames[0].function == "warm"


def test_bad_reports() -> None:
    bad = dict(REPORT, attributes={"nested": {"a": 1}})
    parsed = parse_backtrace(json.dumps(bad).encode(), "application/json", CTX)
    assert parsed.reports == []
    assert parsed.problems[0].errors[0].field == "attributes.nested"
    small = ReportContext(project="s", now=NOW, limits=IngestLimits(max_report_bytes=3000))
    # sourceCode does not count against the per-report limit
    assert parse_backtrace(json.dumps(REPORT).encode(), None, small).reports


def test_multipart_without_the_report_part() -> None:
    with pytest.raises(RequestProblem, match="no 'upload_file' part"):
        parse_backtrace(
            multipart(REPORT, name="file"), f"multipart/form-data; boundary={BOUNDARY}", CTX
        )
    with pytest.raises(RequestProblem, match="no boundary"):
        parse_backtrace(b"", "multipart/form-data", CTX)
