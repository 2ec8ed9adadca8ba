"""Building JQL from values safely: untrusted text is always a quoted string literal."""

from __future__ import annotations

__all__ = ["quote"]


def quote(value: str) -> str:
    """``value`` as a JQL string literal: double-quoted, ``\\`` and ``"`` escaped.

    Raises:
        ValueError: the value holds a line break or NUL, which JQL cannot carry.
    """
    if any(c in value for c in "\n\r\x00"):
        raise ValueError("a JQL value cannot contain line breaks or NUL characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
