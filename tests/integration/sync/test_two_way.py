"""Two-way sync through the simulator's real webhooks: echoes, conflicts, moves, deletes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from syncengine.domain.groups import GroupState
from syncengine.domain.webhooks import sign
from syncengine.jira.simulator.seed import SeedUsers
from syncengine.store.outbox import State
from syncengine.web import create_app
from tests.integration.lifecycle_harness import crash as crash_report
from tests.integration.sync.harness import SECRET, sync_world


def transitions_sent(world_sim: object) -> int:
    counts = world_sim.counter.snapshot()  # type: ignore[attr-defined]
    return sum(
        n
        for op, by_status in counts.items()
        if op.startswith("POST") and op.endswith("/transitions")
        for n in [sum(v for s, v in by_status.items() if s.startswith("2"))]
    )


async def test_engine_change_reaches_jira_once_and_its_echo_is_ignored(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("echo")
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="ann@x.io")
        await world.settle()
        issue = world.sim.issue(key)
        assert world.status(key) == "Done"
        assert issue.resolution_id == "10000"  # the Done screen asked for one: "Done"
        sent = transitions_sent(world.sim)
        assert sent == 1
        # The echo came back as a webhook and a poll sees it too: nothing moves again.
        await world.sync.poller.run("shop", force=True)
        await world.settle()
        assert transitions_sent(world.sim) == sent
        assert await world.state(gid) is GroupState.RESOLVED
        assert await world.audit(gid, "sync.apply") == []
        assert await world.audit(gid, "sync.conflict") == []
        assert len(await world.audit(gid, "jira.transition")) == 1
        link = await world.container.links.for_group(gid)
        assert link is not None
        assert link.snapshot.state == "resolved"


async def test_jira_changes_come_back_through_webhooks(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("inbound")
        await world.human_transition(key, "Start Progress")
        await world.human.assign_issue(key, world.sim.user(SeedUsers.alice).account_id)
        await world.settle()
        group = await world.group(gid)
        assert (group.state, group.assignee) == ("in_progress", SeedUsers.alice)
        applied = await world.audit(gid, "sync.apply")
        assert {a["field"] for a in applied} == {"state", "assignee"}
        assert transitions_sent(world.sim) == 1  # the human's only: nothing echoed back
        # "Won't Do" maps to muted through its resolution.
        await world.human_transition(key, "Won't Do", resolution="Won't Do")
        await world.settle()
        assert await world.state(gid) is GroupState.MUTED


@pytest.mark.parametrize(
    ("policy", "winner", "state", "status"),
    [
        ("jira_wins", "jira", GroupState.IN_PROGRESS, "In Progress"),
        ("engine_wins", "engine", GroupState.RESOLVED, "Done"),
    ],
)
async def test_change_on_both_sides_is_settled_by_policy_and_audited(
    database_url: str,
    tmp_path: Path,
    policy: str,
    winner: str,
    state: GroupState,
    status: str,
) -> None:
    async with sync_world(database_url, tmp_path, conflict_policy=policy) as world:
        gid, key = await world.linked_group("both")
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="ann@x.io")
        await world.human_transition(key, "Start Progress")
        await world.deliver()  # Jira's change arrives before our push ran
        await world.settle()
        assert await world.state(gid) is state
        assert world.status(key) == status
        [conflict] = await world.audit(gid, "sync.conflict")
        assert conflict["winner"] == winner
        assert (conflict["engine"], conflict["jira"]) == ("resolved", "in_progress")
        assert conflict["policy"] == policy


async def test_moved_issue_is_followed_by_id(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("moved")
        moved = world.sim.move_issue(key, "SUP")
        await world.settle()
        link = await world.container.links.for_group(gid)
        assert link is not None
        assert link.issue_key == moved.key != key
        [entry] = await world.audit(gid, "link.moved")
        assert (entry["from"], entry["to"]) == (key, moved.key)
        # Later changes still reach the moved issue.
        await world.container.changes.set_state(gid, GroupState.IN_PROGRESS, actor="a")
        await world.settle()
        assert world.status(moved.key) == "In Progress"


async def test_deleted_issue_unlinks_and_keeps_the_group(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("deleted")
        world.sim.delete_issue(key)
        await world.settle()
        assert await world.container.links.for_group(gid) is None
        assert (await world.group(gid)).state == "open"
        [entry] = await world.audit(gid, "link.deleted")
        assert entry["issue"] == key


async def test_duplicate_delivery_and_bad_signature(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("dupes")
        await world.human_transition(key, "Start Progress")
        [delivery] = world.sim.webhooks.pending()
        app = create_app(world.container.web)
        url = "/api/v1/jira/webhooks/shop"
        headers = {
            "X-Hub-Signature": sign(SECRET.encode(), delivery.body),
            "X-Atlassian-Webhook-Identifier": delivery.identifier,
            "Content-Type": "application/json",
        }
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as http:
            forged = {**headers, "X-Hub-Signature": sign(b"wrong secret", delivery.body)}
            refused = await http.post(url, content=delivery.body, headers=forged)
            assert refused.status_code == 401
            assert await world.state(gid) is GroupState.OPEN
            first = await http.post(url, content=delivery.body, headers=headers)
            reads = world.sim.calls()
            again = await http.post(url, content=delivery.body, headers=headers)
        assert first.json()["status"] == "applied"
        assert again.json()["status"] == "duplicate"
        assert world.sim.calls() == reads  # the duplicate read nothing from Jira
        assert await world.state(gid) is GroupState.IN_PROGRESS
        assert len(await world.audit(gid, "sync.apply")) == 1


async def test_one_way_mode_never_applies_jira_changes(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path, mode="one_way") as world:
        gid, key = await world.linked_group("oneway")
        await world.human_transition(key, "Start Progress")
        await world.settle()
        await world.sync.poller.run("shop", force=True)
        assert await world.state(gid) is GroupState.OPEN
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="a")
        await world.settle()
        assert world.status(key) == "Done"
        assert await world.state(gid) is GroupState.RESOLVED


async def test_unmapped_assignee_is_shown_on_the_group(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path, user_map={"robot@x.io": "unused"}) as world:
        gid, key = await world.linked_group("who")
        await world.container.changes.assign(gid, "nobody@x.io", actor="a")
        await world.settle()
        group = await world.group(gid)
        assert group.last_sync_error is not None
        assert "nobody@x.io" in group.last_sync_error
        assert "user_map" in group.last_sync_error
        [item] = await world.container.outbox.list(project_id=world.project_id)
        assert item.state == State.DEAD
        # A user Jira knows by e-mail is found by search, then cached.
        await world.container.outbox.drop(item.id, actor="op", now=world.clock())
        await world.container.changes.assign(gid, SeedUsers.bob, actor="a")
        await world.settle()
        assert world.sim.issue(key).fields["assignee"] == world.sim.user(SeedUsers.bob).account_id
        assert (await world.group(gid)).last_sync_error is None


async def test_echo_of_a_push_whose_answer_was_lost_is_not_a_conflict(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path, conflict_policy="jira_wins") as world:
        gid, key = await world.linked_group("lost")
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="a")
        world.sim.add_fault(
            kind="commit_then_fail", route="*transitions*", method="POST", drop=True, remaining=1
        )
        await world.drain()  # Jira moved the issue to Done; we never heard back
        assert world.status(key) == "Done"
        await world.container.changes.set_state(gid, GroupState.IN_PROGRESS, actor="a")
        await world.deliver()  # the echo of the lost push: our value, still in flight
        assert await world.state(gid) is GroupState.IN_PROGRESS
        assert await world.audit(gid, "sync.conflict") == []
        world.clock.now += timedelta(hours=1)  # the lost push's retry falls due
        await world.settle()
        assert world.status(key) == "In Progress"
        assert await world.state(gid) is GroupState.IN_PROGRESS
        assert await world.audit(gid, "sync.conflict") == []
        assert await world.container.outbox.list(project_id=world.project_id) == []


async def test_a_two_step_target_is_reached_by_chaining_transitions(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("chain")
        await world.human_transition(key, "Done", resolution="Done")
        await world.settle()
        assert await world.state(gid) is GroupState.RESOLVED
        await world.container.changes.set_state(gid, GroupState.MUTED, actor="a")
        await world.settle()  # Done offers only Reopen: Reopen, then a close as Won't Do
        assert world.sim.issue(key).resolution_id == "10001"  # closed as "Won't Do": muted
        assert await world.state(gid) is GroupState.MUTED
        steps = [entry["transition"] for entry in await world.audit(gid, "jira.transition")]
        assert steps[0] == "Reopen"
        assert len(steps) == 2
        assert (await world.group(gid)).last_sync_error is None
        assert await world.container.outbox.list(project_id=world.project_id) == []
        assert await world.audit(gid, "sync.conflict") == []


@pytest.mark.parametrize("policy", ["jira_wins", "newest_wins", "engine_wins"])
async def test_a_chain_whose_first_step_lost_its_answer_still_reaches_the_target(
    database_url: str, tmp_path: Path, policy: str
) -> None:
    """Jira at the chain's middle status is our own step, not a person's change."""
    async with sync_world(database_url, tmp_path, conflict_policy=policy) as world:
        gid, key = await world.linked_group("chain-lost")
        await world.human_transition(key, "Done", resolution="Done")
        await world.settle()
        assert await world.state(gid) is GroupState.RESOLVED
        applied = await world.audit(gid, "sync.apply")
        world.sim.add_fault(
            kind="commit_then_fail",
            route="POST /issue/{issueIdOrKey}/transitions",
            drop=True,
            remaining=1,
        )
        await world.container.changes.set_state(gid, GroupState.MUTED, actor="a")
        await world.settle()
        assert world.status(key) == "To Do"  # Reopen landed; its answer was lost
        world.clock.now += timedelta(hours=1)  # the retry falls due
        await world.settle()
        await world.sync.poller.run("shop", force=True)
        await world.settle()
        assert world.sim.issue(key).resolution_id == "10001"  # closed as "Won't Do"
        assert await world.state(gid) is GroupState.MUTED
        assert await world.audit(gid, "sync.conflict") == []
        assert await world.audit(gid, "sync.apply") == applied
        assert await world.container.outbox.list(project_id=world.project_id) == []


async def test_resolving_a_group_whose_issue_is_closed_otherwise_sends_nothing(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("done-already")
        await world.human_transition(key, "Won't Do", resolution="Won't Do")
        await world.settle()
        assert await world.state(gid) is GroupState.MUTED
        sent = transitions_sent(world.sim)
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="a")
        await world.settle()
        await world.sync.poller.run("shop", force=True)
        await world.settle()
        assert transitions_sent(world.sim) == sent  # Won't Do is resolved in meaning
        assert world.status(key) == "Won't Do"
        assert await world.state(gid) is GroupState.RESOLVED
        await world.human.assign_issue(key, world.sim.user(SeedUsers.alice).account_id)
        await world.settle()  # a later Jira change merges the link again: it stays resolved
        assert await world.state(gid) is GroupState.RESOLVED
        assert (await world.group(gid)).assignee == SeedUsers.alice
        assert (await world.group(gid)).last_sync_error is None
        assert await world.container.outbox.list(project_id=world.project_id) == []


async def test_no_transition_to_the_state_is_shown_on_the_group(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("stuck")
        await world.human_transition(key, "Done", resolution="Done")
        await world.settle()
        assert await world.state(gid) is GroupState.RESOLVED
        project = world.sim.state.project("CRASH")
        flow = project.workflow  # a workflow where Done is final
        project.workflow = replace(
            flow, transitions=tuple(t for t in flow.transitions if t.id not in {"51", "61"})
        )
        await world.container.changes.set_state(gid, GroupState.MUTED, actor="a")
        await world.settle()
        group = await world.group(gid)
        assert group.last_sync_error is not None
        assert "cannot be moved to muted" in group.last_sync_error
        assert "state_transitions" in group.last_sync_error  # what to configure
        [item] = await world.container.outbox.list(project_id=world.project_id)
        assert item.state == State.DEAD  # not retried forever
        assert world.status(key) == "Done"


async def test_data_center_assigns_by_username(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path, flavour="datacenter") as world:
        gid, key = await world.linked_group("dc")
        await world.container.changes.assign(gid, SeedUsers.bob, actor="a")
        await world.settle()
        assert world.sim.issue(key).fields["assignee"] == world.sim.user(SeedUsers.bob).account_id
        await world.human.assign_issue(key, "alice")
        await world.settle()
        assert (await world.group(gid)).assignee == SeedUsers.alice
        assert len(await world.audit(gid, "jira.assign")) == 1


@pytest.mark.parametrize(("engine_later", "winner"), [(False, "jira"), (True, "engine")])
async def test_newest_wins_compares_change_times(
    database_url: str, tmp_path: Path, engine_later: bool, winner: str
) -> None:
    async with sync_world(database_url, tmp_path, conflict_policy="newest_wins") as world:
        gid, key = await world.linked_group("newest")
        world.clock.now += timedelta(hours=1 if engine_later else -1)
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="a")
        await world.human_transition(key, "Start Progress")
        await world.deliver()
        await world.settle()
        [conflict] = await world.audit(gid, "sync.conflict")
        assert conflict["winner"] == winner
        expected = GroupState.RESOLVED if engine_later else GroupState.IN_PROGRESS
        assert await world.state(gid) is expected
        assert world.status(key) == ("Done" if engine_later else "In Progress")


async def test_inbound_sync_runs_with_its_project_and_group_bound(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the merge does (its store calls, any log line) is about its project and group."""
    from syncengine import logs
    from syncengine.store.link_sync import LinkSyncStore

    seen: list[dict[str, object]] = []
    original = LinkSyncStore.merge_inputs

    async def merge_inputs(self: LinkSyncStore, *args: object, **kwargs: object) -> object:
        seen.append(dict(logs.context()))
        return await original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(LinkSyncStore, "merge_inputs", merge_inputs)
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("bound")
        seen.clear()
        await world.human_transition(key, "Start Progress")
        await world.settle()  # the webhook delivery
        webhook = len(seen)
        world.clock.now += timedelta(minutes=1)
        await world.human_transition(key, "Won't Do", resolution="Won't Do")
        await world.sync.poller.run("shop", force=True)  # and a poll (before the delivery)
    assert webhook >= 1
    assert len(seen) > webhook
    assert all(ctx.get("project") == "shop" for ctx in seen)
    assert all(ctx.get("group_id") == gid for ctx in seen)


