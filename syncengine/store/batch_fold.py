"""Pre-aggregation of a batch of reports into one change per group and per count row.

A batch of thousands of reports touches far fewer rows: one per group and one
per (group, attribute, value). Folding it in memory first means each row is
written once per transaction (PostgreSQL refuses a multi-row upsert that touches
one key twice) and the pages a commit dirties are as few as they can be.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from syncengine.domain.reports import CrashReport, Frame
from syncengine.store.tables import to_epoch_ms

__all__ = ["Assigned", "BatchFold", "GroupFold", "frames_from_payload", "sample_payload"]

_DAY_MS = 86_400_000
_VERSION_MAX = 128  # the history's version column


@dataclass(frozen=True, kw_only=True, slots=True)
class Assigned:
    """The group one report was folded into, and whether the report's batch created it."""

    group_id: int
    new_group: bool


@dataclass(slots=True, eq=False)
class GroupFold:
    """Everything one batch adds to one group.

    ``group_id``, ``stored_count``, ``new`` and ``state`` are set once written (``state``
    as the fold's upsert returned it; a hook that changes the state updates it, so the
    hooks after it need not read the row again).
    """

    project_id: int
    fingerprint: str
    first: CrashReport
    count: int = 0
    first_seen: datetime = field(init=False)
    last_seen: datetime = field(init=False)
    first_version: str | None = None
    last_version: str | None = None
    first_version_at: datetime | None = None
    last_version_at: datetime | None = None
    # (attribute name, value) -> [count, last seen in epoch ms]
    attributes: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # (UTC day since the epoch, version or "") -> reports: the batch's share of the history
    days: dict[tuple[int, str], int] = field(default_factory=dict)
    group_id: int = 0
    stored_count: int = 0
    new: bool = False
    state: str = "open"
    # A hook that changed the state mid-batch (a regression reopening the group at its
    # report ``state_from``) leaves the state the earlier reports met in ``state_before``.
    state_before: str | None = None
    state_from: int = 0
    # The submission (index in BatchFold.members) that brought the group's first report:
    # only its reports say "new group" when the batch created the group.
    first_submission: int = 0
    _assigned: Assigned | None = None
    _assigned_later: Assigned | None = None
    # Every report of the batch, in arrival order (references, not copies): fold
    # hooks such as the regression check must see each one, not only the samples.
    reports: list[CrashReport] = field(default_factory=list)
    # The samples the store keeps per group: the first N reports, and a ring of the newest M.
    samples_first: int = 1
    samples_newest: int = 5

    def __post_init__(self) -> None:
        self.first_seen = self.first.timestamp
        self.last_seen = self.first.timestamp

    def head(self) -> list[CrashReport]:
        """The batch's first ``samples_first`` reports of the group (candidate "first" samples)."""
        return self.reports[: self.samples_first]

    def tail(self) -> list[tuple[int, CrashReport]]:
        """The batch's newest ``samples_newest`` reports of the group, with their batch index."""
        if self.samples_newest <= 0:
            return []
        start = max(0, len(self.reports) - self.samples_newest)
        return list(enumerate(self.reports[start:], start))

    def assigned(self, submission: int) -> Assigned:
        """Where the reports of ``submission`` in this group landed (values shared): a group
        the batch created is new to the submission that brought its first report only, as
        if each submission had been stored on its own."""
        if submission == self.first_submission or not self.new:
            if self._assigned is None:
                self._assigned = Assigned(group_id=self.group_id, new_group=self.new)
            return self._assigned
        if self._assigned_later is None:
            self._assigned_later = Assigned(group_id=self.group_id, new_group=False)
        return self._assigned_later


