"""Where parsed crash reports go: the :class:`ReportSink` port and an in-memory sink.

The HTTP endpoints and the CLI hand every report they accept to a sink and answer
only when it returns, so a 2xx is given only for committed reports. The real sink
is the batching writer (``syncengine.ingest.writer``); :class:`InMemorySink` is the
shipped fake, for tests and for trying the wire formats without a database.

Reports reach a sink with their fingerprint set (see
``syncengine.domain.fingerprint.fingerprint_of``, which ``ingest.assemble`` calls).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from syncengine.domain.fingerprint import default_fingerprint
from syncengine.domain.reports import CrashReport

__all__ = ["Accepted", "InMemorySink", "ReportSink", "StoredGroup"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Accepted:
    """What became of one accepted report: its group and whether that group is new."""

    group_id: int
    new_group: bool  # the group did not exist before this submission


class ReportSink(Protocol):
    """Stores crash reports, folding them into error groups."""

    async def submit(self, project_id: int, reports: Sequence[CrashReport]) -> list[Accepted]:
        """Store ``reports`` of project ``project_id``; one :class:`Accepted` per report, in order.

        Resolves only after the reports' batch has committed. Raises
        :class:`~syncengine.errors.StoreError` when it could not be stored (then
        none of ``reports`` is stored).
        """
        ...

    async def aclose(self) -> None:
        """Store everything already accepted, then stop taking reports."""
        ...


@dataclass(kw_only=True)
class StoredGroup:
    """A group as :class:`InMemorySink` keeps it."""

    id: int
    project_id: int
    fingerprint: str
    count: int = 0
    reports: list[CrashReport] = field(default_factory=list)

    def attribute_counts(self, name: str) -> dict[str, int]:
        """How often each value of attribute ``name`` was seen in this group."""
        counts: dict[str, int] = {}
        for report in self.reports:
            if name in report.attributes:
                value = report.attributes[name]
                counts[value] = counts.get(value, 0) + 1
        return counts


class InMemorySink:
    """A :class:`ReportSink` that folds reports by fingerprint in memory (tests, demos)."""

    def __init__(self) -> None:
        self.groups: dict[tuple[int, str], StoredGroup] = {}
        self.submissions = 0

    async def submit(self, project_id: int, reports: Sequence[CrashReport]) -> list[Accepted]:
        """Fold ``reports`` into groups; never fails."""
        self.submissions += 1
        accepted: list[Accepted] = []
        created: set[int] = set()
        for report in reports:
            fingerprint = report.fingerprint or default_fingerprint(report)
            key = (project_id, fingerprint)
            group = self.groups.get(key)
            if group is None:
                group = StoredGroup(
                    id=len(self.groups) + 1, project_id=project_id, fingerprint=fingerprint
                )
                self.groups[key] = group
                created.add(group.id)
            group.count += 1
            group.reports.append(report)
            accepted.append(Accepted(group_id=group.id, new_group=group.id in created))
        return accepted

    async def aclose(self) -> None:
        """Nothing to flush: every report is folded when submitted."""

    def group(self, group_id: int) -> StoredGroup:
        """The group with this id; raises KeyError when there is none."""
        for group in self.groups.values():
            if group.id == group_id:
                return group
        raise KeyError(group_id)
