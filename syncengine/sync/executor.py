"""The link-sync executor: one merge of a link, then the I/O its decisions call for.

Both directions go through :meth:`LinkSync.sync`: the ``link.push`` outbox
handler (engine → Jira, :meth:`LinkSync.push`) and the inbound paths (webhooks and
the JQL poll, :meth:`LinkSync.sync_issue`). Each run reads the group, the link's
snapshot and the unconfirmed pushes, merges (:func:`syncengine.domain.merge.merge_link`)
and then:

1. writes, in one transaction, what the engine takes from Jira (state; assignee;
   fix versions → the resolved-until rule), the conflicts to the audit log, the
   snapshot the merge says to keep now, and the issue's new key after a move;
2. pushes to Jira — only when run for a ``link.push`` item, which records each
   value before sending it and confirms it with the snapshot afterwards; an
   inbound run that finds something owed to Jira queues a ``link.push`` instead.

Runs of one link are serialised by the link's lock (:class:`~syncengine.store.locks.LinkLocks`:
in this process, and across processes on PostgreSQL), and Jira's issue is read
UNDER that lock, so a read never predates another run's write. Jira's side is
merged only when it is not older than what the link has seen (the issue's
``updated`` against the link's ``jira_updated_at``; an issue a poll read before
the lock was taken must be newer), and an older ``updated`` is never stored. A
decision is also written only while the link still holds the snapshot it was
made on (otherwise the run merges again). Problems a user must act on
(no transition leads to the state, an unmapped assignee, a status without an
engine state, an unreadable fix version) are shown on the group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from syncengine.domain.createmeta import field_meta
from syncengine.domain.groups import GroupState
from syncengine.domain.merge import (
    ChangeTimes,
    LinkMerge,
    LinkValues,
    SyncMode,
    merge_link,
)
from syncengine.domain.statuses import (
    AlreadyThere,
    JiraStatus,
    NoTransition,
    Transition,
    choose_transition,
    state_for,
)
from syncengine.domain.transition_screen import fill_screen
from syncengine.errors import ConfigError, JiraError
from syncengine.jira.client import JiraClient
from syncengine.jira.errors import JiraBadRequest
from syncengine.jira.models import JiraIssue, JiraTransition
from syncengine.logs import bind, bound
from syncengine.store.link_sync import AuditEntry, LinkSyncStore, SyncWrite
from syncengine.store.links import IssueLinkRepository, LinkRecord, Snapshot
from syncengine.store.locks import LinkLocks
from syncengine.store.outbox import OutboxWork
from syncengine.store.projects import ProjectRepository
from syncengine.sync.applying import ACTOR, conflict_entry, engine_changes
from syncengine.sync.config import ProjectSync
from syncengine.sync.link_values import (
    ISSUE_FIELDS,
    JiraValues,
    available_transitions,
    domain_status,
    in_flight,
    jira_values,
    snapshot_of,
    snapshot_values,
)
from syncengine.sync.push_plan import (
    MovedMeanwhile,
    NoTransitionError,
    PushContext,
    pushes_of,
    reachable,
)
from syncengine.sync.users import UserDirectory

__all__ = ["LinkSync", "NoTransitionError"]  # the error lives in sync.push_plan

_ATTEMPTS = 3
_MAX_STEPS = 4  # transitions chained to reach one state


class _Retry:
    """The group changed while a decision was being written: merge again."""


class _Stale:
    """Jira's issue is older than what the link has seen: read again, or skip it."""


