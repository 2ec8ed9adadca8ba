"""What the intake reads from JSON besides what ``json.loads`` checks: text every store keeps.

JSON can spell characters no database keeps: a lone UTF-16 surrogate
(``"\\ud83d"`` without its pair; not a character, so no UTF-8 encoder takes it)
and NUL (``"\\u0000"``; PostgreSQL refuses it in text, SQLite keeps it). Both are
replaced by U+FFFD (the replacement character) where the JSON is decoded, in
names and values alike, so a report that holds them is stored like any other,
the same way on every backend, and never fails the reports stored with it.

Decoded JSON is walked only when the raw text can hold such an escape at all;
a surrogate pair (an emoji sent as ASCII) does not count.

:func:`check_nesting` bounds how deep a kept raw report may be and turns the
numbers JSON has no spelling for (``NaN``, ``Infinity``, an overflowing ``1e999``)
into strings, so every backend's JSON column takes the report.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from syncengine.ingest.problems import FieldError, ReportInvalid

__all__ = [
    "MAX_NESTING",
    "REPLACEMENT",
    "check_nesting",
    "clean_text",
    "repair_decoded",
    "repair_strict",
    "spelling",
]

REPLACEMENT = "\ufffd"
MAX_NESTING = 64  # objects and arrays inside one another in a kept report

_ASCII_ESCAPES = frozenset({"utf-8", "utf-8-sig"})  # where "\\u" is those two bytes
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_ENCODED_SURROGATE = re.compile(b"\xed[\xa0-\xbf]")  # a surrogate's UTF-8-style bytes
_HIGH = r"\\u[dD][89abAB][0-9a-fA-F]{2}"
_LOW = r"\\u[dD][c-fC-F][0-9a-fA-F]{2}"
# An escape that can decode to NUL or to a lone surrogate. It may match more than
# that (a literal backslash before "u", an escape pair behind an escaped backslash):
# that only costs a walk. It must never miss one. Every branch starts with the
# literal "\\u", so the search skips ahead between escapes (ten times faster).
_SUSPECT = re.compile(
    (
        r"\\u(?:0000"
        rf"|[dD][89abAB][0-9a-fA-F]{{2}}(?!{_LOW})"
        rf"|[dD][c-fC-F][0-9a-fA-F]{{2}}(?:(?<!{_HIGH}{_LOW})|(?<=\\{_HIGH}{_LOW})))"
    ).encode()
)


def clean_text(text: str) -> str:
    """``text`` with each NUL and lone surrogate replaced by :data:`REPLACEMENT`."""
    return _UNSTORABLE.sub(REPLACEMENT, text) if _UNSTORABLE.search(text) else text


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def repair_decoded(raw: bytes | str, document: Any) -> Any:
    """``document`` (decoded from ``raw``) with text no store keeps replaced (see module)."""
    if isinstance(raw, str):
        data = raw.encode("utf-8", "surrogatepass")
    elif json.detect_encoding(raw) not in _ASCII_ESCAPES:
        return _clean(document)  # UTF-16 or UTF-32 JSON: rare enough to walk always
    else:
        data = raw
    # json.loads decodes bytes with "surrogatepass": a surrogate may come unescaped too.
    if _ENCODED_SURROGATE.search(data) or (b"\\u" in data and _SUSPECT.search(data)):
        return _clean(document)
    return document


def repair_strict(raw: bytes | str, document: Any) -> Any:
    """``document``, decoded from ``raw`` by a strict decoder, with its NULs replaced.

    A strict decoder (orjson) refuses lone surrogates, escaped or not, and reads
    UTF-8 only: a NUL, which only an escape can spell, is all that can need replacing.
    """
    escape = b"\\u0000" if isinstance(raw, bytes) else "\\u0000"
    return _clean(document) if escape in raw else document  # type: ignore[operator]  # same type


def check_nesting(document: Any, *, where: str = "") -> None:
    """Raise :class:`ReportInvalid` (422) when ``document`` nests past :data:`MAX_NESTING`.

    Non-finite floats inside it are replaced, in place, by their JSON-ish
    spelling (``"NaN"``, ``"Infinity"``, ``"-Infinity"``).
    """
    # Level by level, values only: this runs on every report, and a walk that looked
    # at each key and paired each node with its depth was most of a Sentry event's parse.
    level = [document] if isinstance(document, dict | list) else []
    depth = 1
    while level:
        if depth > MAX_NESTING:
            raise ReportInvalid(
                [
                    FieldError(
                        field=where,
                        problem=f"objects and arrays nest more than {MAX_NESTING} levels "
                        "deep: flatten the report",
                    )
                ],
                kind="nested-too-deeply",
            )
        deeper: list[Any] = []
        for node in level:
            for value in node.values() if isinstance(node, dict) else node:
                if isinstance(value, str):
                    continue
                if isinstance(value, dict | list):
                    deeper.append(value)
                elif isinstance(value, float) and value - value != 0:  # NaN or ±inf
                    _spell_non_finite(node)
        level = deeper
        depth += 1


def _spell_non_finite(node: dict[Any, Any] | list[Any]) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if isinstance(value, float) and not math.isfinite(value):
            node[key] = spelling(value)


def spelling(value: float) -> str:
    """How a non-finite float is kept: ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``."""
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"
