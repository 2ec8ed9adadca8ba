"""The native report format: one JSON object, a JSON array of them, or JSON Lines.

One report (every field optional; unknown top-level fields are rejected so a
typo does not silently lose data)::

    {
      "fingerprint": "checkout-timeout",      // or ["{{ default }}", "eu"]; omit to group by stack
      "classifier": "TimeoutError",           // the error type
      "message": "upstream timed out after 30s",
      "frames": [                             // innermost (faulting) frame FIRST
        {"function": "charge", "module": "shop.pay", "file": "shop/pay.py", "line": 88,
         "in_app": true}
      ],
      "callstack": ["charge", "checkout"],    // instead of frames: function names, innermost first
      "attributes": {"host": "web-1", "retries": 3, "beta": true},   // flat; null drops one
      "timestamp": "2026-01-31T12:00:00Z",   // or epoch seconds; default: when received
      "version": "2.4.1"                      // default: the project's version attribute
    }

Content types: ``application/json`` (object or array) and ``application/x-ndjson``
(also ``application/jsonl``, ``application/x-jsonlines``): one report per line,
blank lines ignored. Each bad item is reported by its index (0-based, counting
reports, not blank lines) and the others are kept.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

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
from syncengine.ingest.problems import FieldError, ReportInvalid, RequestProblem

__all__ = ["JSON_LINES_TYPES", "JSON_TYPES", "NativeFrame", "NativeReport", "parse_native"]

JSON_TYPES = frozenset({"application/json", "text/json", ""})
JSON_LINES_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
)
_FIELDS = "fingerprint, classifier, message, frames or callstack, attributes, timestamp, version"


class NativeFrame(BaseModel):
    """One frame; fields other tools add (column, address…) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    function: str = ""
    module: str = ""
    file: str = Field("", validation_alias=AliasChoices("file", "filename"))
    line: int | None = None
    in_app: bool | None = None


class NativeReport(BaseModel):
    """One report as it arrives on the wire."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fingerprint: str | list[str] | None = None
    classifier: str = ""
    message: str = ""
    frames: list[NativeFrame] | None = None
    callstack: list[str | NativeFrame] | None = None
    attributes: dict[str, Any] | None = None
    timestamp: float | str | None = None
    version: str | int | float | None = None


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors: list[FieldError] = []
    for error in exc.errors()[:20]:
        where = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            problem = f"unknown field; a native report takes {_FIELDS}"
        else:
            problem = error["msg"]
        errors.append(FieldError(field=where, problem=problem))
    return errors


@lru_cache(maxsize=4096)
def _named(function: str) -> Frame:
    # A callstack names the same functions report after report; frames are immutable.
    return Frame(function=function)


def _frames(model: NativeReport) -> list[Frame]:
    if model.frames is not None and model.callstack is not None:
        raise ReportInvalid.one("callstack", "send either frames or callstack, not both")
    frames: list[Frame] = []
    for item in model.frames or model.callstack or ():
        if isinstance(item, str):
            frames.append(_named(item))
        else:
            frames.append(
                Frame(
                    function=item.function,
                    module=item.module,
                    filename=item.file,
                    line=item.line,
                    in_app=item.in_app,
                )
            )
    return frames


def native_report(
    item: Any, ctx: ReportContext, size: int | None = None, *, index: int = 0
) -> ParsedReport:
    """One native report (a decoded JSON value) as item ``index`` of a request.

    Raises :class:`ReportInvalid` saying which fields are wrong.
    """
    if not isinstance(item, dict):
        raise ReportInvalid.one("", f"a report must be a JSON object ({_FIELDS})")
    check_report_size(item, ctx, size)
    try:
        model = NativeReport.model_validate(item)
    except ValidationError as exc:
        raise ReportInvalid(_field_errors(exc)) from exc
    cuts = Truncations()
    attributes = clean_attributes(model.attributes, ctx.limits, cuts)
    explicit = None if model.version is None else str(model.version)
    entries = [model.fingerprint] if isinstance(model.fingerprint, str) else model.fingerprint
    report = assemble(
        ctx,
        cuts,
        timestamp=parse_timestamp(model.timestamp, ctx.now),
        classifier=model.classifier,
        message=model.message,
        frames=_frames(model),
        attributes=attributes,
        version=pick_version(explicit, attributes, ctx),
        fingerprint=entries,
        raw=None,  # every native field is in the report already: a copy would only cost
    )
    return ParsedReport(index=index, report=report, truncated=cuts.count)


def _outcome(
    index: int, item: Any, ctx: ReportContext, size: int | None
) -> ParsedReport | ReportInvalid:
    try:
        return native_report(item, ctx, size, index=index)
    except ReportInvalid as exc:
        return exc
    except Exception as exc:  # one report's failure is that report's problem alone
        return unreadable(index, exc)


def _parse_lines(body: bytes, ctx: ReportContext) -> Parsed:
    parsed = Parsed()
    index = 0
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            item = decode_json(line)
        except ValueError as exc:
            parsed.add(index, ReportInvalid.one("", f"line {number}: {exc}", kind="invalid-json"))
        else:
            parsed.add(index, _outcome(index, item, ctx, len(line)))
        index += 1
    return parsed


def parse_native(body: bytes, content_type: str | None, ctx: ReportContext) -> Parsed:
    """The reports of a native request body.

    Raises :class:`RequestProblem` for a wrong content type (415) or a body that is
    not JSON, or holds no report (400); bad single reports come back in ``problems``.
    """
    kind = media_type(content_type)
    if kind in JSON_LINES_TYPES:
        parsed = _parse_lines(body, ctx)
    elif kind in JSON_TYPES:
        try:
            document = decode_json(body)
        except ValueError as exc:
            hint = ""
            if "Extra data" in str(exc):
                hint = " (one report per line? send Content-Type: application/x-ndjson)"
            raise invalid_json(f"{exc}{hint}") from exc
        parsed = Parsed()
        if isinstance(document, list):
            # Measuring each item costs a dump; only a body over the limit can hold a big one.
            whole_fits = len(body) <= ctx.limits.max_report_bytes
            for index, item in enumerate(document):
                parsed.add(index, _outcome(index, item, ctx, 0 if whole_fits else None))
        else:
            parsed.add(0, _outcome(0, document, ctx, len(body)))
    else:
        raise RequestProblem(
            f"Content-Type {kind!r} is not accepted here: send application/json (one report "
            "or an array) or application/x-ndjson (one report per line)",
            kind="unsupported-media-type",
            title="Unsupported Content-Type",
            status=415,
        )
    if not parsed.reports and not parsed.problems:
        raise RequestProblem(
            "the body holds no report: send a JSON object, an array of objects, or JSON Lines",
            kind="empty-body",
            title="No reports in the body",
        )
    return parsed
