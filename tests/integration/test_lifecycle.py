"""Ticket lifecycle end to end: rules at ingest, the outbox, exactly one Jira issue per group."""

from __future__ import annotations

import pytest

from syncengine.domain.groups import GroupState
from syncengine.errors import StoreError
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN
from syncengine.store.outbox import State
from syncengine.sync.tickets import CREATE
from tests.integration.lifecycle_harness import Clock, crash, engine, ingest


async def test_new_group_gets_one_ticket_with_identity(database_url: str) -> None:
    clock = Clock()
    container, sim = await engine(database_url, clock)
    try:
        accepted = await ingest(container, [crash("fp-1"), crash("fp-1", version="2.3.1")])
        group_id = accepted[0].group_id
        await ingest(container, [crash("fp-1")])  # still due only once
        items = await container.outbox.list()
        assert [(i.kind, i.group_id) for i in items] == [(CREATE, group_id)]
        await container.worker.drain()
        issues = sim.issues("CRASH")
        assert len(issues) == 1
        link = await container.links.for_group(group_id)
        assert link is not None
        issue = sim.issue(link.issue_key)
        assert issue.id == link.issue_id
        labels = issue.fields["labels"]
        assert "syncengine" in labels
        assert any(label.startswith("syncengine-") and label != "syncengine" for label in labels)
        assert issue.properties["syncengine"]["group_id"] == group_id
        assert issue.fields["summary"] == "KeyError in 2.3.0"
        assert issue.fields["customfield_10050"] == "10101"  # the option "Major", by id
        assert await container.outbox.list() == []
    finally:
        await container.aclose()


async def test_group_url_expands_to_the_group_page(database_url: str) -> None:
    clock = Clock()
    container, sim = await engine(
        database_url,
        clock,
        public_url="https://crash.example.com",
        jira={"summary": "$classifier: $group_url"},
    )
    try:
        group_id = (await ingest(container, [crash("fp-url")]))[0].group_id
        await container.worker.drain()
        link = await container.links.for_group(group_id)
        assert link is not None
        page = f"https://crash.example.com/admin/groups/{group_id}"
        assert sim.issue(link.issue_key).fields["summary"] == f"KeyError: {page}"
    finally:
        await container.aclose()


async def test_backlog_goes_through_bulk_create(database_url: str) -> None:
    clock = Clock()
    container, sim = await engine(database_url, clock)
    try:
        await ingest(container, [crash(f"fp-{n}") for n in range(120)])
        await container.worker.drain()
        assert len(sim.issues("CRASH")) == 120
        bulk = sim.calls("POST /issue/bulk")
        single = sim.calls("POST /issue")
        assert bulk >= 3, (bulk, single)
        assert single == 0
    finally:
        await container.aclose()


async def test_lost_answer_is_found_by_identity_not_created_twice(database_url: str) -> None:
    clock = Clock()
    container, sim = await engine(database_url, clock)
    try:
        sim.add_fault(kind="commit_then_fail", route="POST /issue", drop=True, remaining=1)
        accepted = await ingest(container, [crash("fp-lost")])
        await container.worker.drain()
        assert len(sim.issues("CRASH")) == 1  # created, answer lost
        assert await container.links.for_group(accepted[0].group_id) is None
        for _ in range(10):
            clock.advance(120)
            await container.worker.drain()
        assert len(sim.issues("CRASH")) == 1
        link = await container.links.for_group(accepted[0].group_id)
        assert link is not None
        assert link.issue_key == sim.issues("CRASH")[0].key
    finally:
        await container.aclose()


async def test_threshold_and_filters_hold_tickets_back(database_url: str) -> None:
    clock = Clock()
    container, _ = await engine(
        database_url,
        clock,
        rules={
            "min_occurrences": 3,
            "filters": [{"attribute": "environment", "op": "equals", "value": "production"}],
        },
    )
    try:
        await ingest(container, [crash("a", environment="staging") for _ in range(5)])
        await ingest(container, [crash("b", environment="production")])
        assert await container.outbox.list() == []
        await ingest(container, [crash("b", environment="production") for _ in range(2)])
        items = await container.outbox.list()
        assert len(items) == 1
        assert items[0].payload["reason"].startswith("3 occurrences")
    finally:
        await container.aclose()


