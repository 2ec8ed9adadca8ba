"""Crash impact in Jira, against the simulator on a simulated clock: counts rise as reports
arrive, writes per issue stay bounded, JQL orders issues by impact, the write is no echo for
the two-way sync, a person's edit is left alone, and a linked issue gets its back-link once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from syncengine.bootstrap import Container
from syncengine.domain.groups import GroupState
from syncengine.jira.client import JiraClient
from syncengine.jira.config import JiraConfig
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, Simulator
from syncengine.store.impact import ImpactRepository
from syncengine.store.links import Snapshot
from syncengine.store.work_kinds import LINK_BACKLINK
from syncengine.sync.backlinks import BackLinks
from tests.integration.lifecycle_harness import Clock, crash, engine, ingest
from tests.integration.sync.harness import sync_world

FIELDS = {
    "occurrences": "Occurrences",
    "affected_users": "customfield_10053",
    "last_seen": "Last seen",
    "versions_affected": "Versions affected",
    "regressions": "Regressions",
    "group_link": "Crash group",
    "first_version": "First version",
    "last_version": "Last version",
}
OCCURRENCES, USERS, VERSIONS = "customfield_10052", "customfield_10053", "customfield_10057"
EDIT = "PUT /issue/{issueIdOrKey}"


async def _bug(container: Container, summary: str = "Checkout crash") -> tuple[str, str]:
    bot = container.jira.for_project("shop")
    created = await bot.create_issue(
        {
            "project": {"key": "CRASH"},
            "issuetype": {"name": "Bug"},
            "summary": summary,
            "customfield_10050": {"value": "Major"},
        }
    )
    return created.id, created.key


async def _impact_engine(
    database_url: str, clock: Clock, **impact: Any
) -> tuple[Container, Simulator]:
    return await engine(
        database_url,
        clock,
        clock.simulator(),
        rules={"enabled": False},
        impact={"fields": FIELDS, **impact},
    )


async def test_counts_rise_in_jira_with_at_most_two_writes_in_thirty_minutes(
    database_url: str,
) -> None:
    clock = Clock()
    container, sim = await _impact_engine(database_url, clock)
    try:
        _, key = await _bug(container)
        first = await ingest(container, [crash("busy", **{"user.id": "u-0"})])
        group_id = first[0].group_id
        await container.manual.link_existing(group_id, key, actor="ann@example.com")
        await container.worker.drain()  # the back-link
        edits_before = sim.calls(EDIT)
        seen: list[float] = []
        last_round = clock.now
        await container.sync.impact.run("shop")
        # 10,000 reports over 30 simulated minutes (t = 0 … 29:30, 60 batches 30 s apart),
        # with a refresh round every minute, as the periodic job runs it.
        for step in range(60):
            reports = [
                crash(
                    "busy",
                    version=f"2.{step // 20}.0",
                    when=clock.now,
                    **{"user.id": f"u-{(step * 167 + n) % 900}"},
                )
                for n in range(167 if step < 59 else 10_000 - 59 * 167)
            ]
            await ingest(container, reports)
            if (clock.now - last_round).total_seconds() >= 60:
                last_round = clock.now
                await container.sync.impact.run("shop")
                value = sim.issue(key).fields.get(OCCURRENCES)
                if value is not None and (not seen or value != seen[-1]):
                    seen.append(value)
            clock.advance(30)
        writes = sim.calls(EDIT) - edits_before
        assert writes == 2  # at the link (t = 0) and 15 minutes later
        assert seen[0] == 1  # written when linked
        assert len(seen) == writes
        assert seen[1] > 5_000  # every report of the first 15 minutes
        # Once the interval has passed again, Jira catches up with every report.
        await container.sync.impact.run("shop")
        issue = sim.issue(key)
        assert issue.fields[OCCURRENCES] == 10_001
        assert issue.fields[USERS] == 900  # distinct user.id values
        assert issue.fields[VERSIONS] == ["2.0.0", "2.1.0", "2.2.0", "2.3.0"]
        assert issue.fields["customfield_10056"].endswith(f"/admin/groups/{group_id}")
        assert issue.fields["customfield_10059"] == "2.2.0"
        assert sim.calls(EDIT) - edits_before == writes + 1
        written = await ImpactRepository(container.db).written(group_id)
        assert written is not None
        assert written.fields[OCCURRENCES] == 10_001
        assert written.at == clock.now
    finally:
        await container.aclose()


async def test_a_write_whose_answer_was_lost_is_not_taken_for_a_persons_edit(
    database_url: str,
) -> None:
    """The lost write landed; the next round must still refresh the field."""
    clock = Clock()
    container, sim = await _impact_engine(database_url, clock)
    try:
        _, key = await _bug(container)
        accepted = await ingest(container, [crash("lost-put")])
        await container.manual.link_existing(accepted[0].group_id, key, actor="ann")
        await container.worker.drain()  # the back-link
        await container.sync.impact.run("shop")
        assert sim.issue(key).fields[OCCURRENCES] == 1
        for expected in (11, 21):
            await ingest(container, [crash("lost-put", when=clock.now)] * 10)
            clock.advance(16 * 60)
            if expected == 11:
                # Every try of the edit lands and loses its answer: the round ends.
                sim.add_fault(kind="commit_then_fail", route=EDIT, drop=True, remaining=20)
            stopped = await container.sync.impact.run("shop")
            sim.clear_faults()
            assert sim.issue(key).fields[OCCURRENCES] == expected
            assert bool(stopped.problems) is (expected == 11)
    finally:
        await container.aclose()


async def test_jql_orders_issues_by_occurrences(database_url: str) -> None:
    clock = Clock()
    container, _sim = await _impact_engine(database_url, clock)
    try:
        keys: dict[int, str] = {}
        for count in (40, 1_200, 150, 101):
            _, key = await _bug(container, summary=f"crash seen {count} times")
            accepted = await ingest(container, [crash(f"fp-{count}") for _ in range(count)])
            await container.manual.link_existing(accepted[0].group_id, key, actor="ann")
            keys[count] = key
        await container.worker.drain()
        await container.sync.impact.run("shop")
        bot = container.jira.for_project("shop")
        found = [
            issue.key
            async for issue in bot.search(
                '"Occurrences" > 100 ORDER BY "Occurrences" DESC', fields=["summary"]
            )
        ]
        assert found == [keys[1_200], keys[150], keys[101]]
    finally:
        await container.aclose()


async def test_a_round_waits_behind_creates_and_within_its_share(database_url: str) -> None:
    clock = Clock()
    container, sim = await _impact_engine(
        database_url, clock, budget_share=0.05, overwrite_edits=True
    )
    try:
        for n in range(30):
            _, key = await _bug(container, summary=f"crash {n}")
            accepted = await ingest(container, [crash(f"fp-{n}")])
            await container.manual.link_existing(accepted[0].group_id, key, actor="ann")
        # Back-links are due: they are not creates or state sync, the round may run.
        await container.worker.drain()
        await container.changes.set_state(accepted[0].group_id, GroupState.RESOLVED, actor="ann")
        waiting = await container.sync.impact.run("shop")
        assert waiting.waiting == "creates and state sync go first"
        assert waiting.calls == 0
        await container.worker.drain()
        # 0.05 of the default 10 requests/s: 30 calls a minute; the edit screen and 29 edits.
        done = await container.sync.impact.run("shop")
        assert (done.calls, done.written) == (30, 29)
        clock.advance(60)
        rest = await container.sync.impact.run("shop")
        assert done.written + rest.written == 30
        assert rest.calls <= 30
        assert sum(1 for i in sim.issues("CRASH") if i.fields.get(OCCURRENCES) == 1) == 30
        # The ~150 calls went through the client's budget of 10 a second (on virtual time).
        assert clock.jira_budget.now >= 10
    finally:
        await container.aclose()


class _DiesAfterPosting:
    """A store whose note fails: the process "dies" right after Jira took the comment."""

    async def note(self, item_id: int, key: str, value: Any) -> None:
        raise RuntimeError("the process died")


async def test_backlink_is_added_once_per_link_also_across_restarts(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    sim = clock.simulator()
    container, _ = await engine(database_url, clock, sim, rules={"enabled": False})
    try:
        _, key = await _bug(container)
        accepted = await ingest(container, [crash("linked", **{"user.id": "u-1"})] * 3)
        group_id = accepted[0].group_id
        await container.manual.link_existing(group_id, key, actor="ann")
        claimed = await container.outbox.claim(
            "dead-worker", now=clock.now, lease=timedelta(seconds=120)
        )
        assert [w.kind for w in claimed] == [LINK_BACKLINK]
        monkeypatch.setattr(container.sync.backlinks, "_store", _DiesAfterPosting())
        with pytest.raises(RuntimeError):
            await container.sync.backlinks(claimed[0])
        assert len(sim.issue(key).comments) == 1
    finally:
        await container.aclose()
    # A new process takes the item over once the dead worker's lease has run out.
    clock.advance(121)
    container, _ = await engine(database_url, clock, sim, rules={"enabled": False})
    try:
        await container.worker.drain()
        issue = sim.issue(key)
        assert len(issue.comments) == 1
        assert "3 occurrences" in issue.comments[0].body
        assert len(issue.remote_links) == 1
        link = issue.remote_links[0]
        assert link.global_id == f"syncengine:http://127.0.0.1:8080/admin/groups/{group_id}"
        assert link.body["object"]["url"].endswith(f"/admin/groups/{group_id}")
        record = await container.links.for_group(group_id)
        assert record is not None
    finally:
        await container.aclose()
    container, _ = await engine(database_url, clock, sim, rules={"enabled": False})
    try:
        await container.worker.drain()
        assert len(sim.issue(key).comments) == 1
        assert len(sim.issue(key).remote_links) == 1
        assert [i.kind for i in await container.outbox.list()] == []
    finally:
        await container.aclose()


async def test_backlink_survives_a_lost_answer_without_a_second_comment(
    database_url: str,
) -> None:
    clock = Clock()
    container, sim = await engine(database_url, clock, clock.simulator(), rules={"enabled": False})
    try:
        _, key = await _bug(container)
        accepted = await ingest(container, [crash("lost")])
        await container.manual.link_existing(accepted[0].group_id, key, actor="ann")
        sim.add_fault(
            kind="commit_then_fail",
            route="POST /issue/{issueIdOrKey}/comment",
            drop=True,
            remaining=1,
        )
        for _ in range(3):
            await container.worker.drain()
            clock.advance(120)
        issue = sim.issue(key)
        assert len(issue.comments) == 1
        assert len(issue.remote_links) == 1
        assert await container.outbox.list() == []
    finally:
        await container.aclose()


async def test_a_retried_backlink_is_not_fooled_by_another_groups_page(
    database_url: str,
) -> None:
    """A comment naming ``…/groups/<id>0`` is not this group's back-link comment."""
    clock = Clock()
    container, sim = await engine(database_url, clock, clock.simulator(), rules={"enabled": False})
    try:
        issue_id, key = await _bug(container)
        accepted = await ingest(container, [crash("prefix")])
        group_id = accepted[0].group_id
        other = f"http://127.0.0.1:8080/admin/groups/{group_id}0"
        await container.jira.for_project("shop").add_comment(issue_id, f"See {other} too.")
        await container.manual.link_existing(group_id, key, actor="ann")
        sim.add_fault(
            kind="error", status=503, route="POST /issue/{issueIdOrKey}/comment", remaining=1
        )
        for _ in range(3):
            await container.worker.drain()
            clock.advance(120)
        comments = sim.issue(key).comments
        assert len(comments) == 2
        assert f"crash group #{group_id} in shop" in comments[1].body.replace("\\#", "#")
        assert await container.outbox.list() == []
    finally:
        await container.aclose()


