"""Importing native reports from JSON Lines files (``syncengine ingest FILE...``).

Lines are parsed like the native HTTP endpoint parses them and handed to the
sink in chunks, a few chunks in flight at once. A bad line is counted with its
file and line number and the import goes on; a store failure stops it.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TextIO, cast

from syncengine.domain.reports import CrashReport
from syncengine.ingest.assemble import ParsedReport, unreadable
from syncengine.ingest.bodies import decode_json
from syncengine.ingest.limits import ReportContext
from syncengine.ingest.native import native_report
from syncengine.ingest.problems import ReportInvalid
from syncengine.ingest.sink import ReportSink

__all__ = ["ImportSummary", "Progress", "import_files"]

CHUNK_LINES = 2000
IN_FLIGHT = 4
_EXAMPLES = 10


@dataclass(kw_only=True)
class ImportSummary:
    """What an import did: reports accepted, groups created, lines rejected and why."""

    read: int = 0
    accepted: int = 0
    new_group_ids: set[int] = field(default_factory=set)
    truncated: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def new_groups(self) -> int:
        """Groups this import created."""
        return len(self.new_group_ids)

    def reject(self, where: str, exc: ReportInvalid) -> None:
        """Count one bad line; keep the first few as examples."""
        self.rejected += 1
        self.reasons[exc.kind] += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(f"{where}: {exc}")

    def lines(self) -> list[str]:
        """The summary as printed by the command."""
        out = [
            f"accepted {self.accepted} of {self.read} report(s); "
            f"{self.new_groups} new group(s); {self.truncated} name(s)/value(s) truncated",
        ]
        if self.rejected:
            kinds = ", ".join(f"{kind} {count}" for kind, count in self.reasons.most_common())
            out.append(f"rejected {self.rejected}: {kinds}")
            out += [f"  {example}" for example in self.examples]
            if self.rejected > len(self.examples):
                out.append(f"  … and {self.rejected - len(self.examples)} more")
        return out


class Progress:
    """A one-line progress display on a stream (redrawn in place on a terminal)."""

    def __init__(self, stream: TextIO | None = None, *, interval: float = 0.2) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._interval = interval if self._tty else 5.0
        self._started = time.monotonic()
        self._last = self._started

    def update(self, summary: ImportSummary, *, final: bool = False) -> None:
        """Show ``summary`` (at most every ``interval`` seconds unless ``final``)."""
        now = time.monotonic()
        if not final and now - self._last < self._interval:
            return
        self._last = now
        rate = summary.read / max(now - self._started, 1e-9)
        text = (
            f"{summary.read:,} read  {summary.accepted:,} accepted  "
            f"{summary.rejected:,} rejected  {rate:,.0f}/s"
        )
        if self._tty:
            self._stream.write("\r" + text + ("\n" if final else ""))
        else:
            self._stream.write(text + "\n")
        self._stream.flush()


@contextmanager
def _open(source: str, stdin: IO[bytes]) -> Iterator[IO[bytes]]:
    if source == "-":
        yield stdin
        return
    path = Path(source)
    with gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb") as handle:
        yield cast(IO[bytes], handle)


def _read_line(line: bytes, ctx: ReportContext, index: int) -> ParsedReport | ReportInvalid:
    try:
        return native_report(decode_json(line), ctx, len(line))
    except ValueError as exc:
        return ReportInvalid.one("", str(exc), kind="invalid-json")
    except ReportInvalid as exc:
        return exc
    except Exception as exc:  # one line's failure is that line's problem alone
        return unreadable(index, exc)


async def import_files(
    sources: list[str],
    *,
    sink: ReportSink,
    project_id: int,
    context: Callable[[], ReportContext],
    progress: Progress | None = None,
    stdin: IO[bytes] | None = None,
) -> ImportSummary:
    """Parse every line of ``sources`` (``-`` is stdin, ``.gz`` is gunzipped) into ``sink``.

    ``context()`` gives the parsing context (project, limits, time) for each chunk. Raises OSError
    for a file that cannot be read and StoreError when the store fails.
    """
    summary = ImportSummary()
    slots = asyncio.Semaphore(IN_FLIGHT)
    tasks: list[asyncio.Task[None]] = []
    failures: list[BaseException] = []

    async def submit(chunk: list[tuple[CrashReport, int]]) -> None:
        try:
            accepted = await sink.submit(project_id, [report for report, _ in chunk])
        except Exception as exc:  # re-raised by the importer below
            failures.append(exc)
            return
        finally:
            slots.release()
        summary.accepted += len(accepted)
        # Submissions sharing a batch each see the group as new: count each group once.
        summary.new_group_ids.update(a.group_id for a in accepted if a.new_group)
        summary.truncated += sum(cuts for _, cuts in chunk)

    async def flush(chunk: list[tuple[CrashReport, int]]) -> None:
        await slots.acquire()
        if failures:
            raise failures[0]
        tasks.append(asyncio.create_task(submit(chunk)))

    chunk: list[tuple[CrashReport, int]] = []
    ctx = context()
    for source in sources:
        with _open(source, stdin or sys.stdin.buffer) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                summary.read += 1
                where = f"{'stdin' if source == '-' else source}:{number}"
                parsed = _read_line(line, ctx, summary.read - 1)
                if isinstance(parsed, ReportInvalid):
                    summary.reject(where, parsed)
                else:
                    chunk.append((parsed.report, parsed.truncated))
                if len(chunk) >= CHUNK_LINES:
                    await flush(chunk)
                    chunk = []
                    ctx = context()
                if progress is not None:
                    progress.update(summary)
    if chunk:
        await flush(chunk)
    await asyncio.gather(*tasks)
    if failures:
        raise failures[0]
    if progress is not None:
        progress.update(summary, final=True)
    return summary
