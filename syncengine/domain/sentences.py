"""Audit entries and resolve rules in words, for the pages people read.

:func:`until_words` turns a stored resolve rule (Backtrace's invariant JSON, see
:mod:`syncengine.domain.resolve`) into "until a version ≥ 2.3.0 is seen";
:func:`audit_sentence` turns an audit entry's action and detail into a sentence
("changed the state from open to resolved"). Both read the stored JSON as it is,
checking nothing: a value they do not know is shown as it is, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["audit_sentence", "until_words"]


def _utc_time(value: Any) -> str:
    """Unix seconds (or an ISO time with its zone) as "2026-12-02 14:49 UTC"."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(float(value), UTC)
        else:
            moment = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        return str(value)
    if moment.utcoffset() is None:
        return str(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _op(kind: str) -> str:
    return "≥" if kind == "version_ge" else ">"


def _condition(item: Any) -> str:
    """One invariant as a condition on a report ("version ≥ 2.3.0")."""
    if not isinstance(item, Mapping):
        return str(item)
    kind = item.get("type")
    if kind in ("version_ge", "version_gt"):
        return f"{item.get('field', 'version')} {_op(kind)} {item.get('version')}"
    if kind == "timestamp_gt":
        return f"time after {_utc_time(item.get('timestamp'))}"
    if kind == "regular_expression":
        return f"{item.get('field')} matching /{item.get('regex')}/"
    if kind == "and":
        parts = item.get("invariants")
        return " and ".join(_condition(p) for p in parts) if isinstance(parts, list) else str(item)
    return str(dict(item))


def _report(item: Any) -> str:
    """One invariant as the report that breaks it ("a version ≥ 2.3.0")."""
    if isinstance(item, Mapping):
        kind = item.get("type")
        if kind in ("version_ge", "version_gt") and item.get("field", "version") == "version":
            return f"a version {_op(kind)} {item.get('version')}"
        if kind == "timestamp_gt":
            return f"a report after {_utc_time(item.get('timestamp'))}"
    return f"a report with {_condition(item)}"


def until_words(rule: Any) -> str:
    """``rule`` (a stored resolve rule) as "until a version ≥ 2.3.0 is seen"."""
    if not isinstance(rule, list) or not rule:
        return "until it is seen again"
    if all(isinstance(i, Mapping) and i.get("type") == "timestamp_gt" for i in rule):
        after = min((_utc_time(i.get("timestamp")) for i in rule), default="")
        return f"until it is seen again (a report after {after})"
    return "until " + " or ".join(_report(item) for item in rule) + " is seen"


def _value(value: Any) -> str:
    if value is None or value in ("", []):
        return "nothing"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _state(detail: Mapping[str, Any]) -> str:
    return f"changed the state from {_value(detail.get('before'))} to {_value(detail.get('after'))}"


def _assignee(detail: Mapping[str, Any]) -> str:
    after = detail.get("after")
    if not after:
        return f"unassigned it (was {_value(detail.get('before'))})"
    return f"assigned it to {after}"


def _resolved_until(detail: Mapping[str, Any]) -> str:
    version = detail.get("fix_version")
    by = f"fix version {version} in Jira" if version else "Jira"
    return f"set by {by}: resolved {until_words(detail.get('rule'))}"


def _regression(detail: Mapping[str, Any]) -> str:
    version = detail.get("version")
    seen = f"a report from version {version}" if version else "a new report"
    count = detail.get("regression_count")
    nth = f" (regression {count})" if count else ""
    return f"reopened it{nth}: {seen} broke “resolved {until_words(detail.get('rule'))}”"


def _conflict(detail: Mapping[str, Any]) -> str:
    return (
        f"{detail.get('field')} changed here ({_value(detail.get('engine'))}) and in "
        f"{detail.get('issue', 'Jira')} ({_value(detail.get('jira'))}); "
        f"{detail.get('winner')} won by the {detail.get('policy')} policy, so it is "
        f"{_value(detail.get('resolved_to'))}"
    )


def _transition(detail: Mapping[str, Any]) -> str:
    resolution = detail.get("resolution")
    how = f" with resolution {resolution}" if resolution else ""
    return f"moved {detail.get('issue')} to {detail.get('to')} ({detail.get('transition')}{how})"


_SENTENCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "group.state": _state,
    "group.assignee": _assignee,
    "group.resolved_until": _resolved_until,
    "group.regression": _regression,
    "group.version_unreadable": lambda d: f"could not order its versions: {d.get('problem')}",
    "ticket.requested": lambda _d: "asked for a ticket now",
    "ticket.linked": lambda d: f"linked it to {d.get('issue')}",
    "ticket.duplicate_closed": lambda d: (
        f"closed {d.get('issue')} as a duplicate of {d.get('duplicate_of')}"
    ),
    "sync.apply": lambda d: (
        f"took {d.get('field')} from Jira: {_value(d.get('before'))} → {_value(d.get('after'))}"
    ),
    "sync.conflict": _conflict,
    "jira.transition": _transition,
    "jira.assign": lambda d: (
        f"assigned {d.get('issue')} to {_value(d.get('jira_user') or d.get('assignee'))} in Jira"
    ),
    "link.moved": lambda d: f"followed the issue's move: {d.get('from')} is now {d.get('to')}",
    "link.deleted": lambda d: f"unlinked it: {d.get('issue')} was deleted in Jira",
}


def audit_sentence(action: str, detail: Mapping[str, Any] | None) -> str:
    """What an audit entry says, as a sentence without its actor ("linked it to CRASH-3").

    An action this module does not know is shown as the action and its details.
    """
    facts = detail or {}
    say = _SENTENCES.get(action)
    if say is not None:
        try:
            return say(facts)
        except (TypeError, ValueError, AttributeError):
            pass  # a detail of an unexpected shape: shown as it is below
    shown = ", ".join(f"{k} {_value(v)}" for k, v in sorted(facts.items()))
    return f"{action}{': ' + shown if shown else ''}"