async def test_a_filter_sees_every_report_of_a_batch(database_url: str) -> None:
    """One production crash among staging ones, past the samples the store keeps."""
    clock = Clock()
    container, _ = await engine(
        database_url,
        clock,
        rules={"filters": [{"attribute": "environment", "op": "equals", "value": "production"}]},
    )
    try:
        batch = [crash("mid", environment="staging") for _ in range(20)]
        batch[7] = crash("mid", environment="production")
        await ingest(container, batch)
        items = await container.outbox.list()
        assert [item.payload["reason"] for item in items] == ["a new group"]
    finally:
        await container.aclose()


@pytest.mark.parametrize(
    ("environments", "due"),
    [
        (["production", "staging", "staging"], False),  # it came before the threshold
        (["staging", "staging", "production"], True),  # it reached the threshold
        (["staging", "production", "production", "staging"], True),
    ],
)
@pytest.mark.parametrize("window", [None, 10])
async def test_a_batch_queues_what_single_reports_would(
    database_url: str, environments: list[str], due: bool, window: int | None
) -> None:
    rules = {
        "min_occurrences": 3,
        "window_minutes": window,
        "filters": [{"attribute": "environment", "op": "equals", "value": "production"}],
    }
    clock = Clock()
    container, _ = await engine(database_url, clock, rules=rules)
    try:
        batch = [crash("batched", environment=env) for env in environments]
        group_ids = {(await ingest(container, batch))[0].group_id: "batched"}
        for env in environments:
            accepted = await ingest(container, [crash("single", environment=env)])
        group_ids[accepted[0].group_id] = "single"
        items = await container.outbox.list()
        queued = sorted(group_ids[item.group_id] for item in items)
    finally:
        await container.aclose()
    assert queued == (["batched", "single"] if due else [])


@pytest.mark.parametrize(
    ("batch", "due"),
    [
        # The production crash came while the group was still resolved (a never-state).
        ([("1.9", "production"), ("2.0", "staging")], False),
        # It came after the staging one in 2.0 had reopened the group.
        ([("2.0", "staging"), ("2.1", "production")], True),
    ],
)
async def test_a_regression_mid_batch_holds_only_for_the_reports_after_it(
    database_url: str, batch: list[tuple[str, str]], due: bool
) -> None:
    clock = Clock()
    container, _ = await engine(
        database_url,
        clock,
        rules={
            "never_states": ["muted", "resolved"],
            "filters": [{"attribute": "environment", "op": "equals", "value": "production"}],
        },
    )
    rule = [{"type": "version_ge", "field": "version", "version": "2.0"}]
    try:
        group_ids = {}
        for way in ("batched", "single"):
            [first] = await ingest(container, [crash(way, environment="staging")])
            group_ids[first.group_id] = way
            await container.changes.set_state(
                first.group_id, GroupState.RESOLVED, actor="t", resolve_rule=rule
            )
        reports = {
            way: [crash(way, version=v, environment=env) for v, env in batch]
            for way in ("batched", "single")
        }
        await ingest(container, reports["batched"])
        for one in reports["single"]:
            await ingest(container, [one])
        for group_id in group_ids:
            assert (await container.groups.snapshot(group_id)).state is GroupState.OPEN
        queued = sorted(group_ids[item.group_id] for item in await container.outbox.list())
    finally:
        await container.aclose()
    assert queued == (["batched", "single"] if due else [])


async def test_window_counts_only_recent_occurrences(database_url: str) -> None:
    clock = Clock()
    container, _ = await engine(
        database_url, clock, rules={"min_occurrences": 3, "window_minutes": 10}
    )
    try:
        await ingest(container, [crash("w"), crash("w")])
        clock.advance(11 * 60)
        await ingest(container, [crash("w")])
        assert await container.outbox.list() == []  # 1 in the window, 3 in all
        await ingest(container, [crash("w"), crash("w")])
        assert len(await container.outbox.list()) == 1
    finally:
        await container.aclose()


