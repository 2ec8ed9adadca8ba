"""The limits every wire format shares, and turning wire values into report values.

Attribute values are kept as strings: numbers and booleans become their JSON
spelling, ``null`` drops the attribute, objects and arrays are rejected. Names and
values longer than the configured limits are cut and end with :data:`MARKER`;
every cut is counted so the answer can say how many were made.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from syncengine.ingest.problems import FieldError, ReportInvalid
from syncengine.ingest.wire_text import spelling
from syncengine.store.groups import FIELD_LIMITS

__all__ = [
    "CLASSIFIER_LIMIT",
    "MARKER",
    "VERSION_LIMIT",
    "IngestLimits",
    "ReportContext",
    "ReportContexts",
    "Truncations",
    "attribute_value",
    "clean_attributes",
    "parse_timestamp",
]

MARKER = "…[truncated]"
CLASSIFIER_LIMIT = FIELD_LIMITS["classifier"]
VERSION_LIMIT = FIELD_LIMITS["version"]
_MAX_ERRORS = 20  # per report: enough to fix a batch, short enough to read
_FUTURE_SLACK = timedelta(minutes=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class IngestLimits:
    """Size limits of the intake (see ``[ingest]`` in the configuration)."""

    max_request_bytes: int = 20 * 1024 * 1024
    max_report_bytes: int = 1024 * 1024
    max_attributes: int = 256
    max_key_length: int = 128
    max_value_length: int = 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportContext:
    """What a parser needs besides the bytes: whose reports, when, and the limits.

    ``version_attribute`` names the attribute that holds the project's version
    (``"version"``: the client's own version field); ``version_pattern`` is the
    project's version extractor (a regex with one group), or None.
    """

    project: str
    now: datetime
    limits: IngestLimits = field(default_factory=IngestLimits)
    version_attribute: str = "version"
    version_pattern: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportContexts:
    """The intake's configuration: its limits and each project's version attribute and pattern."""

    limits: IngestLimits = field(default_factory=IngestLimits)
    version_attributes: Mapping[str, str] = field(default_factory=dict)
    version_patterns: Mapping[str, str] = field(default_factory=dict)

    def for_project(self, project: str, now: datetime) -> ReportContext:
        """The context of ``project``'s reports received at ``now``."""
        return ReportContext(
            project=project,
            now=now,
            limits=self.limits,
            version_attribute=self.version_attributes.get(project, "version"),
            version_pattern=self.version_patterns.get(project),
        )


class Truncations:
    """Counts the names and values cut to fit, for one report."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def cut(self, text: str, limit: int) -> str:
        """``text``, or its start plus :data:`MARKER` so that it is ``limit`` long."""
        if len(text) <= limit:
            return text
        self.count += 1
        if limit <= len(MARKER):
            return text[:limit]
        return text[: limit - len(MARKER)] + MARKER


def attribute_value(value: Any) -> str | None:
    """``value`` as an attribute string; None for null. Raises TypeError for objects/arrays."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    raise TypeError(type(value).__name__)


def _float_text(value: float) -> str:
    if not math.isfinite(value):
        return spelling(value)  # "NaN", as the raw copy keeps it
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _kind(value: Any) -> str:
    return "an object" if isinstance(value, Mapping) else "an array"


def clean_attributes(
    raw: Any, limits: IngestLimits, cuts: Truncations, *, where: str = "attributes"
) -> dict[str, str]:
    """``raw`` (a JSON object) as attributes within ``limits``; cuts are counted in ``cuts``.

    Raises :class:`ReportInvalid` when ``raw`` is not an object, has too many
    attributes, an empty name, or an object or array as a value. ``where`` prefixes
    the field paths of the errors (empty: the names are top-level fields).
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ReportInvalid.one(
            where or "attributes", f"must be a JSON object of name → value, not {_kind(raw)}"
        )
    if len(raw) > limits.max_attributes:
        raise ReportInvalid.one(
            where or "tags",
            f"has {len(raw)} attributes; at most {limits.max_attributes} are accepted: "
            "send fewer (or raise ingest.max_attributes)",
            kind="too-many-attributes",
        )
    max_key, max_value = limits.max_key_length, limits.max_value_length
    if _plain(raw, max_key, max_value):
        return dict(raw)
    errors: list[FieldError] = []
    cleaned: dict[str, str] = {}
    for name, value in raw.items():
        key = str(name)
        if type(value) is str and len(value) <= max_value and len(key) <= max_key and key.strip():
            cleaned[key] = value  # the common case, without the checks below
            continue
        try:
            text = attribute_value(value)
        except TypeError:
            errors.append(
                FieldError(
                    field=f"{where}.{key[:64]}" if where else key[:64],
                    problem=f"is {_kind(value)}; attribute values must be strings, "
                    "numbers or booleans: flatten it (e.g. 'parent.child') or send it as a string",
                )
            )
            continue
        if not key.strip():
            errors.append(FieldError(field=where or key, problem="an attribute name is empty"))
            continue
        if text is not None:
            cleaned[cuts.cut(key, limits.max_key_length)] = cuts.cut(text, limits.max_value_length)
    if errors:
        raise ReportInvalid(errors[:_MAX_ERRORS], kind="invalid-attribute")
    return cleaned


def _plain(raw: Mapping[Any, Any], max_key: int, max_value: int) -> bool:
    """Whether ``raw`` is kept as it is: names and values text within the limits, no name blank.

    The common case, told in a few passes of builtins (the loop below, name by
    name, was a sixth of a native report's parse).
    """
    if not raw:
        return True
    values = raw.values()
    try:
        return (
            set(map(type, values)) == _TEXT
            and max(map(len, values)) <= max_value
            and max(map(len, raw)) <= max_key
            and all(map(str.strip, raw))
        )
    except TypeError:  # a name that is not text: the loop says what to do with it
        return False


_TEXT = {str}


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        if seconds > 1e11:  # milliseconds: 1e11 s is the year 5138
            seconds /= 1000
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    raise TypeError(type(value).__name__)


def parse_timestamp(value: Any, now: datetime, *, where: str = "timestamp") -> datetime:
    """A report time from epoch seconds (or milliseconds) or an RFC 3339 string.

    None means "received now"; a time more than a minute ahead of ``now`` is a
    client with a wrong clock and is replaced by ``now``. Raises
    :class:`ReportInvalid` for anything else.
    """
    if value is None:
        return now
    try:
        when = _to_datetime(value)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise ReportInvalid.one(
            where,
            f"{str(value)[:40]!r} is not a time: send epoch seconds or an RFC 3339 "
            "string such as 2026-01-31T12:00:00Z",
        ) from exc
    return now if when > now + _FUTURE_SLACK else when