async def test_a_refused_transition_is_chosen_again_from_a_fresh_read(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("refused")
        await world.container.changes.set_state(gid, GroupState.IN_PROGRESS, actor="a")
        # Jira refuses the first transition once, as when its id was invalidated a moment before.
        world.sim.add_fault(
            kind="error", status=400, route="*transitions*", method="POST", remaining=1
        )
        await world.settle()
        assert world.status(key) == "In Progress"
        assert await world.state(gid) is GroupState.IN_PROGRESS
        assert (await world.group(gid)).last_sync_error is None
        assert await world.container.outbox.list(project_id=world.project_id) == []


async def test_jira_reopen_and_done_on_a_muted_group(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("muted")
        await world.container.changes.set_state(gid, GroupState.MUTED, actor="a")
        await world.settle()
        assert world.sim.issue(key).resolution_id == "10001"  # closed as Won't Do
        await world.human_transition(key, "Reopen")
        await world.settle()
        assert await world.state(gid) is GroupState.OPEN  # a reopen unmutes
        await world.container.changes.set_state(gid, GroupState.MUTED, actor="a")
        await world.settle()
        await world.human_transition(key, "Reopen")
        await world.human_transition(key, "Done", resolution="Done")
        await world.settle()
        assert await world.state(gid) is GroupState.RESOLVED  # fixed: regressions count again
        assert (await world.group(gid)).resolve_rule is not None
        assert world.status(key) == "Done"


async def test_a_link_that_cannot_converge_is_not_retried_and_later_changes_pass_it(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("stuck-later")
        await world.human_transition(key, "Done", resolution="Done")
        await world.settle()
        project = world.sim.state.project("CRASH")
        flow = project.workflow  # a workflow where Done is final
        project.workflow = replace(
            flow, transitions=tuple(t for t in flow.transitions if t.id not in {"51", "61"})
        )
        await world.container.changes.set_state(gid, GroupState.MUTED, actor="a")
        await world.settle()
        [dead] = await world.container.outbox.list(project_id=world.project_id)
        assert dead.state == State.DEAD
        assert dead.payload["unreachable"]["state"] == "muted"
        tried = world.sim.calls("GET /issue/{issueIdOrKey}/transitions")
        # Jira changes the issue meanwhile: its merges do not queue the unreachable state again.
        await world.human.assign_issue(key, world.sim.user(SeedUsers.alice).account_id)
        await world.settle()
        await world.sync.poller.run("shop", force=True)
        await world.settle()
        assert (await world.group(gid)).assignee == SeedUsers.alice
        assert world.sim.calls("GET /issue/{issueIdOrKey}/transitions") == tried
        assert [i.id for i in await world.container.outbox.list(project_id=world.project_id)] == [
            dead.id
        ]
        group = await world.group(gid)
        assert group.last_sync_error is not None
        assert "cannot be moved to muted" in group.last_sync_error  # still shown
        # A later engine change is not held behind the dead push.
        await world.container.changes.assign(gid, SeedUsers.bob, actor="a")
        await world.settle()
        assert world.sim.issue(key).fields["assignee"] == world.sim.user(SeedUsers.bob).account_id
        assert "cannot be moved to muted" in ((await world.group(gid)).last_sync_error or "")
        # The latest desired state supersedes the dead one (Done is resolved already).
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="a")
        await world.settle()
        assert await world.state(gid) is GroupState.RESOLVED
        assert world.status(key) == "Done"
        assert (await world.group(gid)).last_sync_error is None
        left = await world.container.outbox.list(project_id=world.project_id)
        assert [(i.id, i.state) for i in left] == [(dead.id, State.DEAD)]  # for the operator


async def test_a_dead_backlink_does_not_hold_back_the_groups_state_sync(
    database_url: str, tmp_path: Path
) -> None:
    """Jira refuses the back-link's comment for good (no Add Comments permission)."""
    async with sync_world(database_url, tmp_path) as world:
        bot = world.container.jira.for_project("shop")
        created = await bot.create_issue(
            {"project": {"key": "CRASH"}, "issuetype": {"name": "Task"}, "summary": "x"}
        )
        accepted = await world.container.ingest.submit(world.project_id, [crash_report("bl")])
        gid = accepted[0].group_id
        world.sim.add_fault(
            kind="error", status=403, route="POST /issue/{issueIdOrKey}/comment", remaining=50
        )
        await world.container.manual.link_existing(gid, created.key, actor="ann")
        await world.settle()
        [dead] = await world.container.outbox.list(project_id=world.project_id)
        assert dead.state == State.DEAD
        world.sim.clear_faults()
        await world.container.changes.set_state(gid, GroupState.RESOLVED, actor="ann")
        await world.settle()
        assert world.status(created.key) == "Done"
        assert [i.id for i in await world.container.outbox.list(project_id=world.project_id)] == [
            dead.id
        ]
