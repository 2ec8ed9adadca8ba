"""The "resolved until" rules of a group, in Backtrace's invariant form.

A resolved group stays resolved until a report *breaks* its rule; that report is
a regression. A rule is a list of invariants; ANY invariant that holds for a
report breaks the rule. Stored as JSON (``error_groups.resolve_rule``)::

    [{"type": "version_ge", "field": "version", "version": "2.3.0", "scheme": "semver"},
     {"type": "timestamp_gt", "timestamp": 1704067200},
     {"type": "regular_expression", "field": "environment", "regex": "^prod"},
     {"type": "and", "invariants": [ ... all must hold ... ]}]

- ``version_gt`` / ``version_ge``: the report's ``field`` attribute is a version
  greater than (or equal to) ``version``. ``scheme`` is our addition to Backtrace's
  form; without it the project's configured scheme applies. A report without
  that attribute, or with a value that is not a version, does not break the rule
  (it cannot be shown to come from a fixed build) and the evaluation reports it.
- ``timestamp_gt``: the report's timestamp is after ``timestamp`` (Unix seconds,
  an integer or a number with a fraction).
- ``regular_expression``: ``regex`` is found (``re.search``) in the ``field``
  attribute; a missing attribute never matches.
- ``and``: every invariant in ``invariants`` holds.

A group resolved *without a version bound* ("resolved until seen again", in
Backtrace's terms) gets :func:`unbounded_rule`: ``timestamp_gt`` the resolution
time, so any report that happened after the resolution reopens it and a late
upload of an older crash does not. Fix versions become rules in
:mod:`syncengine.domain.fixversions`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syncengine.domain.reports import CrashReport
from syncengine.domain.versions import UnparseableVersion, VersionScheme, parse_version
from syncengine.errors import SyncEngineError

__all__ = [
    "And",
    "InvalidRule",
    "Invariant",
    "RegularExpression",
    "ReportFacts",
    "ResolveRule",
    "RuleEvaluation",
    "TimestampGt",
    "VersionBound",
    "evaluate",
    "unbounded_rule",
]


class InvalidRule(SyncEngineError):
    """A resolve rule (JSON) cannot be used; ``problems`` has one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid resolve rule: " + "; ".join(self.problems))


@dataclass(frozen=True, kw_only=True, slots=True)
class VersionBound:
    """``version_gt`` (``inclusive=False``) or ``version_ge`` (``inclusive=True``)."""

    field: str
    version: str
    inclusive: bool
    scheme: VersionScheme | None = None

    @property
    def type(self) -> str:
        return "version_ge" if self.inclusive else "version_gt"


@dataclass(frozen=True, kw_only=True, slots=True)
class TimestampGt:
    """Holds for a report whose timestamp is after ``after`` (aware UTC)."""

    after: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
class RegularExpression:
    """Holds when ``regex`` is found in the ``field`` attribute."""

    field: str
    regex: str


@dataclass(frozen=True, kw_only=True, slots=True)
class And:
    """Holds when every one of ``invariants`` holds."""

    invariants: tuple[Invariant, ...]


Invariant = VersionBound | TimestampGt | RegularExpression | And


@dataclass(frozen=True, kw_only=True, slots=True)
class ReportFacts:
    """What a rule may read of an incoming report: its time and its attributes.

    The report's version is one of the attributes: the canonical ``version``, and
    the project's version attribute name too (rules stored before the canonical
    attribute existed name that); :meth:`from_report` puts it there.
    """

    timestamp: datetime
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_report(cls, report: CrashReport, *, version_attribute: str = "version") -> ReportFacts:
        attributes = dict(report.attributes)
        if report.version is not None:
            attributes["version"] = report.version
            attributes[version_attribute] = report.version
        return cls(timestamp=report.timestamp, attributes=attributes)


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleEvaluation:
    """Whether a report breaks a rule, which invariant did, and what could not be read."""

    breaks: bool
    invariant: Invariant | None = None
    version: str | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolveRule:
    """A list of invariants: a report that meets ANY of them breaks the resolution."""

    any_of: tuple[Invariant, ...]

    def to_json(self) -> list[dict[str, Any]]:
        """The rule as JSON data, in Backtrace's invariant form."""
        return [_invariant_to_json(item) for item in self.any_of]

    @classmethod
    def from_json(cls, data: object, *, default_scheme: VersionScheme | str) -> ResolveRule:
        """Read and check a stored or hand-written rule; raise :class:`InvalidRule`.

        Version bounds must parse under their own ``scheme`` or ``default_scheme``.
        """
        problems: list[str] = []
        if not isinstance(data, list):
            raise InvalidRule([f"expected a list of invariants, got {_kind(data)}"])
        if not data:
            raise InvalidRule(
                ["the list is empty, so nothing would ever reopen the group; mute it instead"]
            )
        invariants = [
            _invariant_from_json(item, f"[{i}]", VersionScheme(default_scheme), problems)
            for i, item in enumerate(data)
        ]
        if problems:
            raise InvalidRule(problems)
        return cls(any_of=tuple(item for item in invariants if item is not None))

    def describe(self) -> str:
        """A short human sentence, for comments and the dashboard."""
        return " or ".join(_describe(item) for item in self.any_of)


