"""Prometheus metrics of one process, in a registry of its own (not the global one).

With ``serve --workers N`` each worker counts into files in one folder shared by all
of them (prometheus_client's multiprocess mode, see :func:`count_across_processes`), and
a scrape, whichever worker takes it, answers every worker's counters and histograms
summed, those of workers that died included, so that no counter goes back. The gauges
are read from the database at each scrape, so the worker scraped answers them alone.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

__all__ = ["Metrics", "count_across_processes"]

_SHARED_KINDS = ("counter_", "histogram_")  # the per-process files a scrape sums


def count_across_processes(folder: Path) -> None:
    """Make every metric this process creates from now on count into ``folder``.

    Call it in each forked worker before its :class:`Metrics` is made, then make that
    with ``shared=folder``. prometheus_client takes the folder from the environment
    and picks its kind of value once per process, hence the two globals set here.
    """
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    prometheus_values.ValueClass = prometheus_values.MultiProcessValue()  # type: ignore[no-untyped-call]


class _Summed:
    """A collector of the counters and histograms of every process counting in a folder."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    def collect(self) -> Iterable[Metric]:
        files = [
            path
            for path in glob.glob(os.path.join(self._folder, "*.db"))
            if os.path.basename(path).startswith(_SHARED_KINDS)
        ]
        merged: Iterable[Metric] = MultiProcessCollector.merge(files, accumulate=True)  # type: ignore[no-untyped-call]
        return merged


class Metrics:
    """The counters, gauges and histograms syncengine exports at ``GET /metrics``.

    ``shared``: the folder this process counts into with the other workers of one
    server (after :func:`count_across_processes`); None, a process of its own.
    """

    def __init__(self, shared: Path | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._shared = shared
        # Shared: the counters and histograms are rendered from the folder (every
        # worker's), not from this registry, which keeps only this process's gauges.
        counted = CollectorRegistry(auto_describe=True) if shared is not None else self.registry
        r = self.registry
        self.reports_ingested = Counter(
            "syncengine_reports_ingested", "Crash reports accepted", ["project"], registry=counted
        )
        self.reports_rejected = Counter(
            "syncengine_reports_rejected",
            "Crash reports refused, by reason",
            ["reason"],
            registry=counted,
        )
        self.jira_checks = Gauge(
            "syncengine_jira_check_ok",
            "The last periodic check of a project's Jira connection: 1 passed, 0 failed",
            ["project", "check"],
            registry=r,
        )
        self.groups = Gauge("syncengine_groups", "Error groups, by state", ["state"], registry=r)
        self.outbox_depth = Gauge(
            "syncengine_outbox_items", "Unfinished outbox items, by state", ["state"], registry=r
        )
        self.outbox_oldest_age = Gauge(
            "syncengine_outbox_oldest_age_seconds",
            "Age of the oldest unfinished outbox item",
            ["state"],
            registry=r,
        )
        self.http_requests = Counter(
            "syncengine_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=counted,
        )
        self.http_latency = Histogram(
            "syncengine_http_request_seconds",
            "HTTP request duration, by method and route template",
            ["method", "route"],
            registry=counted,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.jira_calls = Counter(
            "syncengine_jira_calls",
            "Jira REST calls, by operation and status",
            ["operation", "status"],
            registry=counted,
        )
        self.jira_latency = Histogram(
            "syncengine_jira_call_seconds",
            "Jira REST call latency",
            ["operation"],
            registry=counted,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.jira_retries = Counter(
            "syncengine_jira_retries",
            "Jira calls retried after a transient error",
            registry=counted,
        )
        self.sync_lag = Gauge(
            "syncengine_sync_lag_seconds",
            "Time since the last successful Jira pull",
            ["project"],
            registry=r,
        )
        self.loop_crashes = Counter(
            "syncengine_background_crashes",
            "Unexpected exceptions in background loops (the outbox worker, periodic jobs), "
            "each logged with its traceback; the loop went on or restarted",
            ["loop"],
            registry=counted,
        )
        # For /readyz: when each project's Jira last answered well, and the last failure.
        self.last_jira_ok: dict[str, datetime] = {}
        self.last_jira_error: dict[str, tuple[datetime, str]] = {}
        self.regressions = Gauge(
            "syncengine_group_regressions",
            "Regressions seen (groups reopened by a crash past their fix), summed per project",
            ["project"],
            registry=r,
        )

    def jira_observer(
        self, project: str, clock: Callable[[], datetime]
    ) -> Callable[[str, str, int | None, float, int], None]:
        """A JiraSession observer for one project's client (counts, and health for readyz)."""

        def observe(
            method: str, path: str, status: int | None, seconds: float, attempt: int
        ) -> None:
            self.observe_jira(method, path, status, seconds, attempt)
            if status is not None and status < 400:
                self.last_jira_ok[project] = clock()
            else:
                self.last_jira_error[project] = (
                    clock(),
                    f"{method} {path}: {status or 'no answer'}",
                )

        return observe

    def observe_jira(
        self, method: str, path: str, status: int | None, seconds: float, attempt: int
    ) -> None:
        """Count one Jira call; ``status`` None is a transport error."""
        operation = f"{method} {path}"
        self.jira_calls.labels(operation, str(status) if status is not None else "error").inc()
        self.jira_latency.labels(operation).observe(seconds)
        if attempt > 1:
            self.jira_retries.inc()

    def set_outbox(self, depth: dict[str, tuple[int, datetime | None]], now: datetime) -> None:
        """Refresh the outbox gauges from :meth:`OutboxRepository.depth`."""
        for state in ("pending", "running", "dead"):
            count, oldest = depth.get(state, (0, None))
            self.outbox_depth.labels(state).set(count)
            age = (now - oldest).total_seconds() if oldest is not None else 0.0
            self.outbox_oldest_age.labels(state).set(max(age, 0.0))

    def count_crash(self, loop: str) -> None:
        """One unexpected exception in background loop ``loop``."""
        self.loop_crashes.labels(loop).inc()

    def clear(self, gauge: Gauge) -> None:
        """Drop every labelled value of ``gauge`` (refilled from the store at each scrape)."""
        with warnings.catch_warnings():
            # Counting into shared files, prometheus_client warns that a clear does not
            # reach them; the gauges are this process's own and never read from there.
            warnings.simplefilter("ignore", UserWarning)
            gauge.clear()

    def render(self) -> bytes:
        """The exposition text: with ``shared``, every worker's counters summed."""
        if self._shared is None:
            return generate_latest(self.registry)
        summed = CollectorRegistry(auto_describe=False)
        summed.register(_Summed(self._shared))
        return generate_latest(self.registry) + generate_latest(summed)
