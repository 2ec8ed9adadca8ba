"""Regressions: does a batch of reports reopen a resolved group, and what happens in Jira.

At ingest (:func:`decide_regression`), a RESOLVED group's rule is checked
against the batch of reports that arrived for it, in order:

- the first report that breaks the rule gives ONE :class:`Regressed` for the
  whole batch, however many reports break it (``breaking_reports`` counts them);
  the group reopens once, and every later report of the batch only counts;
- otherwise :class:`CountOnly` (e.g. a report from an older version than the fix),
  with the reason and any version that could not be read;
- a group that is not resolved never regresses (it is already open, or muted);
- a resolved group without a stored rule is "resolved until seen again": any
  report after ``resolved_at`` breaks it (without ``resolved_at``, any report).

The Jira side (:func:`jira_action`), by configuration (``SyncSettings``):

- ``regression_action = "reopen"``: :class:`ReopenIssue` with a comment (which
  version regressed, how many reports, the regression count, a link to the
  group) — unless the old issue was closed more than ``new_issue_after_days``
  days ago, or closed with a resolution in ``new_issue_resolutions`` (such as
  "Won't Do"): then, as for ``"new_issue"``, :class:`FileNewIssue` linked to the
  old one, because reopening a long-closed or rejected issue helps nobody.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from syncengine.domain.groups import GroupState
from syncengine.domain.reports import Frame
from syncengine.domain.resolve import (
    And,
    Invariant,
    ReportFacts,
    ResolveRule,
    VersionBound,
    evaluate,
    unbounded_rule,
)
from syncengine.domain.versions import VersionScheme

__all__ = [
    "CountOnly",
    "FileNewIssue",
    "Regressed",
    "RegressionAction",
    "RegressionConfig",
    "ReopenIssue",
    "decide_regression",
    "fix_version",
    "jira_action",
    "regression_comment",
]

RegressionAction = Literal["reopen", "new_issue"]
"""What a regression of a linked group does in Jira: reopen the issue, or file a new one."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Regressed:
    """The batch reopens the group: report ``report_index`` broke ``rule``.

    ``invariant`` is the part of the rule it broke, ``version`` the report's
    version (when the rule compared one); ``rule`` is None only for a group
    resolved with neither a rule nor a time, ``breaking_reports`` how many reports
    of the batch broke the rule, ``problems`` what could not be read.
    """

    report_index: int
    rule: ResolveRule | None
    invariant: Invariant | None
    version: str | None
    breaking_reports: int
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True, slots=True)
class CountOnly:
    """No regression: the reports only count. ``reason`` says why; ``problems`` are the
    latest report's (why its version cannot be ordered, if so)."""

    reason: str
    problems: tuple[str, ...] = ()


