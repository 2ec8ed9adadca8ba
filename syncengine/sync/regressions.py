"""Regressions: reopen a resolved group at ingest, then tell Jira (``link.regression``).

:class:`RegressionHook` is a fold hook: it runs inside the ingest transaction,
after the batch's groups are written, and checks EVERY report of the batch of
each resolved group against the group's stored rule
(:func:`syncengine.domain.regression.decide_regression`). A regression reopens
the group once (:func:`syncengine.store.regressions.reopen_regressed`), is
audited with the rule and the report that broke it, and — for a linked group of
a syncing project — queues a ``link.regression`` item in the same transaction.

:class:`RegressionJira` runs that item, by configuration
(:func:`syncengine.domain.regression.jira_action`): transition the issue back to
open (the link-sync executor pushes the reopened state) and comment; or file a
NEW issue for the group, linked to the old one. Each step is noted on the item,
so a retry goes on where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from syncengine.domain.fields import identity_label
from syncengine.domain.groups import GroupState
from syncengine.domain.impact import group_page
from syncengine.domain.merge import SyncMode
from syncengine.domain.regression import (
    CountOnly,
    FileNewIssue,
    Regressed,
    ReopenIssue,
    decide_regression,
    jira_action,
)
from syncengine.domain.resolve import InvalidRule, ReportFacts, ResolveRule
from syncengine.domain.versions import VersionScheme
from syncengine.jira.client import JiraClient
from syncengine.jira.parsing import parse_datetime
from syncengine.logs import bind
from syncengine.store.batch_fold import GroupFold
from syncengine.store.database import SyncConnection
from syncengine.store.groups import GroupRepository
from syncengine.store.link_sync import LinkSyncStore
from syncengine.store.links import IssueLinkRepository
from syncengine.store.outbox import OutboxWork
from syncengine.store.regressions import (
    ResolvedGroup,
    group_state,
    note_version_problem,
    reopen_regressed,
    resolved_groups,
)
from syncengine.store.work_kinds import LINK_REGRESSION
from syncengine.sync.executor import LinkSync
from syncengine.sync.tickets import CREATE, TicketService, group_key

__all__ = ["REGRESSION", "RegressionCheck", "RegressionHook", "RegressionJira"]

log = logging.getLogger(__name__)
# Noted on a link.regression item before its comment is sent: a later try looks for it first.
_COMMENT_SENT = "comment_sent"

REGRESSION = LINK_REGRESSION


@dataclass(frozen=True, kw_only=True, slots=True)
class RegressionCheck:
    """How one project's reports are checked against resolved-until rules."""

    version_scheme: VersionScheme
    version_attribute: str
    syncs: bool  # a regression of a linked group owes Jira something (sync is not off)


class RegressionHook:
    """The fold hook that reopens resolved groups a batch breaks (see the module docstring)."""

    def __init__(self, projects: Mapping[str, RegressionCheck]) -> None:
        self._projects = dict(projects)

    def __call__(self, conn: SyncConnection, groups: list[GroupFold], now: datetime) -> None:
        """Check the batch's resolved groups; raises StoreError with the batch."""
        # The fold's upsert returned each group's state: only resolved ones are read again.
        candidates = {
            g.group_id: g
            for g in groups
            if not g.new and g.group_id and g.state == GroupState.RESOLVED.value
        }
        if not candidates:
            return
        for group in resolved_groups(conn, sorted(candidates)):
            project = self._projects.get(group.project_slug)
            if project is None:
                continue
            fold = candidates[group.id]
            decision = self._decide(group, fold, project)
            if isinstance(decision, CountOnly):
                # A version the scheme cannot order can never show a regression: say so
                # on the group and in the audit log rather than only counting the report.
                problem = "; ".join(decision.problems) or None
                if note_version_problem(conn, group, problem, now=now) and problem:
                    log.warning("group %s: versions cannot be ordered: %s", group.id, problem)
                continue
            regressed = decision
            report = fold.reports[regressed.report_index]
            rule_json = regressed.rule.to_json() if regressed.rule is not None else None
            audit = {
                "rule": rule_json,
                "rule_text": regressed.rule.describe() if regressed.rule else "seen again",
                "version": regressed.version or report.version,
                "report_timestamp": report.timestamp.isoformat(),
                "report_classifier": report.classifier,
                "breaking_reports": regressed.breaking_reports,
                "problems": list(regressed.problems),
            }
            owes_jira = group.linked and project.syncs
            outbox = (
                {
                    "rule": rule_json,
                    "version": regressed.version,
                    "report_index": regressed.report_index,
                    "breaking_reports": regressed.breaking_reports,
                }
                if owes_jira
                else None
            )
            count = reopen_regressed(conn, group, audit=audit, outbox=outbox, now=now)
            # The hooks after this one (ticket rules) see the state this one left, from the
            # report that reopened the group on; the reports before it met the old state.
            fold.state_before, fold.state_from = fold.state, regressed.report_index
            fold.state = group_state(conn, group.id) if count is None else "open"
            if count is not None:
                log.info("group %s regressed (#%s): %s", group.id, count, audit["rule_text"])

    def _decide(
        self, group: ResolvedGroup, fold: GroupFold, project: RegressionCheck
    ) -> Regressed | CountOnly:
        scheme = project.version_scheme
        rule: ResolveRule | None = None
        if group.resolve_rule:
            try:
                rule = ResolveRule.from_json(group.resolve_rule, default_scheme=scheme)
            except InvalidRule as exc:
                # A broken stored rule must not lose the batch: treat it as "until seen again".
                log.warning("group %s has an unusable resolve rule: %s", group.id, exc)
        facts = [
            ReportFacts.from_report(r, version_attribute=project.version_attribute)
            for r in fold.reports
        ]
        return decide_regression(
            state=GroupState.RESOLVED,
            rule=rule,
            resolved_at=group.resolved_at,
            reports=facts,
            default_scheme=scheme,
        )