async def test_backlink_comment_is_adf_on_v3_with_the_group_link(database_url: str) -> None:
    clock = Clock()
    container, sim = await engine(database_url, clock, clock.simulator(), rules={"enabled": False})
    v3 = JiraClient.open(
        JiraConfig(
            site="http://jira.local",
            deployment="cloud",
            user=DEFAULT_LOGIN,
            token=SecretStr(DEFAULT_TOKEN),
            api_version=3,
        ),
        transport=sim.transport(),
    )
    try:
        _, key = await _bug(container)
        accepted = await ingest(container, [crash("adf", **{"user.email": "a@x.io"})] * 4)
        group_id = accepted[0].group_id
        await container.manual.link_existing(group_id, key, actor="ann")
        backlinks = BackLinks(
            public_url="https://crash.example.com",
            links=container.links,
            groups=container.groups,
            impact=ImpactRepository(container.db),
            store=container.sync.store,
            slug_of=container.sync.executor.slug_of,
            clients=lambda _slug: v3,
            clock=clock,
        )
        (work,) = [i for i in await container.outbox.list() if i.kind == LINK_BACKLINK]
        await backlinks(work)
        (comment,) = sim.issue(key).comments
        assert comment.body["type"] == "doc"
        text = str(comment.body)
        assert f"Linked to crash group #{group_id} in shop: " in text
        assert "4 occurrences, 1 affected users" in text
        url = f"https://crash.example.com/admin/groups/{group_id}"
        assert {"type": "link", "attrs": {"href": url}} in comment.body["content"][2]["content"][1][
            "marks"
        ]
    finally:
        await v3.aclose()
        await container.aclose()