def unbounded_rule(resolved_at: datetime) -> ResolveRule:
    """Resolved without a version bound: any report after ``resolved_at`` reopens."""
    return ResolveRule(any_of=(TimestampGt(after=_aware(resolved_at)),))


def evaluate(
    rule: ResolveRule, facts: ReportFacts, *, default_scheme: VersionScheme | str
) -> RuleEvaluation:
    """Whether ``facts`` break ``rule``: the first invariant (in order) that holds, if any.

    Raise ``ValueError`` when the report's timestamp is naive (it must be aware UTC).
    """
    scheme = VersionScheme(default_scheme)
    problems: list[str] = []
    for invariant in rule.any_of:
        if _holds(invariant, facts, scheme, problems):
            version = _version_of(invariant, facts)
            return RuleEvaluation(
                breaks=True, invariant=invariant, version=version, problems=tuple(problems)
            )
    return RuleEvaluation(breaks=False, problems=tuple(problems))


# --- evaluation ---------------------------------------------------------------------


def _holds(
    invariant: Invariant, facts: ReportFacts, default: VersionScheme, problems: list[str]
) -> bool:
    if isinstance(invariant, TimestampGt):
        return _aware(facts.timestamp) > invariant.after
    if isinstance(invariant, RegularExpression):
        value = facts.attributes.get(invariant.field)
        return value is not None and re.search(invariant.regex, value) is not None
    if isinstance(invariant, And):
        return all(_holds(item, facts, default, problems) for item in invariant.invariants)
    return _bound_holds(invariant, facts, invariant.scheme or default, problems)


def _bound_holds(
    invariant: VersionBound, facts: ReportFacts, scheme: VersionScheme, problems: list[str]
) -> bool:
    raw = facts.attributes.get(invariant.field)
    if raw is None:
        problems.append(f"the report has no {invariant.field!r} attribute to compare")
        return False
    try:
        seen = parse_version(raw, scheme)
    except UnparseableVersion as exc:
        problems.append(f"report {invariant.field}: {exc}")
        return False
    try:
        bound = parse_version(invariant.version, scheme)
    except UnparseableVersion as exc:
        # Only reachable when the project's scheme changed after the rule was stored.
        problems.append(f"the rule's bound: {exc}")
        return False
    return seen >= bound if invariant.inclusive else seen > bound


def _version_of(invariant: Invariant, facts: ReportFacts) -> str | None:
    if isinstance(invariant, VersionBound):
        return facts.attributes.get(invariant.field)
    if isinstance(invariant, And):
        for item in invariant.invariants:
            found = _version_of(item, facts)
            if found is not None:
                return found
    return None


def _describe(invariant: Invariant) -> str:
    if isinstance(invariant, VersionBound):
        op = "≥" if invariant.inclusive else ">"
        return f"{invariant.field} {op} {invariant.version}"
    if isinstance(invariant, TimestampGt):
        return f"seen after {invariant.after.isoformat()}"
    if isinstance(invariant, RegularExpression):
        return f"{invariant.field} matches /{invariant.regex}/"
    return "(" + " and ".join(_describe(item) for item in invariant.invariants) + ")"


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; pass an aware UTC time")
    return moment.astimezone(UTC)


# --- JSON ---------------------------------------------------------------------------


def _invariant_to_json(invariant: Invariant) -> dict[str, Any]:
    if isinstance(invariant, VersionBound):
        data: dict[str, Any] = {
            "type": invariant.type,
            "field": invariant.field,
            "version": invariant.version,
        }
        if invariant.scheme is not None:
            data["scheme"] = str(invariant.scheme)
        return data
    if isinstance(invariant, TimestampGt):
        seconds = invariant.after.timestamp()
        return {
            "type": "timestamp_gt",
            "timestamp": int(seconds) if seconds.is_integer() else seconds,
        }
    if isinstance(invariant, RegularExpression):
        return {"type": "regular_expression", "field": invariant.field, "regex": invariant.regex}
    return {
        "type": "and",
        "invariants": [_invariant_to_json(item) for item in invariant.invariants],
    }


