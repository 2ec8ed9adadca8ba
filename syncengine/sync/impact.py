"""The impact refresh: linked issues' impact fields kept current, at a bounded Jira cost.

One periodic round per project (:meth:`ImpactRefresher.run`):

1. nothing while the integration is Passive, nor while creates or state sync of the
   project are due in the outbox (they always go first);
2. the round may spend what its :class:`~syncengine.domain.impact.RequestShare` holds:
   ``budget_share`` of the project's Jira request rate, refilled by the clock;
3. linked groups never written, or written more than ``interval`` ago and changed
   since, are asked :func:`~syncengine.domain.impact.refresh_due`; the biggest first;
4. for up to 50 due issues, one search (``reconcileIssues``: current values) reads what
   the impact fields hold now, so a value a person changed after our last write is left
   alone (unless ``overwrite_edits``); then one edit per issue, without notifications,
   its values noted on the link before it is sent (a write whose answer was lost is still
   ours when the next round reads it back, not a person's edit).

What was written, and when, is stored on the link: the next round compares with it,
and the dashboard shows it. The edit's own webhook is not a Jira-side change for the
two-way sync (see :meth:`ImpactRefresher.ours`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from syncengine.domain.createmeta import FieldMeta
from syncengine.domain.impact import (
    ImpactPolicy,
    ImpactProblem,
    Refresh,
    RequestShare,
    Stat,
    check_mapping,
    group_page,
    impact_fields,
    person_edited,
    refresh_due,
)
from syncengine.jira import jql
from syncengine.jira.budget import Priority, request_priority
from syncengine.jira.client import JiraClient
from syncengine.jira.errors import JiraError
from syncengine.jira.search import RECONCILE_LIMIT
from syncengine.logs import bind
from syncengine.store.impact import ImpactCandidate, ImpactRepository
from syncengine.store.projects import ProjectRepository

__all__ = ["ImpactConfig", "ImpactRefresher", "ImpactRound"]

log = logging.getLogger(__name__)

CANDIDATES_PER_ROUND = 500
EDITMETA_MAX_AGE = timedelta(hours=1)


@dataclass(frozen=True, kw_only=True, slots=True)
class ImpactConfig:
    """One project's impact settings, as the refresh needs them."""

    policy: ImpactPolicy
    requests_per_second: float
    cloud: bool
    notify: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class ImpactRound:
    """What one round did: issues written, Jira calls made, and why it stopped early."""

    written: int = 0
    calls: int = 0
    waiting: str = ""
    problems: tuple[str, ...] = ()


@dataclass(kw_only=True)
class _Screen:
    metas: dict[Stat, FieldMeta]
    problems: tuple[ImpactProblem, ...]
    read_at: datetime


@dataclass(kw_only=True)
class _Spend:
    share: RequestShare
    calls: int = 0
    written: int = 0
    problems: list[str] = field(default_factory=list)

    def take(self) -> bool:
        if not self.share.take():
            return False
        self.calls += 1
        return True