class LinkSync:
    """Merges links and carries out the decisions (see the module docstring)."""

    def __init__(
        self,
        *,
        configs: Mapping[str, ProjectSync | ConfigError],
        user_maps: Mapping[str, Mapping[str, str]],
        links: IssueLinkRepository,
        store: LinkSyncStore,
        clients: Callable[[str], JiraClient],
        projects: ProjectRepository,
        locks: LinkLocks,
        clock: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._configs = dict(configs)
        self._user_maps = dict(user_maps)
        self._links = links
        self._store = store
        self._clients = clients
        self._projects = projects
        self._slugs: dict[int, str] = {}
        self._clock = clock
        self._wake = wake
        self._users: dict[str, UserDirectory] = {}
        self._locks = locks

    async def slug_of(self, project_id: int) -> str:
        """The slug of a stored project (KeyError when there is none)."""
        if project_id not in self._slugs:
            self._slugs.update({p.id: p.slug for p in await self._projects.all()})
        return self._slugs[project_id]

    def config(self, slug: str) -> ProjectSync:
        """The sync configuration of project ``slug`` (ConfigError when unusable)."""
        found = self._configs[slug]
        if isinstance(found, ConfigError):
            raise found
        return found

    def users(self, slug: str) -> UserDirectory:
        """The user directory of project ``slug`` (its cache lives as long as the process)."""
        found = self._users.get(slug)
        if found is None:
            found = UserDirectory(slug, self._user_maps[slug])
            self._users[slug] = found
        return found

    @property
    def locks(self) -> LinkLocks:
        """The per-link locks every run of a link holds."""
        return self._locks

    def client(self, slug: str) -> JiraClient:
        """The Jira client of project ``slug``."""
        return self._clients(slug)

    async def read_issue(self, slug: str, issue: str) -> JiraIssue:
        """Jira's current issue (by id or key), with only the fields a sync reads."""
        return await self._clients(slug).get_issue(issue, fields=ISSUE_FIELDS)

    async def push(self, work: OutboxWork) -> None:
        """The ``link.push`` outbox handler: engine changes to Jira (one-way and two-way).

        Raises JiraError (the worker retries transient ones; permanent ones are
        shown on the group and leave the item dead until retried).
        """
        if work.group_id is None:
            return
        link = await self._links.for_group(work.group_id)
        if link is None:
            return  # unlinked since (the issue was deleted): nothing is owed
        slug = await self.slug_of(link.project_id)
        bind(project=slug)
        if self.config(slug).mode is SyncMode.OFF:
            return
        await self.sync(slug, link, item_id=work.id)

    async def pull(self, work: OutboxWork) -> None:
        """The ``link.pull`` outbox handler: merge Jira's current issue into its group.

        Queued for a webhook delivery that could not be applied at once (the link was
        busy, or Jira failed). Raises JiraError or StoreError (the worker retries).
        """
        if work.group_id is None:
            return
        link = await self._links.for_group(work.group_id)
        if link is None:
            return
        slug = await self.slug_of(link.project_id)
        if self.config(slug).mode is SyncMode.OFF:
            return
        await self.sync(slug, link)

    async def sync_issue(self, slug: str, project_id: int, issue: JiraIssue) -> LinkMerge | None:
        """Merge a poll's ``issue`` into its linked group; None when it is not linked."""
        link = await self._links.for_issue(project_id, issue.id)
        if link is None:
            return None
        return await self.sync(slug, link, issue)

    async def sync(
        self,
        slug: str,
        link: LinkRecord,
        issue: JiraIssue | None = None,
        *,
        item_id: int | None = None,
        wait: float | None = None,
    ) -> LinkMerge | None:
        """One merge of ``link`` and its execution, under the link's lock.

        ``issue``: Jira's issue as a poll read it before the lock was taken; it is
        merged only if newer than what the link has seen by then (else skipped).
        None: the issue is read under the lock. ``item_id``: the ``link.push``
        item being run (pushes happen only then). ``wait``: seconds to wait for
        the lock (None: the locks' default). Returns the merge, or None when
        the link or group is gone or the issue was not newer.

        Raises JiraError, StoreError (LinkBusy: the lock was not had in time).
        """
        with bound(project=slug, group_id=link.group_id):  # push, webhook, poll alike
            async with self._locks.hold(link.id, wait=wait):
                for _ in range(_ATTEMPTS):
                    current = issue or await self.read_issue(slug, link.issue_id)
                    outcome = await self._sync_once(
                        slug, link, current, item_id, newer_only=issue is not None
                    )
                    if isinstance(outcome, _Stale):
                        if issue is not None:
                            return None  # the link has seen this version or a newer one
                        continue  # a read older than a write we saw: read again
                    if not isinstance(outcome, _Retry):
                        return outcome
                return None  # the engine keeps changing the group; its own push merges again

    async def _sync_once(
        self,
        slug: str,
        stale: LinkRecord,
        issue: JiraIssue,
        item_id: int | None,
        *,
        newer_only: bool,
    ) -> LinkMerge | _Retry | _Stale | None:
        link = await self._links.for_group(stale.group_id)
        inputs = await self._store.merge_inputs(stale.group_id, exclude=item_id)
        if link is None or link.id != stale.id or inputs is None:
            return None
        seen, updated = link.jira_updated_at, issue.updated
        if (
            seen is not None
            and updated is not None
            and (updated < seen or (newer_only and updated == seen))
        ):
            return _Stale()
        group, changed = inputs.group, inputs.changed_at
        cfg = self.config(slug)
        base = snapshot_values(link)
        at = issue.status.id if issue.status is not None else None
        flying = in_flight(
            inputs.pushing, inputs.own, inputs.steps.get(at) if at is not None else None
        )
        jira = await self._jira_side(
            slug,
            issue,
            link,
            base,
            # Whom Jira's assignee may be, when Cloud shows only an account id.
            (group.assignee, base.assignee if base is not None else None, *flying.assignee),
        )
        engine = LinkValues(
            state=GroupState(group.state),
            assignee=group.assignee,
            # The engine never edits fix versions: its value is the agreed one.
            fix_versions=base.fix_versions if base is not None else jira.values.fix_versions,
        )
        merged = merge_link(
            snapshot=base,
            engine=engine,
            jira=jira.values,
            mode=cfg.mode,
            policy=cfg.policy,
            in_flight=flying,
            engine_times=ChangeTimes(state=changed.get("state"), assignee=changed.get("assignee")),
            jira_times=ChangeTimes(
                state=issue.updated, assignee=issue.updated, fix_versions=issue.updated
            ),
        )
        now = self._clock()
        updates, audits, problems = engine_changes(cfg, group, merged, jira, now)
        audits += [conflict_entry(name, c, issue.key) for name, c in merged.conflicts.items()]
        pushes, stuck = reachable(pushes_of(merged), inputs.unreachable, issue)
        problems += stuck
        moved = issue.key if issue.key and issue.key != link.issue_key else None
        if moved is not None:
            audits.append(
                AuditEntry(
                    actor=ACTOR,
                    action="link.moved",
                    detail={"issue_id": link.issue_id, "from": link.issue_key, "to": moved},
                )
            )
        snapshot = snapshot_of(merged.snapshot_now, jira.status) if merged.snapshot_now else None
        write = SyncWrite(
            link_id=link.id,
            group_id=group.id,
            project_id=group.project_id,
            now=now,
            snapshot=snapshot,
            issue_key=moved,
            jira_updated_at=issue.updated,
            group=updates,
            expect={"state": group.state, "assignee": group.assignee} if updates else {},
            audits=tuple(audits),
            push_fields=tuple(name for name, _ in pushes) if item_id is None else (),
            expect_snapshot=link.snapshot,
        )
        if not await self._store.commit(write):
            return _Retry()
        if write.push_fields:
            self._wake()
        problems += jira.problems
        refused: JiraError | None = None
        if item_id is not None and snapshot is not None:
            ctx = PushContext(
                cfg=cfg,
                client=self._clients(slug),
                link=link,
                group=group,
                issue=issue,
                item_id=item_id,
            )
            for name, value in pushes:
                # Each field on its own: a state no path leads to must not keep the
                # assignee from Jira. A passing failure retries the whole item.
                try:
                    snapshot = await self._push_field(ctx, name, value, snapshot)
                except JiraError as exc:
                    if exc.transient:
                        raise
                    refused = refused or exc
                    problems.append(exc.user_message())
        if problems:
            await self._store.set_error(group.id, "; ".join(problems), now=now)
        elif item_id is not None and group.last_sync_error:
            await self._store.set_error(group.id, None, now=now)
        if refused is not None:
            raise refused
        return merged

    async def _jira_side(
        self,
        slug: str,
        issue: JiraIssue,
        link: LinkRecord,
        base: LinkValues | None,
        people: tuple[str | None, ...],
    ) -> JiraValues:
        """Jira's values in engine terms (``base``: the link's last-synced values, the
        fallback); an account-id-only assignee named as one of ``people`` when it is that
        person (:meth:`UserDirectory.known_as`)."""
        users = self.users(slug)
        jira = jira_values(
            issue,
            mapping=self.config(slug).mapping,
            users=users,
            fallback=base,
            fallback_status=link.snapshot.status,
        )
        named = await users.known_as(self._clients(slug), jira.values.assignee, people)
        if named == jira.values.assignee:
            return jira
        return replace(jira, values=replace(jira.values, assignee=named))

    # -- engine → Jira --------------------------------------------------------------------

    async def _push_field(
        self, ctx: PushContext, name: str, value: Any, snapshot: Snapshot
    ) -> Snapshot:
        try:
            if name == "state":
                return await self._push_state(ctx, value, snapshot)
            return await self._push_assignee(ctx, value, snapshot)
        except JiraError as exc:
            if isinstance(exc, NoTransitionError) and name == "state":
                # Remembered on the (soon dead) item: merges of the link do not queue
                # this state again while the issue stays where no path leads from.
                stuck = exc.at_status or (ctx.issue.status.id if ctx.issue.status else None)
                mark = {"state": value.value, "status": stuck, "error": exc.user_message()}
                await self._store.note(ctx.item_id, "unreachable", mark)
            if not exc.transient:
                await self._store.set_error(ctx.group.id, exc.user_message(), now=self._clock())
            if not exc.transient:
                # Jira refused the value: it is no longer on its way. A passing failure
                # keeps the record: the request may have landed though no answer came
                # (every try of an idempotent PUT can commit and lose its answer), and
                # a paused worker's unsent request must not clear the new holder's.
                await self._confirm(ctx, name, None, ())
            raise

    async def _push_state(
        self, ctx: PushContext, target: GroupState, snapshot: Snapshot
    ) -> Snapshot:
        """Bring the issue to ``target``, chaining transitions (at most ``_MAX_STEPS``).

        A transition Jira refuses (someone changed the issue or the workflow a moment
        before) is chosen again from a fresh read, once per step; if the issue itself
        moved meanwhile, the push is retried later so the merge sees that change.
        """
        issue = ctx.issue
        if issue.status is None:
            raise NoTransitionError(f"{issue.key} has no status Jira would show; cannot move it")
        current, resolution = domain_status(issue.status), issue.resolution
        visited: set[str] = set()
        for _ in range(_MAX_STEPS):
            offered = await ctx.client.transitions(ctx.link.issue_id)
            choice = self._choose(ctx, target, current, resolution, offered, visited)
            if isinstance(choice, AlreadyThere):
                confirmed = replace(snapshot, state=target.value, status=current.name)
                await self._confirm(ctx, "state", confirmed, ())
                return confirmed
            try:
                await self._transition(ctx, target, offered, choice, resolution)
            except JiraBadRequest:
                fresh = await self.read_issue(ctx.cfg.slug, ctx.link.issue_id)
                if fresh.status is None or fresh.status.id != current.id:
                    raise MovedMeanwhile(
                        f"{issue.key} changed in Jira while it was being moved; merging again"
                    ) from None
                offered = await ctx.client.transitions(ctx.link.issue_id)
                choice = self._choose(ctx, target, current, resolution, offered, visited)
                if isinstance(choice, AlreadyThere):
                    continue
                await self._transition(ctx, target, offered, choice, resolution)
            visited.add(current.id)
            lands = choice.lands or current
            current, resolution = lands, choice.resolution if choice.needs_resolution else None
            if not choice.step:
                confirmed = replace(snapshot, state=target.value, status=choice.to_status)
                await self._confirm(ctx, "state", confirmed, ())
                return confirmed
            # Our own step: the snapshot follows it, so its echo is not taken for a change.
            reached = state_for(lands, resolution, ctx.cfg.mapping).state
            snapshot = replace(
                snapshot, state=reached.value if reached else snapshot.state, status=lands.name
            )
            await self._store.commit(
                SyncWrite(
                    link_id=ctx.link.id,
                    group_id=ctx.group.id,
                    project_id=ctx.group.project_id,
                    now=self._clock(),
                    snapshot=snapshot,
                )
            )
        raise NoTransitionError(
            f"{issue.key} cannot be moved to {target.value}: no path of {_MAX_STEPS} "
            f"transitions from {domain_status(issue.status).describe()} leads there",
            fix=f"adjust projects.{ctx.cfg.slug}.sync.state_transitions or the workflow",
            at_status=current.id,
        )

    @staticmethod
    def _choose(  # noqa: PLR0917 - private; the step's facts, in the caller's order
        ctx: PushContext,
        target: GroupState,
        current: JiraStatus,
        resolution: str | None,
        offered: tuple[JiraTransition, ...],
        visited: set[str],
    ) -> AlreadyThere | Transition:
        choice = choose_transition(
            target,
            current=current,
            current_resolution=resolution,
            available=available_transitions(offered),
            mapping=ctx.cfg.mapping,
            visited=frozenset(visited),
        )
        if isinstance(choice, NoTransition):
            raise NoTransitionError(
                f"{ctx.issue.key} cannot be moved to {target.value}: {choice.reason}",
                fix=f"adjust projects.{ctx.cfg.slug}.sync.state_transitions or the workflow",
                at_status=current.id,
            )
        return choice

    async def _transition(
        self,
        ctx: PushContext,
        target: GroupState,
        offered: tuple[JiraTransition, ...],
        choice: Transition,
        resolution: str | None,
    ) -> None:
        screen = await self._screen_values(ctx, offered, choice.id, choice.name, target)
        await self._store.mark_pushing(ctx.item_id, "state", target.value)
        if choice.step and choice.lands is not None:
            # Where the step lands is ours: if its answer is lost, the retry's merge must
            # not take the issue there for a person's change (and apply it, or conflict).
            there = choice.resolution if choice.needs_resolution else resolution
            reached = state_for(choice.lands, there, ctx.cfg.mapping).state
            await self._store.mark_step(
                ctx.item_id, choice.lands.id, reached.value if reached else None
            )
        fields = dict(screen)
        if choice.needs_resolution and choice.resolution:
            fields["resolution"] = {"name": choice.resolution}
        await ctx.client.transition_issue(ctx.link.issue_id, choice.id, fields=fields or None)
        detail = {
            "issue": ctx.issue.key,
            "transition": choice.name,
            "to": choice.to_status,
            "resolution": choice.resolution,
            "via": choice.via,
        }
        await self._store.commit(
            SyncWrite(
                link_id=ctx.link.id,
                group_id=ctx.group.id,
                project_id=ctx.group.project_id,
                now=self._clock(),
                audits=(AuditEntry(actor=ACTOR, action="jira.transition", detail=detail),),
            )
        )

    async def _screen_values(
        self,
        ctx: PushContext,
        offered: tuple[JiraTransition, ...],
        transition_id: str,
        name: str,
        target: GroupState,
    ) -> dict[str, Any]:
        """What the transition's screen asks for besides the resolution, from configuration.

        Raises:
            NoTransitionError: a required field has no configured value (or it does not
                fit): Jira would refuse the transition, so it is not sent.
        """
        chosen = next((t for t in offered if t.id == transition_id), None)
        screen = [
            field_meta(key, raw)
            for key, raw in (chosen.fields if chosen is not None else {}).items()
            if key != "resolution" and isinstance(raw, dict)
        ]
        filled = fill_screen(
            screen,
            ctx.cfg.transition_fields,
            cloud=await ctx.client.flavour() == "cloud",
            api_version=ctx.client.config.api_version,
        )
        if filled.ready:
            return dict(filled.values)
        needs = [f"{m.name} ({m.id})" for m in filled.missing]
        example = filled.missing[0].name if filled.missing else "Field name"
        raise NoTransitionError(
            f"{ctx.issue.key} cannot be moved to {target.value}: the {name!r} transition "
            + "; ".join(
                ([f"requires {', '.join(needs)}"] if needs else []) + list(filled.problems)
            ),
            fix=f'set projects.{ctx.cfg.slug}.sync.transition_fields."{example}" = "…" '
            "(a field id or name and its value)",
        )

    async def _push_assignee(
        self, ctx: PushContext, value: str | None, snapshot: Snapshot
    ) -> Snapshot:
        target = await self.users(ctx.cfg.slug).jira_id(ctx.client, value)
        confirmed = replace(snapshot, assignee=value)
        issue = ctx.issue
        current = issue.assignee.identifier if issue.assignee is not None else None
        if current == target:
            await self._confirm(ctx, "assignee", confirmed, ())
            return confirmed
        await self._store.mark_pushing(ctx.item_id, "assignee", value)
        await ctx.client.assign_issue(ctx.link.issue_id, target)
        detail = {"issue": issue.key, "assignee": value, "jira_user": target}
        entry = AuditEntry(actor=ACTOR, action="jira.assign", detail=detail)
        await self._confirm(ctx, "assignee", confirmed, (entry,))
        return confirmed

    async def _confirm(
        self,
        ctx: PushContext,
        name: str,
        snapshot: Snapshot | None,
        audits: tuple[AuditEntry, ...],
    ) -> None:
        await self._store.commit(
            SyncWrite(
                link_id=ctx.link.id,
                group_id=ctx.group.id,
                project_id=ctx.group.project_id,
                now=self._clock(),
                snapshot=snapshot,
                confirm=(ctx.item_id, name),
                audits=audits,
            )
        )