async def test_muted_groups_and_passive_projects(database_url: str) -> None:
    clock = Clock()
    container, sim = await engine(database_url, clock, rules={"min_occurrences": 2})
    try:
        accepted = await ingest(container, [crash("m")])
        await container.changes.set_state(accepted[0].group_id, GroupState.MUTED, actor="t")
        await ingest(container, [crash("m"), crash("m")])
        assert await container.outbox.list() == []
        await container.projects.set_active("shop", False, actor="t", now=clock())
        await ingest(container, [crash("p"), crash("p")])
        await container.worker.drain()
        assert sim.issues("CRASH") == []
        assert [i.state for i in await container.outbox.list()] == [State.PENDING]
        await container.projects.set_active("shop", True, actor="t", now=clock())
        await container.worker.drain()
        assert len(sim.issues("CRASH")) == 1
    finally:
        await container.aclose()


@pytest.mark.parametrize("status", [401, 403])
async def test_permanent_jira_errors_are_dead_with_the_fix(database_url: str, status: int) -> None:
    clock = Clock()
    container, sim = await engine(database_url, clock)
    try:
        sim.add_fault(kind="error", status=status, route="POST /issue")
        await ingest(container, [crash("x")])
        await container.worker.drain()
        [item] = await container.outbox.list(states=(State.DEAD,))
        assert item.last_error
        assert str(status) in item.last_error or "permission" in item.last_error.lower()
        assert sim.issues("CRASH") == []
        assert item.group_id is not None
        group = await container.groups.snapshot(item.group_id)
        assert group.last_sync_error == item.last_error
    finally:
        await container.aclose()


async def test_manual_create_and_link(database_url: str) -> None:
    clock = Clock()
    container, sim = await engine(database_url, clock, rules={"enabled": False})
    try:
        accepted = await ingest(container, [crash("manual"), crash("other")])
        manual_id, other_id = accepted[0].group_id, accepted[1].group_id
        assert await container.outbox.list() == []  # rules are off
        said = await container.manual.create_now(manual_id, actor="ann")
        assert said.endswith("is queued")
        assert "already queued" in await container.manual.create_now(manual_id, actor="ann")
        await container.worker.drain()
        link = await container.links.for_group(manual_id)
        assert link is not None
        assert "already has" in await container.manual.create_now(manual_id, actor="ann")
        async with sim.client(login=DEFAULT_LOGIN, token=DEFAULT_TOKEN) as jira:
            made = await jira.post(
                "/rest/api/2/issue",
                json={
                    "fields": {
                        "project": {"key": "CRASH"},
                        "issuetype": {"name": "Task"},
                        "summary": "filed by hand",
                    }
                },
            )
        key = made.json()["key"]
        linked = await container.manual.link_existing(other_id, key, actor="ann")
        assert (linked.issue_key, linked.group_id) == (key, other_id)
        with pytest.raises(StoreError, match="already linked"):
            await container.manual.link_existing(other_id, key, actor="ann")
        trail = [e.action for e in await container.audit.for_group(other_id)]
        assert trail == ["ticket.linked"]
    finally:
        await container.aclose()


async def test_a_group_unmuted_after_its_threshold_gets_its_ticket(database_url: str) -> None:
    clock = Clock()
    container, _ = await engine(database_url, clock, rules={"min_occurrences": 2})
    try:
        accepted = await ingest(container, [crash("late")])
        await container.changes.set_state(accepted[0].group_id, GroupState.MUTED, actor="t")
        await ingest(container, [crash("late"), crash("late")])  # crosses 2 while muted
        assert await container.outbox.list() == []
        await container.changes.set_state(accepted[0].group_id, GroupState.OPEN, actor="t")
        await ingest(container, [crash("late")])
        assert [i.group_id for i in await container.outbox.list()] == [accepted[0].group_id]
    finally:
        await container.aclose()


async def test_a_group_reopened_by_a_regression_is_due_in_the_same_batch(
    database_url: str,
) -> None:
    # The ticket rules run after the regression check in the fold's transaction and
    # must see the state it left (open), not the one the batch found (resolved).
    clock = Clock()
    container, _ = await engine(
        database_url, clock, rules={"min_occurrences": 2, "never_states": ["resolved", "muted"]}
    )
    try:
        accepted = await ingest(container, [crash("back")])
        group_id = accepted[0].group_id
        await container.changes.set_state(group_id, GroupState.RESOLVED, actor="t")
        clock.advance(60)
        await ingest(container, [crash("back", when=clock())])  # regresses, crosses 2
        group = await container.groups.snapshot(group_id)
        assert group.state is GroupState.OPEN
        assert [(i.kind, i.group_id) for i in await container.outbox.list()] == [(CREATE, group_id)]
    finally:
        await container.aclose()