_YEAR_10000 = 253402300800  # Unix seconds of 10000-01-01, past what datetime can hold
_KEYS = {
    "version_gt": ({"type", "field", "version"}, {"scheme"}),
    "version_ge": ({"type", "field", "version"}, {"scheme"}),
    "timestamp_gt": ({"type", "timestamp"}, set()),
    "regular_expression": ({"type", "field", "regex"}, set()),
    "and": ({"type", "invariants"}, set()),
}


def _invariant_from_json(
    data: object, where: str, default: VersionScheme, problems: list[str]
) -> Invariant | None:
    kind = _checked_kind(data, where, problems)
    if kind is None:
        return None
    assert isinstance(data, dict)
    if kind == "and":
        return _and_from_json(data["invariants"], where, default, problems)
    if kind == "timestamp_gt":
        return _timestamp_from_json(data["timestamp"], where, problems)
    name = data["field"]
    if not isinstance(name, str) or not name:
        problems.append(f"{where}: field must be a non-empty attribute name")
        return None
    if kind == "regular_expression":
        return _regex_from_json(name, data["regex"], where, problems)
    return _bound_from_json(
        data,
        inclusive=kind == "version_ge",
        name=name,
        where=where,
        default=default,
        problems=problems,
    )


def _checked_kind(data: object, where: str, problems: list[str]) -> str | None:
    """The invariant's type when ``data`` has exactly the keys that type takes."""
    if not isinstance(data, dict):
        problems.append(f"{where}: expected an object with a 'type', got {_kind(data)}")
        return None
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _KEYS:
        problems.append(f"{where}: unknown type {kind!r}; expected one of {', '.join(_KEYS)}")
        return None
    required, optional = _KEYS[kind]
    missing = sorted(required - data.keys())
    unknown = sorted(map(str, data.keys() - required - optional))
    if missing:
        problems.append(f"{where}: {kind} needs {', '.join(missing)}")
    if unknown:
        problems.append(f"{where}: {kind} does not take {', '.join(unknown)}")
    return None if missing or unknown else kind


def _timestamp_from_json(seconds: object, where: str, problems: list[str]) -> Invariant | None:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        problems.append(f"{where}: timestamp must be Unix seconds, got {_kind(seconds)}")
        return None
    if not math.isfinite(seconds) or not 0 <= seconds < _YEAR_10000:
        problems.append(f"{where}: timestamp {seconds} is not a time between 1970 and 9999")
        return None
    return TimestampGt(after=datetime.fromtimestamp(seconds, UTC))


def _and_from_json(
    items: object, where: str, default: VersionScheme, problems: list[str]
) -> Invariant | None:
    if not isinstance(items, list) or not items:
        problems.append(f"{where}: and needs a non-empty list of invariants")
        return None
    parts = [
        _invariant_from_json(item, f"{where}.invariants[{i}]", default, problems)
        for i, item in enumerate(items)
    ]
    if any(part is None for part in parts):
        return None
    return And(invariants=tuple(part for part in parts if part is not None))


def _regex_from_json(name: str, regex: object, where: str, problems: list[str]) -> Invariant | None:
    if not isinstance(regex, str):
        problems.append(f"{where}: regex must be a string, got {_kind(regex)}")
        return None
    try:
        re.compile(regex)
    except re.error as exc:
        problems.append(f"{where}: regex {regex!r} does not compile: {exc}")
        return None
    return RegularExpression(field=name, regex=regex)


def _bound_from_json(
    data: dict[str, Any],
    *,
    inclusive: bool,
    name: str,
    where: str,
    default: VersionScheme,
    problems: list[str],
) -> Invariant | None:
    scheme: VersionScheme | None = None
    if "scheme" in data:
        try:
            scheme = VersionScheme(data["scheme"])
        except ValueError:
            choices = ", ".join(s.value for s in VersionScheme)
            problems.append(
                f"{where}: unknown scheme {data['scheme']!r}; expected one of {choices}"
            )
            return None
    version = data["version"]
    if not isinstance(version, str):
        problems.append(f"{where}: version must be a string, got {_kind(version)}")
        return None
    try:
        parse_version(version, scheme or default)
    except UnparseableVersion as exc:
        problems.append(f"{where}: {exc}")
        return None
    return VersionBound(field=name, version=version.strip(), inclusive=inclusive, scheme=scheme)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__
