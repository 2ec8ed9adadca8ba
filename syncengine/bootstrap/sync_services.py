"""Two-way sync, built from its values: executor, poll, webhook events, regressions.

The composition root (:mod:`syncengine.bootstrap.build`) places what this returns:
the outbox handlers, the regression fold hook, the webhook event handler and one
JQL poll job per syncing project.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from syncengine.errors import ConfigError
from syncengine.jira.client import JiraClient
from syncengine.store.cursors import CursorRepository
from syncengine.store.groups import GroupRepository
from syncengine.store.impact import ImpactRepository
from syncengine.store.link_repair import LinkRepair
from syncengine.store.link_sync import PULL_KIND, LinkSyncStore
from syncengine.store.links import IssueLinkRepository
from syncengine.store.locks import LinkLocks
from syncengine.store.projects import ProjectRepository
from syncengine.store.work_kinds import LINK_BACKLINK
from syncengine.sync.backlinks import BackLinks
from syncengine.sync.changes import PUSH, GroupChanges
from syncengine.sync.config import ProjectSync
from syncengine.sync.executor import LinkSync
from syncengine.sync.impact import ImpactConfig, ImpactRefresher
from syncengine.sync.manual import ManualResolution
from syncengine.sync.poller import Poller, PollWatch
from syncengine.sync.regressions import REGRESSION, RegressionJira
from syncengine.sync.scheduler import PeriodicJob
from syncengine.sync.tickets import TicketService
from syncengine.sync.webhook_events import WebhookEvents
from syncengine.sync.worker import Handler

__all__ = ["TwoWaySync", "build_sync"]


@dataclass(frozen=True, kw_only=True)
class TwoWaySync:
    """The sync services (tests and the CLI reach them here), and what the root places."""

    store: LinkSyncStore
    executor: LinkSync
    poller: Poller
    webhooks: WebhookEvents
    regressions: RegressionJira
    manual: ManualResolution
    impact: ImpactRefresher
    backlinks: BackLinks
    handlers: Mapping[str, Handler]
    jobs: tuple[PeriodicJob, ...]


def build_sync(
    *,
    store: LinkSyncStore,
    repair: LinkRepair,
    locks: LinkLocks,
    configs: Mapping[str, ProjectSync | ConfigError],
    user_maps: Mapping[str, Mapping[str, str]],
    poll_intervals: Mapping[str, int],
    watches: Mapping[str, PollWatch],
    public_url: str,
    projects: ProjectRepository,
    links: IssueLinkRepository,
    cursors: CursorRepository,
    groups: GroupRepository,
    tickets: TicketService,
    changes: GroupChanges,
    clients: Callable[[str], JiraClient],
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    impact_store: ImpactRepository,
    impact_configs: Mapping[str, ImpactConfig],
    impact_round_seconds: float = 60.0,
) -> TwoWaySync:
    """The sync services; ``poll_intervals`` names the syncing projects and their periods,
    ``impact_configs`` each project's impact fields (one refresh job per mapping project)."""
    executor = LinkSync(
        configs=configs,
        user_maps=user_maps,
        links=links,
        store=store,
        clients=clients,
        projects=projects,
        locks=locks,
        clock=clock,
        wake=wake,
    )
    poller = Poller(
        watches=watches,
        projects=projects,
        links=links,
        cursors=cursors,
        store=store,
        repair=repair,
        executor=executor,
        clock=clock,
        wake=wake,
    )
    impact = ImpactRefresher(
        configs=impact_configs,
        projects=projects,
        store=impact_store,
        clients=clients,
        public_url=public_url,
        clock=clock,
        round_seconds=impact_round_seconds,
    )
    backlinks = BackLinks(
        public_url=public_url,
        links=links,
        groups=groups,
        impact=impact_store,
        store=store,
        slug_of=executor.slug_of,
        clients=clients,
        clock=clock,
    )
    webhooks = WebhookEvents(
        projects=projects,
        links=links,
        store=store,
        executor=executor,
        clock=clock,
        wake=wake,
        impact_only=impact.ours,
    )
    regressions = RegressionJira(
        public_url=public_url,
        links=links,
        groups=groups,
        store=store,
        executor=executor,
        tickets=tickets,
        clock=clock,
    )
    jobs = []
    for slug, seconds in poll_intervals.items():

        async def poll(slug: str = slug) -> None:
            await poller.run(slug)

        async def catch_up(slug: str = slug) -> None:
            # Deliveries Jira gave up on while no process ran are repaired now, not at
            # the next safety-net poll (every webhook_silence_seconds with webhooks live).
            await poller.run(slug, force=True)

        jobs.append(
            PeriodicJob(name=f"sync.poll.{slug}", seconds=seconds, func=poll, at_start=catch_up)
        )
    for slug in impact.slugs:

        async def refresh(slug: str = slug) -> None:
            await impact.run(slug)

        jobs.append(
            PeriodicJob(name=f"impact.refresh.{slug}", seconds=impact_round_seconds, func=refresh)
        )
    return TwoWaySync(
        store=store,
        executor=executor,
        poller=poller,
        webhooks=webhooks,
        regressions=regressions,
        manual=ManualResolution(changes=changes, store=store, executor=executor, clock=clock),
        impact=impact,
        backlinks=backlinks,
        handlers={
            PUSH: executor.push,
            PULL_KIND: executor.pull,
            REGRESSION: regressions,
            LINK_BACKLINK: backlinks,
        },
        jobs=tuple(jobs),
    )
