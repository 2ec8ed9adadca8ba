"""The Sentry envelope grammar, in full.

::

    Envelope = Headers { "\\n" Item } [ "\\n" ] ;
    Item     = Headers "\\n" Payload ;

Each header is one line of JSON (an object). An item header must have ``type``
and may have ``length``: with it, the payload is exactly that many bytes and must
be followed by ``\\n`` or the end; without it, the payload runs to the next
``\\n`` or the end. A ``\\r`` before that ``\\n`` belongs to the payload. Payloads
may be empty. The final newline is optional. Blank lines between items are
tolerated. Unknown item types are the caller's to skip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncengine.ingest.bodies import decode_json
from syncengine.ingest.problems import RequestProblem

__all__ = ["Envelope", "EnvelopeItem", "parse_envelope"]


@dataclass(frozen=True, kw_only=True, slots=True)
class EnvelopeItem:
    """One item: its headers (``type`` among them) and its raw payload."""

    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass(frozen=True, kw_only=True, slots=True)
class Envelope:
    """The envelope headers and its items, in order."""

    headers: dict[str, Any]
    items: tuple[EnvelopeItem, ...] = field(default_factory=tuple)


def _bad(detail: str) -> RequestProblem:
    return RequestProblem(
        f"{detail}: see https://develop.sentry.dev/sdk/data-model/envelopes/",
        kind="invalid-envelope",
        title="Invalid Sentry envelope",
    )


def _line(data: bytes, start: int) -> tuple[bytes, int]:
    """The line from ``start`` (without its newline) and where the next one starts."""
    end = data.find(b"\n", start)
    if end < 0:
        return data[start:], len(data)
    return data[start:end], end + 1


def _header(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = decode_json(line)
    except ValueError as exc:
        raise _bad(f"the {what} header is not JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise _bad(f"the {what} header must be a JSON object")
    return value


def parse_envelope(data: bytes) -> Envelope:
    """The envelope in ``data``; raises :class:`RequestProblem` (400) when it is malformed."""
    if not data.strip():
        raise _bad("the envelope is empty")
    line, pos = _line(data, 0)
    headers = _header(line, "envelope")
    items: list[EnvelopeItem] = []
    while pos < len(data):
        line, pos = _line(data, pos)
        if not line.strip():
            continue
        item_headers = _header(line, f"item {len(items)}")
        item_type = item_headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise _bad(f"item {len(items)} has no 'type' in its header")
        length = item_headers.get("length")
        if length is None:
            payload, pos = _line(data, pos)
        else:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise _bad(f"item {len(items)} has a 'length' that is not a byte count")
            if pos + length > len(data):
                raise _bad(
                    f"item {len(items)} says it is {length} bytes but the envelope ends "
                    f"after {len(data) - pos}"
                )
            payload = data[pos : pos + length]
            pos += length
            if pos < len(data):
                if data[pos : pos + 1] != b"\n":
                    raise _bad(
                        f"item {len(items)} is not followed by a newline after {length} bytes"
                    )
                pos += 1
        items.append(EnvelopeItem(type=item_type, headers=item_headers, payload=payload))
    return Envelope(headers=headers, items=tuple(items))