@pytest.mark.parametrize("overwrite", [False, True])
async def test_impact_write_is_no_echo_and_a_persons_edit_stays(
    database_url: str, tmp_path: Path, overwrite: bool
) -> None:
    impact = {"fields": {"occurrences": "Occurrences"}, "overwrite_edits": overwrite}
    async with sync_world(database_url, tmp_path, impact=impact) as world:
        container = world.container
        bot = container.jira.for_project("shop")
        created = await bot.create_issue(
            {
                "project": {"key": "CRASH"},
                "issuetype": {"name": "Bug"},
                "summary": "echo",
                "customfield_10050": {"value": "Major"},
            }
        )
        group_id, _ = await world.linked_group("impact-echo")
        # Re-point the harness's link at a Bug (the impact fields are on its edit screen).
        link = await container.links.for_group(group_id)
        assert link is not None
        await container.links.unlink(link.id)
        await container.links.link(
            project_id=world.project_id,
            group_id=group_id,
            issue_id=created.id,
            issue_key=created.key,
            snapshot=Snapshot(state="open", status="To Do"),
            now=world.clock(),
        )
        reads_before = world.sim.calls("GET /issue/{issueIdOrKey}")
        await container.sync.impact.run("shop")
        assert world.sim.issue(created.key).fields[OCCURRENCES] == 1
        delivered = await world.deliver()
        assert delivered >= 1
        await world.settle()
        await world.sync.poller.run("shop", force=True)
        await world.settle()
        # The webhook of our write was not read back; nothing merged, nothing pushed.
        assert world.sim.calls("GET /issue/{issueIdOrKey}") == reads_before
        assert await world.audit(group_id, "sync.apply") == []
        assert await world.audit(group_id, "sync.conflict") == []
        assert await container.outbox.list() == []
        # A person sets the count by hand; the group grows; the next write leaves it
        # alone unless the project says to overwrite.
        await world.human.edit_issue(created.key, fields={OCCURRENCES: 7})
        await world.settle()
        world.clock.now += timedelta(minutes=1)
        async with container.db.session() as session:
            from sqlalchemy import update

            from syncengine.store.tables import ErrorGroup

            await session.execute(
                update(ErrorGroup)
                .where(ErrorGroup.id == group_id)
                .values(count=500, updated_at=world.clock.now)
            )
        world.clock.now += timedelta(minutes=16)
        await container.sync.impact.run("shop")
        expected = 500 if overwrite else 7
        assert world.sim.issue(created.key).fields[OCCURRENCES] == expected
        written = await ImpactRepository(container.db).written(group_id)
        assert written is not None
        assert written.at == world.clock.now  # the round did consider the issue
        assert written.facts is not None
        assert written.facts.count == 500


