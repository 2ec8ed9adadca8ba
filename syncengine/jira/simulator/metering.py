"""Every request counted by operation and status (benchmarks report Jira calls), and logged
with its arrival time (tests measure request rates)."""

from __future__ import annotations

from collections import Counter, deque

__all__ = ["NO_ANSWER", "RequestCounter", "RequestLog"]


NO_ANSWER = 499  # the connection was dropped or the caller gave up before an answer


class RequestCounter:
    """Counts of requests keyed by (operation, status); ``NO_ANSWER`` when none was sent."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, int]] = Counter()

    def record(self, operation: str, status: int) -> None:
        self._counts[(operation, status)] += 1

    def total(self, operation: str | None = None, status: int | None = None) -> int:
        """How many requests matched (all of them when no filter is given)."""
        return sum(
            n
            for (op, st), n in self._counts.items()
            if (operation is None or op == operation) and (status is None or st == status)
        )

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{"POST /issue": {"201": 3, "429": 1}, ...}``."""
        shown: dict[str, dict[str, int]] = {}
        for (op, st), n in sorted(self._counts.items()):
            shown.setdefault(op, {})[str(st)] = n
        return shown

    def reset(self) -> None:
        self._counts.clear()


class RequestLog:
    """When each request arrived (the simulator's monotonic clock), newest last, bounded:
    what a harness measures a client's request rate from (``GET /_sim/requests``)."""

    def __init__(self, limit: int = 200_000) -> None:
        self._entries: deque[tuple[float, str, int]] = deque(maxlen=limit)

    def record(self, at: float, operation: str, status: int) -> None:
        self._entries.append((at, operation, status))

    def entries(self, since: float = 0.0) -> list[tuple[float, str, int]]:
        """``(seconds, "METHOD /path", status)`` of the requests that arrived after ``since``."""
        return [entry for entry in self._entries if entry[0] > since]

    def reset(self) -> None:
        self._entries.clear()