class BatchFold:
    """Reports of many submissions, folded per (project, fingerprint).

    ``members[i][j]`` is the :class:`GroupFold` of report ``j`` of submission ``i``.
    Raises ValueError for a report without a fingerprint (the ingest path derives
    one before it submits).
    """

    def __init__(self, *, samples_first: int, samples_newest: int) -> None:
        self.samples_first = samples_first
        self.samples_newest = samples_newest
        self.groups: dict[tuple[int, str], GroupFold] = {}
        self.members: list[list[GroupFold]] = []
        self.names: set[str] = set()  # attribute names in the batch
        self.reports = 0

    def add(self, project_id: int, reports: Sequence[CrashReport]) -> None:
        """Fold one submission's reports in."""
        groups = self.groups
        members: list[GroupFold] = []
        for report in reports:
            fingerprint = report.fingerprint
            if fingerprint is None:
                raise ValueError("a report reached the store without a fingerprint")
            key = (project_id, fingerprint)
            group = groups.get(key)
            if group is None:
                group = groups[key] = GroupFold(
                    project_id=project_id,
                    fingerprint=fingerprint,
                    first=report,
                    samples_first=self.samples_first,
                    samples_newest=self.samples_newest,
                    first_submission=len(self.members),
                )
            _fold_report(group, report, self.names)
            members.append(group)
        self.members.append(members)
        self.reports += len(reports)

    def sorted_groups(self) -> list[GroupFold]:
        """The groups in key order: concurrent writers lock rows in one order, so never deadlock."""
        return [self.groups[key] for key in sorted(self.groups)]


def _fold_report(group: GroupFold, report: CrashReport, names: set[str]) -> None:
    group.count += 1
    group.reports.append(report)  # the samples are taken from these when written
    ts = report.timestamp
    # Plain comparisons, not min()/max(): this runs once per report.
    if ts < group.first_seen:  # noqa: PLR1730 - see above
        group.first_seen = ts
    if ts > group.last_seen:  # noqa: PLR1730 - see above
        group.last_seen = ts
    version = report.version
    if version is not None:
        if group.first_version_at is None or ts < group.first_version_at:
            group.first_version, group.first_version_at = version, ts
        if group.last_version_at is None or ts >= group.last_version_at:
            group.last_version, group.last_version_at = version, ts
    ms = to_epoch_ms(ts)
    day = (ms // _DAY_MS, version[:_VERSION_MAX] if version else "")
    days = group.days
    days[day] = days.get(day, 0) + 1
    if report.attributes:
        attributes = group.attributes
        for pair in report.attributes.items():
            entry = attributes.get(pair)
            if entry is None:
                attributes[pair] = [1, ms]
                names.add(pair[0])
            else:
                entry[0] += 1
                if ms > entry[1]:  # noqa: PLR1730 - once per attribute of every report
                    entry[1] = ms


def sample_payload(report: CrashReport) -> str:
    """A report as the JSON text a sample row keeps.

    Encoded with orjson, which writes the timestamp (ISO 8601, as ``isoformat``) and the
    frames (dataclasses) itself: a uniform batch keeps a sample of nearly every report,
    and the standard encoder took a fifth of the fold's time. What orjson refuses (an
    integer past 64 bits in ``raw``, say) goes through the standard encoder, same text.
    """
    data: dict[str, Any] = {
        "timestamp": report.timestamp,
        "classifier": report.classifier,
        "message": report.message,
        "version": report.version,
        "attributes": report.attributes,
        "frames": report.frames,
    }
    if report.raw is not None:
        data["raw"] = report.raw
    try:
        return orjson.dumps(data, default=str).decode()
    except (TypeError, orjson.JSONEncodeError):
        data["timestamp"] = report.timestamp.isoformat()
        data["frames"] = [dataclasses.asdict(f) for f in report.frames]
        return json.dumps(data, separators=(",", ":"), default=str)


def frames_from_payload(payload: dict[str, Any]) -> tuple[Frame, ...]:
    """The frames a sample payload holds (unknown keys ignored, bad entries skipped)."""
    frames = []
    for item in payload.get("frames") or ():
        if not isinstance(item, dict):
            continue
        line = item.get("line")
        in_app = item.get("in_app")
        frames.append(
            Frame(
                function=str(item.get("function") or ""),
                module=str(item.get("module") or ""),
                filename=str(item.get("filename") or ""),
                line=line if isinstance(line, int) else None,
                in_app=in_app if isinstance(in_app, bool) else None,
            )
        )
    return tuple(frames)