async def test_a_followed_move_gets_the_backlink_once(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        group_id, key = await world.linked_group("moving")
        assert world.sim.issue(key).comments == []  # the engine's own issue: no back-link
        moved = world.sim.move_issue(key, "SUP")
        await world.settle()
        issue = world.sim.issue(moved.key)
        assert len(issue.comments) == 1
        assert f"/admin/groups/{group_id}" in issue.comments[0].body
        assert len(issue.remote_links) == 1
        link = await world.container.links.for_group(group_id)
        assert link is not None
        assert link.backlinked_at is not None
        again = world.sim.move_issue(moved.key, "CRASH")
        await world.settle()
        issue = world.sim.issue(again.key)
        assert len(issue.comments) == 1
        assert len(issue.remote_links) == 1


async def test_an_issue_that_refuses_the_fields_does_not_block_the_others(
    database_url: str,
) -> None:
    clock = Clock()
    container, sim = await _impact_engine(database_url, clock)
    try:
        bot = container.jira.for_project("shop")
        task = await bot.create_issue(
            {"project": {"key": "CRASH"}, "issuetype": {"name": "Task"}, "summary": "a task"}
        )
        _, bug = await _bug(container)
        big = await ingest(container, [crash("big")] * 50)  # the Task's group is the biggest
        small = await ingest(container, [crash("small")] * 5)
        await container.manual.link_existing(small[0].group_id, bug, actor="ann")
        await container.worker.drain()
        # The edit screen is read from the Bug; the Task has none of those fields.
        await container.sync.impact.run("shop")
        await container.manual.link_existing(big[0].group_id, task.key, actor="ann")
        await container.worker.drain()
        ingest_more = [crash("small")] * 500
        await ingest(container, ingest_more)
        clock.advance(16 * 60)
        done = await container.sync.impact.run("shop")
        assert done.written == 1
        assert any(p.startswith(f"{task.key}: ") for p in done.problems)
        assert sim.issue(bug).fields[OCCURRENCES] == 505
        clock.advance(60)
        again = await container.sync.impact.run("shop")
        assert again.calls == 0  # the Task waits out the interval
    finally:
        await container.aclose()
