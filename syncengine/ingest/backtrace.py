"""The Backtrace JSON submission format, as ``backtracepython`` sends it.

The body is ``multipart/form-data`` with the report JSON in the part
``upload_file`` (attachment parts are ignored), or the report JSON itself. Read:

* frames from ``threads[mainThread].stack``, innermost frame FIRST (``funcName``,
  ``library`` the file, ``line``); without a usable ``mainThread`` the thread
  marked ``fault`` is used;
* the classifier from ``classifiers`` (joined with ", " when there are several);
* the message from the ``error.message`` attribute, else the ``Exception``
  annotation's message;
* ``attributes`` (flat; numbers and booleans kept as strings);
* the version from the project's version attribute, else ``application.version``;
* ``timestamp`` in epoch seconds;
* ``uuid`` as the receive id answered in ``_rxid``.

The top-level ``sourceCode`` map (up to hundreds of lines per frame) is not kept
and does not count against the per-report size limit.
"""

from __future__ import annotations

from typing import Any

from syncengine.domain.reports import Frame
from syncengine.ingest.assemble import (
    Parsed,
    ParsedReport,
    assemble,
    check_report_size,
    pick_version,
    unreadable,
)
from syncengine.ingest.bodies import decode_json, invalid_json, media_type
from syncengine.ingest.limits import ReportContext, Truncations, clean_attributes, parse_timestamp
from syncengine.ingest.multipart import form_parts
from syncengine.ingest.problems import ReportInvalid, RequestProblem
from syncengine.ingest.wire_text import check_nesting

__all__ = ["backtrace_report", "parse_backtrace"]

_UPLOAD_PART = "upload_file"


def _stack(report: dict[str, Any]) -> list[Any]:
    threads = report.get("threads")
    if not isinstance(threads, dict) or not threads:
        return []
    thread = threads.get(str(report.get("mainThread", "")))
    if not isinstance(thread, dict):
        faulted = [t for t in threads.values() if isinstance(t, dict) and t.get("fault")]
        thread = faulted[0] if faulted else None
    stack = thread.get("stack") if isinstance(thread, dict) else None
    return stack if isinstance(stack, list) else []


def _frames(report: dict[str, Any]) -> list[Frame]:
    frames: list[Frame] = []
    for item in _stack(report):
        if not isinstance(item, dict):
            continue
        line = item.get("line")
        frames.append(
            Frame(
                function=str(item.get("funcName") or ""),
                filename=str(item.get("library") or item.get("path") or ""),
                line=line if isinstance(line, int) and not isinstance(line, bool) else None,
            )
        )
    return frames


def _message(report: dict[str, Any], attributes: dict[str, str]) -> str:
    if attributes.get("error.message"):
        return attributes["error.message"]
    annotations = report.get("annotations")
    exception = annotations.get("Exception") if isinstance(annotations, dict) else None
    if isinstance(exception, dict) and isinstance(exception.get("message"), str):
        return str(exception["message"])
    return ""


def backtrace_report(report: Any, ctx: ReportContext, size: int | None = None) -> ParsedReport:
    """One decoded Backtrace report as a :class:`ParsedReport`; raises :class:`ReportInvalid`.

    ``size`` is the report's JSON on the wire, when known: without ``sourceCode`` (which is
    not kept, so not counted) that is what the size limit measures, as the other formats'.
    """
    if not isinstance(report, dict):
        raise ReportInvalid.one("", "a Backtrace report must be a JSON object")
    kept = {key: value for key, value in report.items() if key != "sourceCode"}
    check_nesting(kept)
    # Re-encoding the report to measure it was a tenth of a single event's parse.
    check_report_size(kept, ctx, size if len(kept) == len(report) else None)
    classifiers = report.get("classifiers") or []
    if not isinstance(classifiers, list) or not all(isinstance(c, str) for c in classifiers):
        raise ReportInvalid.one("classifiers", "must be an array of strings")
    cuts = Truncations()
    attributes = clean_attributes(report.get("attributes"), ctx.limits, cuts)
    uuid = report.get("uuid")
    parsed = assemble(
        ctx,
        cuts,
        timestamp=parse_timestamp(report.get("timestamp"), ctx.now),
        classifier=", ".join(c.strip() for c in classifiers if c.strip()),
        message=_message(report, attributes),
        frames=_frames(report),
        attributes=attributes,
        version=pick_version(None, attributes, ctx),
        raw=kept,
    )
    return ParsedReport(
        index=0,
        report=parsed,
        truncated=cuts.count,
        event_id=uuid if isinstance(uuid, str) and uuid else None,
    )


def parse_backtrace(body: bytes, content_type: str | None, ctx: ReportContext) -> Parsed:
    """The report of a Backtrace submission body.

    Raises :class:`RequestProblem` when the multipart body has no ``upload_file``
    part or the JSON is invalid; a malformed report comes back in ``problems``.
    """
    kind = media_type(content_type)
    if kind == "multipart/form-data":
        parts = form_parts(body, content_type or "")
        if _UPLOAD_PART not in parts:
            raise RequestProblem(
                "the multipart body has no 'upload_file' part: put the report JSON in a part "
                "named upload_file",
                kind="missing-upload-file",
                title="No report in the upload",
            )
        body = parts[_UPLOAD_PART]
    try:
        document = decode_json(body)
    except ValueError as exc:
        raise invalid_json(str(exc)) from exc
    parsed = Parsed()
    try:
        parsed.add(0, backtrace_report(document, ctx, len(body)))
    except ReportInvalid as exc:
        parsed.add(0, exc)
    except Exception as exc:  # one report's failure is that report's problem alone
        parsed.add(0, unreadable(0, exc))
    return parsed
