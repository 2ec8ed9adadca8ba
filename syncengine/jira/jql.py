"""Building JQL from values safely: untrusted text is always a quoted string literal.

Every JQL the engine sends is built from these: :func:`quote` for one value,
:func:`values` for an ``in (...)`` list, :func:`ids` for issue ids.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ids", "quote", "values"]


def quote(value: str) -> str:
    """``value`` as a JQL string literal: double-quoted, ``\\`` and ``"`` escaped.

    Raises:
        ValueError: the value holds a line break or NUL, which JQL cannot carry.
    """
    if any(c in value for c in "\n\r\x00"):
        raise ValueError("a JQL value cannot contain line breaks or NUL characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def values(items: Iterable[str]) -> str:
    """``("a", "b")``: each item quoted, for ``field in ...``.

    Raises:
        ValueError: no items (JQL has no empty list), or an item :func:`quote` refuses.
    """
    quoted = [quote(item) for item in items]
    if not quoted:
        raise ValueError("a JQL list needs at least one value")
    return "(" + ", ".join(quoted) + ")"


def ids(items: Iterable[str | int]) -> str:
    """``(10001, 10002)``: issue ids, each checked to be digits only.

    Raises:
        ValueError: no ids, or one that is not a number.
    """
    checked = [str(item) for item in items]
    if not checked or not all(item.isascii() and item.isdigit() for item in checked):
        raise ValueError(f"JQL issue ids must be numbers: {checked!r}")
    return "(" + ", ".join(checked) + ")"
