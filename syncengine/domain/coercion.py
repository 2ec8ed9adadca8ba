"""Turning expanded template text into the JSON value a Jira field's schema expects.

:func:`coerce` takes the text (or, for array fields, the items) a template
expanded to and the field's :class:`~syncengine.domain.createmeta.FieldMeta`,
and returns what goes into the create request's ``fields``:

==========================  ===============================================
schema                      value
==========================  ===============================================
string, any                 the text (single-line text fields: one line, ≤ 255)
number                      an int or float
date / datetime             ``2026-11-23`` / ``2026-11-23T11:29:24.000+0000``
option                      ``{"value": …}`` (matched to allowedValues, any case)
option-with-child           ``{"value": parent, "child": {"value": child}}`` from "parent > child"
array of options            ``[{"value": …}, …]``
user                        ``{"accountId": …}`` on Cloud, ``{"name": …}`` on Data Center
version, component          ``{"name": …}`` (arrays: a list of them)
priority, issuetype         ``{"name": …}``; project: ``{"key": …}``; parent: ``{"key": …}``
labels, array of strings    a list of strings; labels hold no spaces (replaced with "_")
==========================  ===============================================

Rich-text fields (description, environment, textarea) are built by
:mod:`syncengine.domain.fields`, which knows the API version. A value that does
not fit raises :class:`CoercionError` whose message says what would.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from syncengine.domain.createmeta import FieldMeta

__all__ = ["CoercionError", "coerce", "is_array", "sanitize_labels", "single_line"]

MAX_LINE = 255
_SPACES = re.compile(r"\s+")


class CoercionError(ValueError):
    """A value does not fit its field; ``fix`` says what would."""

    def __init__(self, message: str, fix: str) -> None:
        self.fix = fix
        super().__init__(message)


def single_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``limit`` with "…"."""
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def sanitize_labels(labels: Iterable[str]) -> list[str]:
    """Labels Jira accepts: whitespace runs become "_", at most 255 characters, no duplicates."""
    out: dict[str, None] = {}
    for label in labels:
        cleaned = _SPACES.sub("_", label.strip())[:MAX_LINE]
        if cleaned:
            out[cleaned] = None
    return list(out)


def is_array(meta: FieldMeta) -> bool:
    """True when the field takes a list (its template's commas separate items)."""
    return meta.type == "array"


def _allowed(meta: FieldMeta, key: str, wanted: str) -> str:
    allowed = meta.allowed_values
    if allowed is None:
        return wanted
    names = [str(v.get(key)) for v in allowed if v.get(key) is not None]
    for name in names:
        if name.casefold() == wanted.strip().casefold():
            return name
    shown = ", ".join(repr(n) for n in names[:20]) or "none exist"
    raise CoercionError(
        f"{wanted!r} is not an allowed value",
        f"use one of {shown}" if names else "create the value in Jira first, or drop the field",
    )


def _number(text: str) -> int | float:
    try:
        number = float(text.strip())
    except ValueError:
        raise CoercionError(f"{text!r} is not a number", "give digits, like 42 or 3.5") from None
    if not math.isfinite(number):
        raise CoercionError(f"{text!r} is not a finite number", "give digits, like 42 or 3.5")
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _moment(text: str) -> datetime:
    cleaned = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(cleaned), datetime.min.time())
        except ValueError:
            raise CoercionError(
                f"{text!r} is not a date or time",
                "give ISO 8601, like 2026-11-23 or 2026-11-23T11:29:24Z ($first_seen is one)",
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _user(text: str, cloud: bool, user_map: Mapping[str, str]) -> dict[str, str]:
    who = user_map.get(text.strip(), text.strip())
    return {"accountId": who} if cloud else {"name": who}


def _string(meta: FieldMeta, text: str) -> str:
    custom = meta.custom or ""
    if custom.endswith(":url") and not re.match(r"^(https?|mailto):\S+$", text.strip()):
        raise CoercionError(f"{text!r} is not a URL", "give a full http(s) URL")
    if custom.endswith(":textfield") or meta.system == "summary":
        return single_line(text)
    return text


def _cascade(meta: FieldMeta, text: str) -> dict[str, Any]:
    parent, _, child = (part.strip() for part in text.partition(">"))
    value: dict[str, Any] = {"value": _allowed(meta, "value", parent)}
    if child:
        value["child"] = {"value": child}
    return value


_Scalar = Callable[[FieldMeta, str, bool, Mapping[str, str]], Any]
_BY_NAME = {"version", "component", "priority", "issuetype", "resolution", "securitylevel"}
_SCALARS: dict[str, _Scalar] = {
    "string": lambda meta, text, _c, _u: _string(meta, text),
    "any": lambda meta, text, _c, _u: _string(meta, text),
    "number": lambda _m, text, _c, _u: _number(text),
    "date": lambda _m, text, _c, _u: _moment(text).astimezone(UTC).date().isoformat(),
    "datetime": lambda _m, text, _c, _u: (
        _moment(text).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    ),
    "option": lambda meta, text, _c, _u: {"value": _allowed(meta, "value", text)},
    "option-with-child": lambda meta, text, _c, _u: _cascade(meta, text),
    "user": lambda _m, text, cloud, users: _user(text, cloud, users),
    "project": lambda _m, text, _c, _u: {"key": text.strip()},
    "issuelink": lambda _m, text, _c, _u: {"key": text.strip()},
    **{
        kind: (lambda meta, text, _c, _u: {"name": _allowed(meta, "name", text)})
        for kind in _BY_NAME
    },
}


def _scalar(meta: FieldMeta, text: str, cloud: bool, user_map: Mapping[str, str]) -> Any:
    handler = _SCALARS.get(meta.type)
    if handler is None:
        raise CoercionError(
            f"syncengine cannot fill a field of type {meta.type!r}",
            "remove it from custom_fields, or give it a default value in Jira",
        )
    return handler(meta, text, cloud, user_map)


def coerce(
    meta: FieldMeta,
    value: str | list[str],
    *,
    cloud: bool,
    user_map: Mapping[str, str] | None = None,
) -> Any:
    """The JSON value for field ``meta`` (a FieldMeta) from expanded ``value``.

    Raises :class:`CoercionError` when the value does not fit the field's schema.
    """
    users = user_map or {}
    if meta.type != "array":
        text = value if isinstance(value, str) else ", ".join(value)
        return _scalar(meta, text, cloud, users)
    items = [value] if isinstance(value, str) else value
    custom = meta.custom or ""
    if custom.endswith(":gh-sprint"):
        # The sprint field is an array in createmeta, but Jira takes one sprint id.
        return _number(items[0]) if items else None
    if meta.items == "string":
        return sanitize_labels(items) if _is_labels(meta) else [i for i in items if i]
    if meta.items in {"option", "version", "component", "user"}:
        one = replace(meta, type=meta.items, items=None)
        return [_scalar(one, item, cloud, users) for item in items]
    raise CoercionError(
        f"syncengine cannot fill a list of {meta.items!r}",
        "remove it from custom_fields; Jira fills it another way",
    )


def _is_labels(meta: FieldMeta) -> bool:
    return bool(meta.system == "labels" or (meta.custom or "").endswith(":labels"))
