"""Wires two-way sync into a container: executor, push and regression handlers, webhook
events, the regression fold hook and one JQL poll job per syncing project."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from syncengine.scheduler import PeriodicJob
from syncengine.store.link_sync import LinkSyncStore
from syncengine.sync.changes import PUSH
from syncengine.sync.executor import LinkSync
from syncengine.sync.manual import ManualResolution
from syncengine.sync.poller import Poller
from syncengine.sync.regressions import REGRESSION, RegressionHook, RegressionJira
from syncengine.sync.webhook_events import WebhookEvents

if TYPE_CHECKING:
    from syncengine.bootstrap import Container

__all__ = ["TwoWaySync", "wire_sync"]


@dataclass(frozen=True, kw_only=True)
class TwoWaySync:
    """The sync services of a container (tests and the CLI reach them here)."""

    store: LinkSyncStore
    executor: LinkSync
    poller: Poller
    webhooks: WebhookEvents
    regressions: RegressionJira
    manual: ManualResolution


def wire_sync(container: Container) -> TwoWaySync:
    """Register the sync handlers, hooks and jobs on ``container``; returns the services."""
    settings = container.settings
    store = LinkSyncStore(container.db)
    executor = LinkSync(
        settings=settings,
        links=container.links,
        store=store,
        clients=container.jira.for_project,
        projects=container.projects,
        clock=container.clock,
        wake=container.worker.wake,
    )
    poller = Poller(
        settings=settings,
        projects=container.projects,
        links=container.links,
        cursors=container.cursors,
        store=store,
        executor=executor,
        clock=container.clock,
    )
    webhooks = WebhookEvents(
        projects=container.projects,
        links=container.links,
        store=store,
        executor=executor,
        clock=container.clock,
    )
    regressions = RegressionJira(
        settings=settings,
        links=container.links,
        groups=container.groups,
        store=store,
        executor=executor,
        tickets=container.tickets,
        clock=container.clock,
    )
    container.handlers[PUSH] = executor.push
    container.handlers[REGRESSION] = regressions
    container.event_handlers.append(webhooks)
    # Regressions run first among the fold hooks: a reopened group may be due a ticket.
    container.groups.hooks.insert(0, RegressionHook(settings))
    for slug, project in settings.projects.items():
        if project.sync.mode == "off":
            continue

        async def poll(slug: str = slug) -> None:
            await poller.run(slug)

        container.jobs.append(
            PeriodicJob(
                name=f"sync.poll.{slug}", seconds=project.sync.poll_interval_seconds, func=poll
            )
        )
    manual = ManualResolution(
        changes=container.changes, store=store, executor=executor, clock=container.clock
    )
    return TwoWaySync(
        store=store,
        executor=executor,
        poller=poller,
        webhooks=webhooks,
        regressions=regressions,
        manual=manual,
    )
