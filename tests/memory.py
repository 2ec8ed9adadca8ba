"""Memory of a process as Linux reports it (/proc/<pid>/status), for tests that bound it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

MiB = 1024 * 1024


def status_bytes(field: str, pid: int | str = "self") -> int:
    """``VmRSS`` (resident now) or ``VmHWM`` (the peak) of process ``pid``, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"/proc/{pid}/status has no {field}")


def reset_peak(pid: int | str = "self") -> None:
    """Start ``VmHWM`` afresh from the current RSS (Linux: ``5`` into ``clear_refs``)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class StreamedBody:
    """A request body of ``total`` bytes sent in ``chunk``-sized pieces, made as it is read.

    Records how much of it the server pulled; :attr:`growth` is how far this
    process's peak RSS rose above its RSS when the body was made (for in-process
    apps, which run in this process).
    """

    def __init__(
        self, total: int, chunk: int = MiB, byte: bytes = b"x", prefix: bytes = b""
    ) -> None:
        self.total = total
        self._piece = byte * chunk
        self._prefix = prefix
        self.pulled = 0
        reset_peak()
        self.start_rss = status_bytes("VmRSS")
        self.peak_rss = self.start_rss

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._prefix:
            self.pulled += len(self._prefix)
            yield self._prefix
        while self.pulled < self.total:
            piece = self._piece[: self.total - self.pulled]
            self.pulled += len(piece)
            self.peak_rss = max(self.peak_rss, status_bytes("VmRSS"))
            yield piece

    @property
    def growth(self) -> int:
        """How far the peak RSS rose above the RSS when the body was made."""
        return max(self.peak_rss, status_bytes("VmHWM")) - self.start_rss