class ImpactRefresher:
    """Writes group statistics to linked issues' fields, coalesced and within budget."""

    def __init__(
        self,
        *,
        configs: Mapping[str, ImpactConfig],
        projects: ProjectRepository,
        store: ImpactRepository,
        clients: Callable[[str], JiraClient],
        public_url: str,
        clock: Callable[[], datetime],
        round_seconds: float = 60.0,
    ) -> None:
        self._configs = configs
        self._projects = projects
        self._store = store
        self._clients = clients
        self._public_url = public_url
        self._clock = clock
        self._round_seconds = round_seconds
        self._shares: dict[str, RequestShare] = {}
        self._screens: dict[str, _Screen] = {}

    @property
    def slugs(self) -> tuple[str, ...]:
        """The projects that map impact fields."""
        return tuple(slug for slug, cfg in self._configs.items() if cfg.policy.enabled)

    def ours(self, slug: str, fields: set[str]) -> bool:
        """True when a Jira change touched only ``slug``'s impact fields (ids or names).

        Such a change is our own write (or a person's edit of a value we keep): it holds
        nothing the two-way sync merges, so it is not read back.
        """
        cfg = self._configs.get(slug)
        if cfg is None or not cfg.policy.enabled or not fields:
            return False
        screen = self._screens.get(slug)
        known = {key.casefold() for key in cfg.policy.fields.values()}
        if screen is not None:
            known |= {m.id.casefold() for m in screen.metas.values()}
            known |= {m.name.casefold() for m in screen.metas.values()}
        return all(f.casefold() in known for f in fields)

    def _share(self, slug: str, cfg: ImpactConfig, now: datetime) -> RequestShare:
        share = self._shares.get(slug)
        if share is None:
            rate = cfg.requests_per_second * cfg.policy.budget_share
            share = RequestShare(
                per_second=cfg.requests_per_second,
                share=cfg.policy.budget_share,
                burst=max(2.0, rate * self._round_seconds),
                now=now,
            )
            self._shares[slug] = share
        share.refill(now)
        return share

    async def run(self, slug: str) -> ImpactRound:
        """One round for project ``slug``; Jira errors end it (the next round retries)."""
        cfg = self._configs.get(slug)
        if cfg is None or not cfg.policy.enabled:
            return ImpactRound(waiting="no impact fields are mapped")
        bind(project=slug)
        project = await self._projects.get(slug)
        if project is None or not project.integration_active:
            return ImpactRound(waiting="the integration is Passive")
        now = self._clock()
        spend = _Spend(share=self._share(slug, cfg, now))
        if await self._store.sync_due(project.id, now=now):
            return ImpactRound(waiting="creates and state sync go first")
        candidates = await self._store.candidates(
            project.id,
            written_before=now - cfg.policy.interval,
            limit=CANDIDATES_PER_ROUND,
            url_of=lambda gid: group_page(self._public_url, gid),
        )
        due = [
            c
            for c in candidates
            if isinstance(
                refresh_due(
                    written=c.written.facts if c.written else None,
                    written_at=c.written.at if c.written else None,
                    facts=c.facts,
                    policy=cfg.policy,
                    now=now,
                ),
                Refresh,
            )
        ]
        try:
            with request_priority(Priority.REFRESH):
                written, waiting = await self._spend(slug, cfg, due, spend, now)
        except JiraError as exc:
            # JiraRequestShed too: the site is near its limit, the next round tries again.
            log.warning("impact refresh of %s stopped: %s", slug, exc)
            spend.problems.append(str(exc))
            written, waiting = spend.written, "Jira stopped the round"
        return ImpactRound(
            written=written, calls=spend.calls, waiting=waiting, problems=tuple(spend.problems)
        )

    async def _spend(
        self,
        slug: str,
        cfg: ImpactConfig,
        due: list[ImpactCandidate],
        spend: _Spend,
        now: datetime,
    ) -> tuple[int, str]:
        waiting = ""
        while due:
            if spend.share.tokens < (1 if cfg.policy.overwrite_edits else 2):
                waiting = "the round's share of the Jira budget is spent"
                break
            screen = await self._screen(slug, due[0], spend, now)
            if screen is None or not screen.metas:
                waiting = "no mapped field is on the edit screen"
                break
            batch, due = due[:RECONCILE_LIMIT], due[RECONCILE_LIMIT:]
            await self._write(slug, cfg, screen, batch, spend, now)
        return spend.written, waiting

    async def _screen(
        self, slug: str, sample: ImpactCandidate, spend: _Spend, now: datetime
    ) -> _Screen | None:
        """The mapped fields on the edit screen (read from one issue, kept an hour)."""
        screen = self._screens.get(slug)
        if screen is not None and now - screen.read_at < EDITMETA_MAX_AGE:
            return screen
        if not spend.take():
            return None
        editmeta = await self._clients(slug).editmeta(sample.issue_id)
        metas, problems = check_mapping(self._configs[slug].policy, editmeta)
        for problem in problems:
            log.warning("impact field of %s: %s", slug, problem)
        screen = _Screen(metas=metas, problems=problems, read_at=now)
        self._screens[slug] = screen
        return screen

    def problems(self, slug: str) -> tuple[ImpactProblem, ...]:
        """The mapping problems the last edit-screen read found (doctor shows them too)."""
        screen = self._screens.get(slug)
        return screen.problems if screen is not None else ()

    async def _current(
        self, client: JiraClient, screen: _Screen, batch: list[ImpactCandidate], spend: _Spend
    ) -> dict[str, Mapping[str, Any]] | None:
        written = [c for c in batch if c.written is not None]
        if not written:
            return {}
        if not spend.take():
            return None
        ids = [c.issue_id for c in written]
        fields = [m.id for m in screen.metas.values()]
        found: dict[str, Mapping[str, Any]] = {}
        async for issue in client.search(
            f"id in {jql.ids(ids)}", fields=fields, page_size=len(ids), reconcile=ids
        ):
            found[issue.id] = issue.fields
        return found

    async def _write(  # noqa: PLR0917 - private, one caller
        self,
        slug: str,
        cfg: ImpactConfig,
        screen: _Screen,
        batch: list[ImpactCandidate],
        spend: _Spend,
        now: datetime,
    ) -> None:
        client = self._clients(slug)
        current = (
            {} if cfg.policy.overwrite_edits else await self._current(client, screen, batch, spend)
        )
        if current is None:
            return
        for candidate in batch:
            if not spend.share.tokens >= 1:
                break
            fields, problems = impact_fields(candidate.facts, screen.metas, cloud=cfg.cloud)
            spend.problems += [str(p) for p in problems]
            recorded = dict(fields)
            if candidate.written is not None and not cfg.policy.overwrite_edits:
                edited = person_edited(
                    candidate.written.fields,
                    current.get(candidate.issue_id, {}),
                    candidate.written.sending,
                )
                for fid in edited:
                    # A person's value stays; ours is remembered, so it stays left alone.
                    fields.pop(fid, None)
                    recorded[fid] = candidate.written.fields[fid]
            if fields and not spend.take():
                break
            if fields:
                if candidate.written is not None and not cfg.policy.overwrite_edits:
                    await self._store.note_sending(candidate.link_id, fields)
                try:
                    await client.edit_issue(candidate.issue_id, fields=fields, notify=cfg.notify)
                except JiraError as exc:
                    if exc.transient:
                        raise
                    # This issue refuses (another issue type, a field off its screen): it
                    # waits out the interval instead of blocking the issues behind it.
                    log.warning("impact of %s not written: %s", candidate.issue_key, exc)
                    spend.problems.append(f"{candidate.issue_key}: {exc}")
                    recorded = dict(candidate.written.fields) if candidate.written else {}
                else:
                    spend.written += 1
            await self._store.record(
                candidate.link_id,
                facts=candidate.facts,
                fields=recorded,
                now=now,
                names={m.id: m.name for m in screen.metas.values()},
            )
