"""Ticket rules at ingest: queue ``ticket.create`` for groups that became due.

:class:`TicketPlanner` is a fold hook: it runs inside the ingest transaction, so
a group's reports and the outbox item its ticket needs commit together — a crash
can lose neither. A group is due at most once: a group already linked, or with
a create already queued, is never queued again (on PostgreSQL the group rows are
locked by the fold's upsert, so concurrent batches see each other's items).

Filters look at every report of the batch that came at or past the threshold: a
ticket is due when one of them passes every filter, so a batch queues what the same
reports sent one per request would (one check per distinct set of the filtered
attributes' values, not per report). Windowed rules count arrivals per minute in
``group_minute_counts``, kept only for projects that use a window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from syncengine.domain.groups import GroupState
from syncengine.domain.rules import (
    InvalidTicketRules,
    TicketDue,
    TicketRules,
    ticket_due,
    validate_rules,
)
from syncengine.store import ticket_queue
from syncengine.store.batch_fold import GroupFold
from syncengine.store.database import SyncConnection
from syncengine.store.ticket_queue import DueTicket
from syncengine.sync.tickets import CREATE

__all__ = ["TicketPlanner"]


def _epoch_minute(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


class TicketPlanner:
    """Decides, per folded group, whether its ticket is now due, and queues it."""

    def __init__(
        self, rules: Mapping[str, TicketRules], *, wake: Callable[[], None] = lambda: None
    ) -> None:
        """``rules`` by project slug. Raise InvalidTicketRules naming every bad rule."""
        self._rules = dict(rules)
        problems = [
            f"projects.{slug}.rules.{problem}"
            for slug, project_rules in self._rules.items()
            for problem in validate_rules(project_rules)
        ]
        if problems:
            raise InvalidTicketRules(problems)
        self._slugs: dict[int, str] = {}
        self._wake = wake
        self._queued = False

    def after_commit(self) -> None:
        """Wake the outbox worker when the committed batch queued tickets."""
        if self._queued:
            self._queued = False
            self._wake()

    def __call__(self, conn: SyncConnection, groups: list[GroupFold], now: datetime) -> None:
        by_slug: dict[str, list[GroupFold]] = {}
        for group in groups:
            slug = self._slug(conn, group.project_id)
            rules = self._rules.get(slug)
            if rules is not None and rules.enabled:
                by_slug.setdefault(slug, []).append(group)
        if not by_slug:
            return
        # The rules first (states come with the fold's groups, as the hooks before left
        # them), then "taken?" only for the groups they find due: a new group (created
        # by this batch) cannot be linked or queued yet, so it is never looked up.
        due: list[DueTicket] = []
        known: list[int] = []
        for slug, batch in by_slug.items():
            rules = self._rules[slug]
            windowed = self._window_counts(conn, rules, batch, now)
            for group in batch:
                reason = self._due(rules, group, windowed)
                if reason is not None:
                    due.append(
                        DueTicket(
                            project_id=group.project_id,
                            group_id=group.group_id,
                            reason=reason,
                            new_group=group.new,
                        )
                    )
                    if not group.new:
                        known.append(group.group_id)
        if known:
            taken = ticket_queue.taken_groups(conn, known, kind=CREATE)
            due = [item for item in due if item.group_id not in taken]
        if due:
            ticket_queue.queue_tickets(conn, due, kind=CREATE, now=now)
            self._queued = True

    @staticmethod
    def _due(rules: TicketRules, group: GroupFold, windowed: dict[int, int]) -> str | None:
        """Why the group is due, or None: as if its reports had come one at a time.

        Report ``i`` of the batch brought the group's count to ``before + i + 1``, so only
        the reports from the one that reached the threshold on can make it due, and any
        one of those whose attributes pass the filters in the state it met does (a
        regression reopens the group at one report: those before it met it resolved).
        Batched or one per request, the same reports give the same ticket.
        """
        state = GroupState(group.state)
        earlier = GroupState(group.state_before) if group.state_before else state
        in_window = windowed.get(group.group_id)
        counted = group.stored_count if rules.window_minutes is None else (in_window or 0)
        before = counted - group.count
        start = max(0, rules.min_occurrences - before - 1)
        names = [item.attribute for item in rules.filters]
        tried: set[tuple[object, ...]] = set()
        for index in range(start, len(group.reports)):
            report = group.reports[index]
            met = earlier if index < group.state_from else state  # as a hook changed it
            if names:  # the filters read only their attributes: one check per distinct set
                key = (met, *(report.attributes.get(name) for name in names))
                if key in tried:
                    continue
                tried.add(key)
            decision = ticket_due(
                rules,
                state=met,
                has_ticket=False,
                count=group.stored_count,
                count_in_window=in_window,
                attributes=report.attributes,
            )
            if isinstance(decision, TicketDue):
                return decision.reason
            if not names and met is state:
                return None  # nothing else depends on the report
        return None

    def _slug(self, conn: SyncConnection, project_id: int) -> str:
        if project_id not in self._slugs:
            self._slugs.update(ticket_queue.project_slugs(conn))
        return self._slugs.get(project_id, "")

    @staticmethod
    def _window_counts(
        conn: SyncConnection, rules: TicketRules, batch: list[GroupFold], now: datetime
    ) -> dict[int, int]:
        if rules.window_minutes is None:
            return {}
        ticket_queue.add_minute_counts(
            conn, [(g.group_id, g.count) for g in batch], minute=_epoch_minute(now)
        )
        since = _epoch_minute(now - timedelta(minutes=rules.window_minutes)) + 1
        return ticket_queue.window_sums(conn, [g.group_id for g in batch], since=since)