def decide_regression(
    *,
    state: GroupState,
    rule: ResolveRule | None,
    resolved_at: datetime | None,
    reports: Sequence[ReportFacts],
    default_scheme: VersionScheme | str,
) -> Regressed | CountOnly:
    """Whether ``reports`` (one batch, in arrival order) reopen a group in ``state``."""
    if state is not GroupState.RESOLVED:
        return CountOnly(reason=f"the group is {state.value}, not resolved")
    if not reports:
        return CountOnly(reason="no reports")
    if rule is None:
        if resolved_at is None:
            return Regressed(
                report_index=0,
                rule=None,
                invariant=None,
                version=None,
                breaking_reports=len(reports),
                problems=(
                    "the group was resolved without a rule or a time: any report reopens it",
                ),
            )
        rule = unbounded_rule(resolved_at)
    first: int | None = None
    found = None
    breaking = 0
    problems: list[str] = []
    latest: tuple[str, ...] = ()
    for index, facts in enumerate(reports):
        result = evaluate(rule, facts, default_scheme=default_scheme)
        problems.extend(p for p in result.problems if p not in problems)
        latest = tuple(result.problems)
        if result.breaks:
            breaking += 1
            if first is None:
                first, found = index, result
    if first is None or found is None:
        # The latest report's problems, as one request per report would leave them: a
        # report whose version orders clears what an earlier one of the batch set.
        return CountOnly(reason=f"no report breaks the rule ({rule.describe()})", problems=latest)
    return Regressed(
        report_index=first,
        rule=rule,
        invariant=found.invariant,
        version=found.version,
        breaking_reports=breaking,
        problems=tuple(problems),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class RegressionConfig:
    """The Jira side of a regression, one-to-one with ``SyncSettings``.

    ``new_issue_resolutions`` has no settings key yet; its default is the one
    case the issue names ("closed as Won't Do").
    """

    regression_action: RegressionAction = "reopen"
    new_issue_after_days: int | None = None
    new_issue_resolutions: tuple[str, ...] = ("Won't Do",)


@dataclass(frozen=True, kw_only=True, slots=True)
class ReopenIssue:
    """Transition the linked issue back to an open status and add ``comment``."""

    issue_key: str
    comment: str


@dataclass(frozen=True, kw_only=True, slots=True)
class FileNewIssue:
    """File a new issue for the group, linked to ``link_to`` (the old key); ``reason`` why."""

    link_to: str
    reason: str
    comment: str


def fix_version(rule: ResolveRule | None) -> str | None:
    """The version the fix was in: the first version bound of ``rule`` (None without one)."""
    pending: list[Invariant] = list(rule.any_of) if rule is not None else []
    while pending:
        item = pending.pop(0)
        if isinstance(item, VersionBound):
            return item.version
        if isinstance(item, And):
            pending = list(item.invariants) + pending
    return None


TOP_FRAMES = 5
"""How many of a sample's innermost frames the regression comment shows."""


def _frame_line(frame: Frame) -> str:
    where = frame.filename or frame.module
    line = f":{frame.line}" if frame.line is not None and where else ""
    name = frame.function or "?"
    return f"  at {name} ({where}{line})" if where else f"  at {name}"


def regression_comment(
    regressed: Regressed,
    *,
    regression_count: int,
    group_url: str,
    first_seen: datetime | None = None,
    frames: Sequence[Frame] = (),
) -> str:
    """The comment text, with the proof: the version the fix was in, the version that
    crashed, how many reports, the first report's time, a sample's top frames, the link."""
    if regressed.version is not None:
        head = f"Regression: version {regressed.version} crashed again"
    else:
        head = "Regression: the error was seen again"
    rule = regressed.rule.describe() if regressed.rule is not None else "seen again"
    reports = regressed.breaking_reports
    lines = [
        f"{head} after it was resolved (resolved until: {rule}).",
        f"{reports} new report{'s' if reports != 1 else ''} broke the resolution; "
        f"this is regression #{regression_count} of this error.",
    ]
    fixed_in = fix_version(regressed.rule)
    if fixed_in is not None:
        lines.append(f"Fixed in: {fixed_in}")
    lines.append(f"Crashed in: {regressed.version or 'a report without a version'}")
    if first_seen is not None:
        lines.append(f"First reported: {first_seen.strftime('%Y-%m-%d %H:%M:%S UTC')}")
    if frames:
        lines.append("Top frames of a sample:")
        lines += [_frame_line(f) for f in frames[:TOP_FRAMES]]
    if group_url:
        lines.append(f"Error group: {group_url}")
    return "\n".join(lines)


def jira_action(
    regressed: Regressed,
    *,
    issue_key: str,
    closed_at: datetime | None,
    resolution: str | None,
    regression_count: int,
    group_url: str,
    config: RegressionConfig,
    now: datetime,
    first_seen: datetime | None = None,
    frames: Sequence[Frame] = (),
) -> ReopenIssue | FileNewIssue:
    """What to do in Jira for a regression of a group linked to ``issue_key``.

    ``closed_at``/``resolution`` describe the linked issue as last synced
    (resolution matched case-insensitively); ``now`` is aware UTC; ``first_seen`` and
    ``frames`` (a sample's, innermost first) go into the comment as proof.
    """
    comment = regression_comment(
        regressed,
        regression_count=regression_count,
        group_url=group_url,
        first_seen=first_seen,
        frames=frames,
    )
    if config.regression_action == "new_issue":
        return FileNewIssue(
            link_to=issue_key, reason="regressions always get a new issue", comment=comment
        )
    wanted = {name.casefold() for name in config.new_issue_resolutions}
    if resolution is not None and resolution.casefold() in wanted:
        return FileNewIssue(
            link_to=issue_key,
            reason=f"{issue_key} was closed as {resolution!r}",
            comment=comment,
        )
    days = config.new_issue_after_days
    if days is not None and closed_at is not None and now - closed_at > timedelta(days=days):
        age = (now - closed_at).days
        return FileNewIssue(
            link_to=issue_key,
            reason=f"{issue_key} was closed {age} days ago (more than {days})",
            comment=comment,
        )
    return ReopenIssue(issue_key=issue_key, comment=comment)
