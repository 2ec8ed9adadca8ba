"""Jira Cloud's eventually consistent search: JQL sees issues as they were ``lag`` ago.

Atlassian documents that ``/rest/api/3/search/jql`` gives no read-after-write
consistency: a write can take seconds to minutes to show in search, while
``GET /issue/{key}`` always answers the current issue. A search may name up to 50
issue ids in ``reconcileIssues``; those (and only those) are searched as they are
now. With ``lag`` 0 (the default) search is always current and nothing is copied.

With a lag, the index keeps a copy of each issue after every write request
(:meth:`SearchIndex.after_write`) and search picks, per issue, the newest copy at
least ``lag`` seconds old: an issue created within the lag is not found, an issue
edited within it is found by its old values, a deleted one is still found.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable

from syncengine.jira.simulator.clock import Clock
from syncengine.jira.simulator.model import Issue

__all__ = ["RECONCILE_LIMIT", "SearchIndex"]

RECONCILE_LIMIT = 50  # Jira reconciles at most 50 issue ids a search
_EPOCH = float("-inf")


class SearchIndex:
    """The search's view of the issues, ``lag`` seconds behind the writes."""

    def __init__(self, clock: Clock, issues: Callable[[], dict[str, Issue]]) -> None:
        """``issues``: the site's live issue table, by id."""
        self._clock = clock
        self._live = issues
        self._lag = 0.0
        # Per issue id: (monotonic time, copy or None when deleted), oldest first.
        self._versions: dict[str, list[tuple[float, Issue | None]]] = {}
        self._touched: set[str] = set()

    @property
    def lag(self) -> float:
        """Seconds a write takes to show in search."""
        return self._lag

    @property
    def _issues(self) -> dict[str, Issue]:
        return self._live()

    def set_lag(self, seconds: float) -> None:
        """Make search lag writes by ``seconds`` (0: always current). ValueError if negative.

        Issues that exist already count as indexed long ago.
        """
        if seconds < 0:
            raise ValueError("a search lag cannot be negative")
        if seconds and not self._lag:
            self._versions = {iid: [(_EPOCH, copy.deepcopy(i))] for iid, i in self._issues.items()}
        if not seconds:
            self._versions.clear()
        self._lag = float(seconds)

    def touch(self, issue_id: str) -> None:
        """``issue_id`` was read by a request that may write it."""
        if self._lag:
            self._touched.add(issue_id)

    def after_write(self) -> None:
        """A write request ended (answered or not): index what it may have changed."""
        if not self._lag:
            return
        now = self._clock.monotonic()
        changed = self._touched | (self._issues.keys() - self._versions.keys())
        self._touched = set()
        changed |= {iid for iid in self._versions if iid not in self._issues}
        for issue_id in changed:
            live = self._issues.get(issue_id)
            versions = self._versions.setdefault(issue_id, [])
            if live is None and versions and versions[-1][1] is None:
                continue
            versions.append((now, copy.deepcopy(live) if live is not None else None))
            self._prune(versions, now)

    def _prune(self, versions: list[tuple[float, Issue | None]], now: float) -> None:
        cutoff = now - self._lag
        # Keep the newest version the search can already see, and every later one.
        visible = [n for n, (at, _) in enumerate(versions) if at <= cutoff]
        if len(visible) > 1:
            del versions[: visible[-1]]

    def searchable(self, reconcile: Collection[str] = ()) -> Iterable[Issue]:
        """The issues as search sees them now; ``reconcile`` ids as they are."""
        if not self._lag:
            yield from self._issues.values()
            return
        now = self._clock.monotonic()
        for issue_id in self._issues.keys() - self._versions.keys():
            # Made outside any request (a test's set-up): indexed from now on.
            self._versions[issue_id] = [(now, copy.deepcopy(self._issues[issue_id]))]
        cutoff = now - self._lag
        for issue_id in reconcile:
            live = self._issues.get(issue_id)
            if live is not None:
                yield live
        for issue_id, versions in self._versions.items():
            if issue_id in reconcile:
                continue
            seen = None
            for at, version in versions:
                if at > cutoff:
                    break
                seen = version
            if seen is not None:
                yield seen
