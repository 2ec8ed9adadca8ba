"""Where the ingest endpoints hand accepted reports: the :class:`ReportSink` port."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from syncengine.domain.reports import CrashReport

__all__ = ["Accepted", "ReportSink"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Accepted:
    """Where one stored report landed: its group, and whether this report created it."""

    group_id: int
    new_group: bool


class ReportSink(Protocol):
    """Stores reports durably, answering only once they are committed."""

    async def submit(self, project_id: int, reports: Sequence[CrashReport]) -> list[Accepted]:
        """Store ``reports`` of project ``project_id``; one :class:`Accepted` per report, in order.

        Resolves only after the reports' batch has committed; raises
        :class:`~syncengine.errors.StoreError` when it could not be stored (then
        none of ``reports`` is).
        """
        ...