class RegressionJira:
    """Runs ``link.regression`` items: reopen and comment, or file a new linked issue."""

    def __init__(
        self,
        *,
        public_url: str,
        links: IssueLinkRepository,
        groups: GroupRepository,
        store: LinkSyncStore,
        executor: LinkSync,
        tickets: TicketService,
        clock: Callable[[], datetime],
    ) -> None:
        self._public_url = public_url
        self._links = links
        self._groups = groups
        self._store = store
        self._executor = executor
        self._tickets = tickets
        self._clock = clock

    async def __call__(self, work: OutboxWork) -> None:
        """Run one item; raises JiraError (retried or shown) like any outbox handler."""
        if work.group_id is None:
            return
        group_id = work.group_id
        payload = work.payload
        slug = await self._executor.slug_of(work.project_id)
        bind(project=slug)
        if payload.get("new_issue_for"):  # a retry of a replacement under way
            old = str(payload["new_issue_for"])
            again = FileNewIssue(
                link_to=old, reason=str(payload.get("reason") or ""), comment=payload["comment"]
            )
            await self._replace(work, group_id, slug, old, again)
            return
        link = await self._links.for_group(group_id)
        if link is None:
            return  # unlinked since: nothing to tell Jira
        cfg = self._executor.config(slug)
        if cfg.mode is SyncMode.OFF:
            return
        issue = await self._executor.read_issue(slug, link.issue_id)
        rule = payload.get("rule")
        regressed = Regressed(
            report_index=int(payload.get("report_index") or 0),
            rule=ResolveRule.from_json(rule, default_scheme=cfg.scheme) if rule else None,
            invariant=None,
            version=payload.get("version"),
            breaking_reports=int(payload.get("breaking_reports") or 1),
        )
        group = await self._groups.snapshot(group_id, top=1)
        action = jira_action(
            regressed,
            issue_key=issue.key,
            closed_at=parse_datetime(issue.fields.get("resolutiondate")),
            resolution=issue.resolution,
            regression_count=int(payload.get("regression_count") or 1),
            group_url=group_page(self._public_url, group_id),
            config=cfg.regression,
            now=self._clock(),
            first_seen=group.first_seen,
            frames=group.frames,
        )
        if isinstance(action, ReopenIssue):
            await self._executor.sync(slug, link, item_id=work.id)
            if not payload.get("commented"):
                count = int(payload.get("regression_count") or 1)
                await self._comment_once(
                    work,
                    self._executor.client(slug),
                    link.issue_id,
                    action.comment,
                    marker=f"this is regression #{count} of this error.",
                )
                await self._store.note(work.id, "commented", True)
            return
        await self._replace(work, group_id, slug, link.issue_key, action)

    async def _replace(
        self, work: OutboxWork, group_id: int, slug: str, old_key: str, action: FileNewIssue
    ) -> None:
        """Detach the old issue (it loses the group's identity label), then file anew.

        Every step is noted first or safe to repeat, so a retry resumes the replacement.
        """
        for key, value in (
            ("new_issue_for", old_key),
            ("comment", action.comment),
            ("reason", action.reason),
        ):
            if work.payload.get(key) != value:
                await self._store.note(work.id, key, value)
        group = await self._groups.snapshot(group_id, top=1)
        label = identity_label(group_key(slug, group.fingerprint))
        client = self._executor.client(slug)
        link = await self._links.for_group(group_id)
        if link is not None and link.issue_key == old_key:
            await client.edit_issue(
                link.issue_id, update={"labels": [{"remove": label}]}, notify=False
            )
            await self._store.unlink(
                link.id,
                group_id=group_id,
                project_id=work.project_id,
                detail={"issue": old_key, "reason": action.reason, "via": "regression"},
                now=self._clock(),
            )
        noted = replace(work, payload={**work.payload, "comment": action.comment})
        await self._file_new(noted, group_id, old_key)

    async def _file_new(self, work: OutboxWork, group_id: int, old_key: str) -> None:
        if not work.payload.get("created"):
            # A retried create searches for the identity first (attempts > 1).
            attempts = 2 if work.payload.get("creating") else 1
            await self._store.note(work.id, "creating", True)
            await self._tickets.create(replace(work, kind=CREATE, attempts=attempts))
            await self._store.note(work.id, "created", True)
        link = await self._links.for_group(group_id)
        if link is None or work.payload.get("commented"):
            return
        slug = await self._executor.slug_of(work.project_id)
        client = self._executor.client(slug)
        marker = f"Previously tracked in {old_key}."
        comment = f"{work.payload.get('comment') or ''}\n{marker}"
        await self._comment_once(work, client, link.issue_id, comment.strip(), marker=marker)
        await client.create_remote_link(
            link.issue_id,
            url=f"{client.config.site}/browse/{old_key}",
            title=f"Regression of {old_key}",
            global_id=f"syncengine-regression-{old_key}",
        )
        await self._store.note(work.id, "commented", True)

    async def _comment_once(
        self, work: OutboxWork, client: JiraClient, issue_id: str, text: str, *, marker: str
    ) -> None:
        """Comment ``text`` on the issue once, across retries: noted before it is sent, and
        after a try that may have posted it (a lost answer, a stop) looked for by
        ``marker`` (a line only this comment has) before it is sent again."""
        if work.payload.get(_COMMENT_SENT):
            if any(marker in comment.text for comment in await client.comments(issue_id)):
                return
        else:
            await self._store.note(work.id, _COMMENT_SENT, True)
        await client.add_comment(issue_id, text)
