"""Sentry events (envelope ``event`` items and the legacy store body) as reports.

* Exceptions: ``exception.values`` (or the legacy bare list); the LAST value is
  the exception that was raised (the earlier ones are its causes). Its ``type``
  is the classifier, its ``value`` the message, and its frames — sent oldest
  first, crashing frame LAST — are reversed to our innermost-first order. An
  event without exception frames falls back to ``stacktrace`` or the crashed
  thread's stack.
* Messages: ``logentry`` (``formatted`` shown, the ``message`` template used for
  grouping) or ``message`` (a string or the old object form).
* ``release`` (also the version), ``environment``, ``level``, ``server_name``,
  ``logger``, ``platform`` and every tag become attributes; so does ``handled``
  when the exception's mechanism says.
* The ``user`` context's ``id``, ``email``, ``username`` and ``ip_address`` become
  ``user.id``, ``user.email``, ``user.username`` and ``user.ip_address`` (an
  ``ip_address`` of ``{{auto}}`` — "the server fills it in" — is not an address and
  is left out), so affected users can be counted and templated.
* ``fingerprint`` (a list of strings, ``{{ default }}`` allowed) is honoured.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Mapping
from dataclasses import replace
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
from syncengine.ingest.bodies import decode_json, invalid_json, too_large
from syncengine.ingest.envelope import parse_envelope
from syncengine.ingest.limits import (
    ReportContext,
    Truncations,
    attribute_value,
    clean_attributes,
    parse_timestamp,
)
from syncengine.ingest.problems import ReportInvalid
from syncengine.ingest.wire_text import check_nesting

__all__ = ["event_report", "parse_sentry_auth", "parse_sentry_envelope", "parse_sentry_store"]

_FIELDS_AS_ATTRIBUTES = ("release", "environment", "level", "server_name", "logger", "platform")
_USER_FIELDS = ("id", "email", "username", "ip_address")
_AUTH_PAIR = re.compile(r"([A-Za-z_]+)\s*=\s*\"?([^,\s\"]*)\"?")


def parse_sentry_auth(header: str) -> dict[str, str]:
    """The pairs of an ``X-Sentry-Auth`` header, in any order, with or without spaces."""
    text = header.strip()
    if text[:6].lower() == "sentry":
        text = text[6:]
    return {key.lower(): value for key, value in _AUTH_PAIR.findall(text)}


def _exceptions(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    exception = event.get("exception")
    if isinstance(exception, Mapping):
        exception = exception.get("values")
    if not isinstance(exception, list):
        return []
    return [e for e in exception if isinstance(e, Mapping)]


def _frames_of(stacktrace: Any) -> list[Frame]:
    if not isinstance(stacktrace, Mapping) or not isinstance(stacktrace.get("frames"), list):
        return []
    frames: list[Frame] = []
    for item in reversed(stacktrace["frames"]):  # Sentry sends the crashing frame last
        if not isinstance(item, Mapping):
            continue
        line = item.get("lineno")
        in_app = item.get("in_app")
        frames.append(
            Frame(
                function=str(item.get("function") or ""),
                module=str(item.get("module") or ""),
                filename=str(item.get("filename") or item.get("abs_path") or ""),
                line=line if isinstance(line, int) and not isinstance(line, bool) else None,
                in_app=in_app if isinstance(in_app, bool) else None,
            )
        )
    return frames


def _thread_frames(event: Mapping[str, Any]) -> list[Frame]:
    threads = event.get("threads")
    if isinstance(threads, Mapping):
        threads = threads.get("values")
    if not isinstance(threads, list):
        return []
    chosen = [
        t for t in threads if isinstance(t, Mapping) and (t.get("crashed") or t.get("current"))
    ]
    return _frames_of(chosen[0].get("stacktrace")) if chosen else []


def _message(event: Mapping[str, Any]) -> tuple[str, str]:
    """The message shown and the message grouped by (the template, when there is one)."""
    for key in ("logentry", "message"):
        value = event.get(key)
        if isinstance(value, str) and value:
            return value, value
        if isinstance(value, Mapping):
            template = str(value.get("message") or "")
            shown = str(value.get("formatted") or template)
            if shown:
                return shown, template or shown
    return "", ""


def _attributes(
    event: Mapping[str, Any],
    raised: Mapping[str, Any] | None,
    ctx: ReportContext,
    cuts: Truncations,
) -> dict[str, str]:
    tags = event.get("tags")
    if isinstance(tags, list):  # the old protocol sends [[key, value], ...]
        tags = {str(p[0]): p[1] for p in tags if isinstance(p, list | tuple) and len(p) == 2}
    if tags is not None and not isinstance(tags, Mapping):
        raise ReportInvalid.one("tags", "must be an object of tag → value")
    fields = {key: event[key] for key in _FIELDS_AS_ATTRIBUTES if event.get(key) is not None}
    user = event.get("user")
    if user is not None and not isinstance(user, Mapping):
        raise ReportInvalid.one("user", "must be an object (id, email, username, ip_address)")
    for key in _USER_FIELDS:
        value = user.get(key) if user is not None else None
        if value is not None and value != "{{auto}}":
            fields[f"user.{key}"] = value
    mechanism = raised.get("mechanism") if raised is not None else None
    if isinstance(mechanism, Mapping) and isinstance(mechanism.get("handled"), bool):
        fields["handled"] = mechanism["handled"]
    found = clean_attributes(tags, ctx.limits, cuts, where="tags")
    found.update(clean_attributes(fields, ctx.limits, cuts, where=""))
    if len(found) > ctx.limits.max_attributes:
        raise ReportInvalid.one(
            "tags",
            f"with release, environment and the like the event has {len(found)} attributes; "
            f"at most {ctx.limits.max_attributes} are accepted: send fewer tags",
            kind="too-many-attributes",
        )
    return found


def _fingerprint(event: Mapping[str, Any]) -> list[str] | None:
    value = event.get("fingerprint")
    if value is None:
        return None
    if not isinstance(value, list):
        raise ReportInvalid.one("fingerprint", "must be an array of strings")
    entries: list[str] = []
    for entry in value:
        try:
            text = attribute_value(entry)
        except TypeError as exc:
            raise ReportInvalid.one("fingerprint", "must be an array of strings") from exc
        if text:
            entries.append(text)
    return entries


def event_report(event: Any, ctx: ReportContext, size: int | None = None) -> ParsedReport:
    """One Sentry event as a :class:`ParsedReport`; raises :class:`ReportInvalid`."""
    if not isinstance(event, dict):
        raise ReportInvalid.one("", "an event must be a JSON object")
    check_nesting(event)
    check_report_size(event, ctx, size)
    exceptions = _exceptions(event)
    raised = exceptions[-1] if exceptions else None
    frames = _frames_of(raised.get("stacktrace")) if raised is not None else []
    frames = frames or _frames_of(event.get("stacktrace")) or _thread_frames(event)
    shown, template = _message(event)
    classifier = str(raised.get("type") or "") if raised is not None else ""
    if raised is not None and raised.get("value") is not None:
        shown = template = str(raised["value"])
    cuts = Truncations()
    attributes = _attributes(event, raised, ctx, cuts)
    release = attributes.get("release")
    report = assemble(
        ctx,
        cuts,
        timestamp=parse_timestamp(event.get("timestamp"), ctx.now),
        classifier=classifier,
        message=template,
        frames=frames,
        attributes=attributes,
        version=pick_version(release, attributes, ctx),
        fingerprint=_fingerprint(event),
        raw=event,
    )
    if shown != template:
        report = replace(report, message=shown)  # grouped by the template, shown formatted
    event_id = event.get("event_id")
    return ParsedReport(
        index=0,
        report=report,
        truncated=cuts.count,
        event_id=event_id if isinstance(event_id, str) else None,
    )


def _add_event(parsed: Parsed, index: int, payload: bytes, ctx: ReportContext) -> None:
    try:
        document = decode_json(payload)
    except ValueError as exc:
        parsed.add(index, ReportInvalid.one("", str(exc), kind="invalid-json"))
        return
    try:
        parsed.add(index, event_report(document, ctx, len(payload)))
    except ReportInvalid as exc:
        parsed.add(index, exc)
    except Exception as exc:  # one report's failure is that report's problem alone
        parsed.add(index, unreadable(index, exc))


def parse_sentry_envelope(body: bytes, ctx: ReportContext) -> tuple[Parsed, dict[str, Any]]:
    """The events of an envelope (other item types skipped) and the envelope headers.

    Item indexes count every item of the envelope. Raises
    :class:`~syncengine.ingest.problems.RequestProblem` for a malformed envelope.
    """
    envelope = parse_envelope(body)
    parsed = Parsed()
    for index, item in enumerate(envelope.items):
        if item.type == "event":
            _add_event(parsed, index, item.payload, ctx)
    return parsed, envelope.headers


def _legacy_payload(body: bytes, limit: int) -> bytes:
    """Old raven clients send base64(zlib(json)); anything else is taken as it is."""
    stripped = body.lstrip()
    if not stripped or stripped[:1] in b"{[":
        return body
    try:
        packed = base64.b64decode(stripped, validate=True)
        inflater = zlib.decompressobj()
        data = inflater.decompress(packed, limit + 1)
    except (binascii.Error, zlib.error, ValueError):
        return body
    if len(data) > limit:
        raise too_large(limit)
    return data


def parse_sentry_store(body: bytes, ctx: ReportContext) -> Parsed:
    """The one event of a legacy ``/store/`` body; raises RequestProblem for invalid JSON."""
    body = _legacy_payload(body, ctx.limits.max_request_bytes)
    try:
        document = decode_json(body)
    except ValueError as exc:
        raise invalid_json(str(exc)) from exc
    parsed = Parsed()
    try:
        parsed.add(0, event_report(document, ctx, len(body)))
    except ReportInvalid as exc:
        parsed.add(0, exc)
    except Exception as exc:  # one report's failure is that report's problem alone
        parsed.add(0, unreadable(0, exc))
    return parsed
