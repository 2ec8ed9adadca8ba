"""The in-memory sink, and the JSON Lines importer over it."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from syncengine.domain.reports import CrashReport
from syncengine.errors import StoreError
from syncengine.ingest.importer import CHUNK_LINES, Progress, import_files
from syncengine.ingest.limits import ReportContext
from syncengine.ingest.sink import Accepted, InMemorySink

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def report(fingerprint: str, **attributes: str) -> CrashReport:
    return CrashReport(project="p", timestamp=NOW, fingerprint=fingerprint, attributes=attributes)


async def test_in_memory_sink_folds_by_project_and_fingerprint() -> None:
    sink = InMemorySink()
    first = await sink.submit(1, [report("a", os="linux"), report("a", os="mac"), report("b")])
    again = await sink.submit(1, [report("a", os="linux")])
    elsewhere = await sink.submit(2, [report("a")])
    assert first == [
        Accepted(group_id=1, new_group=True),
        Accepted(group_id=1, new_group=True),  # new: it did not exist before this submission
        Accepted(group_id=2, new_group=True),
    ]
    assert again == [Accepted(group_id=1, new_group=False)]
    assert elsewhere == [Accepted(group_id=3, new_group=True)]
    assert sink.group(1).count == 3
    assert sink.group(1).attribute_counts("os") == {"linux": 2, "mac": 1}


def lines(n: int) -> bytes:
    return b"".join(
        json.dumps({"callstack": ["f"], "classifier": f"E{i % 3}"}).encode() + b"\n"
        for i in range(n)
    )


def context() -> ReportContext:
    return ReportContext(project="p", now=NOW)


async def test_importer_reads_many_chunks_and_reports_progress() -> None:
    sink = InMemorySink()
    shown = io.StringIO()
    count = CHUNK_LINES * 3 + 5
    summary = await import_files(
        ["-"],
        sink=sink,
        project_id=7,
        context=context,
        progress=Progress(shown),
        stdin=io.BytesIO(lines(count) + b"[1]\n"),
    )
    assert (summary.read, summary.accepted, summary.rejected) == (count + 1, count, 1)
    assert summary.new_groups == 3
    assert sink.submissions == 4
    assert sum(g.count for g in sink.groups.values()) == count
    (example,) = summary.examples
    assert example.startswith("stdin:6006: report: a report must be a JSON object")
    assert (
        shown.getvalue()
        .splitlines()[-1]
        .startswith(f"{count + 1:,} read  {count:,} accepted  1 rejected")
    )


class FailingSink(InMemorySink):
    async def submit(self, project_id: int, reports: Sequence[CrashReport]) -> list[Accepted]:
        if self.submissions >= 1:
            raise StoreError("disk full")
        return await super().submit(project_id, reports)


async def test_importer_stops_on_a_store_failure() -> None:
    with pytest.raises(StoreError, match="disk full"):
        await import_files(
            ["-"],
            sink=FailingSink(),
            project_id=1,
            context=context,
            stdin=io.BytesIO(lines(CHUNK_LINES * 8)),
        )
