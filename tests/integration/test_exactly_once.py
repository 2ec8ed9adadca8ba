"""Exactly one issue per group against a Jira whose search lags and whose answers come late.

Time is simulated: the engine's clock and the simulator's move together, so minutes
of search lag take no wall time. Only the "late" fault (a create Jira finishes after
the client gave up) waits for real, a fraction of a second.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from syncengine.bootstrap import Container
from syncengine.domain.fields import identity_label
from syncengine.jira.errors import JiraNotSent
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN, Simulator
from syncengine.store.create_records import UNKNOWN
from syncengine.store.outbox import State
from syncengine.sync.tickets import group_key
from syncengine.sync.worker import OutboxWorker
from tests.integration.lifecycle_harness import Clock, crash, engine, ingest


async def _settle(container: Container, clock: Clock, *, minutes: int = 12, step: int = 30) -> None:
    """Let the engine retry for ``minutes`` of simulated time."""
    for _ in range(minutes * 60 // step):
        clock.advance(step)
        await container.worker.drain()


def _crash_issues(sim: Simulator) -> list[str]:
    return [i.key for i in sim.issues("CRASH")]


@pytest.mark.parametrize("lag", [0, 5, 30, 300])
async def test_a_lost_create_answer_makes_one_issue_under_search_lag(
    database_url: str, lag: int
) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=lag)
    container, _ = await engine(database_url, clock, sim)
    try:
        sim.add_fault(kind="commit_then_fail", route="POST /issue", drop=True, remaining=1)
        accepted = await ingest(container, [crash("fp-lost")])
        await container.worker.drain()
        assert len(_crash_issues(sim)) == 1  # created; the answer was lost
        await _settle(container, clock)
        assert len(_crash_issues(sim)) == 1
        link = await container.links.for_group(accepted[0].group_id)
        assert link is not None
        assert link.issue_key == _crash_issues(sim)[0]
    finally:
        await container.aclose()


async def test_a_lost_bulk_answer_makes_one_issue_each_under_search_lag(
    database_url: str,
) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=120)
    container, _ = await engine(database_url, clock, sim)
    try:
        sim.add_fault(kind="commit_then_fail", route="POST /issue/bulk", drop=True, remaining=1)
        accepted = await ingest(container, [crash(f"fp-{n}") for n in range(8)])
        await container.worker.drain()
        assert len(_crash_issues(sim)) == 8
        await _settle(container, clock)
        assert len(_crash_issues(sim)) == 8
        keys = {(await container.links.for_group(a.group_id)) is not None for a in accepted}
        assert keys == {True}
    finally:
        await container.aclose()


async def test_one_unreadable_issue_holds_back_only_its_own_group(database_url: str) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=0)
    container, _ = await engine(database_url, clock, sim)
    try:
        sim.add_fault(kind="commit_then_fail", route="POST /issue/bulk", drop=True, remaining=1)
        accepted = await ingest(container, [crash(f"fp-read-{n}") for n in range(8)])
        await container.worker.drain()
        made = sim.issues("CRASH")
        assert len(made) == 8  # created; the answer was lost, so each must be looked up
        # One of the eight cannot be read (Jira fails on it every time): it alone waits.
        sim.add_fault(kind="error", status=503, method="GET", route=f"*/issue/{made[3].id}")
        for _ in range(24):  # until the lookup has run (after the consistency window)
            clock.advance(30)
            await container.worker.drain()
            if any("read issue" in (i.last_error or "") for i in await container.outbox.list()):
                break
        # In that same lookup the other seven were found and linked.
        linked = [await container.links.for_group(a.group_id) for a in accepted]
        assert sum(link is not None for link in linked) == 7
        (waiting,) = [i for i in await container.outbox.list() if i.state == State.PENDING]
        assert f"read issue {made[3].id}" in (waiting.last_error or "")
        sim.clear_faults()
        await _settle(container, clock, minutes=40)
        assert len(_crash_issues(sim)) == 8  # never a second issue for the held-back group
        for group in accepted:
            assert await container.links.for_group(group.group_id) is not None
    finally:
        await container.aclose()


async def test_the_engine_waits_out_the_window_before_looking(database_url: str) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=200)
    container, _ = await engine(database_url, clock, sim)
    try:
        sim.add_fault(kind="commit_then_fail", route="POST /issue", drop=True, remaining=1)
        await ingest(container, [crash("fp-wait")])
        await container.worker.drain()
        searches = sim.calls("POST /search/jql")
        for _ in range(9):  # 4.5 minutes: inside timeout + search lag (30 s + 300 s)
            clock.advance(30)
            await container.worker.drain()
        assert sim.calls("POST /search/jql") == searches  # nothing trusted the search yet
        assert sim.calls("POST /issue") == 1
        (item,) = await container.outbox.list()
        assert UNKNOWN in item.payload
        assert "is unknown" in (item.last_error or "")
    finally:
        await container.aclose()


async def test_a_create_answered_after_the_client_timeout_makes_one_issue(
    database_url: str,
) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=30)
    container, _ = await engine(database_url, clock, sim, jira_timeout=0.1)
    try:
        # Jira commits 2 s late, long after the client's 0.1 s (even on a loaded machine).
        sim.add_fault(kind="late", route="POST /issue", seconds=2.0, remaining=1)
        accepted = await ingest(container, [crash("fp-late")])
        await container.worker.drain()
        assert _crash_issues(sim) == []  # the client gave up; Jira is still at it
        for _ in range(300):
            await asyncio.sleep(0.02)
            if _crash_issues(sim):
                break
        assert len(_crash_issues(sim)) == 1  # ...and committed it after the timeout
        await _settle(container, clock)
        assert len(_crash_issues(sim)) == 1
        assert await container.links.for_group(accepted[0].group_id) is not None
    finally:
        await container.aclose()


async def test_a_bulk_create_answered_after_the_client_timeout_makes_one_issue_each(
    database_url: str,
) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=30)
    container, _ = await engine(database_url, clock, sim, jira_timeout=0.1)
    try:
        # Jira commits 2 s late, long after the client's 0.1 s (even on a loaded machine).
        sim.add_fault(kind="late", route="POST /issue/bulk", seconds=2.0, remaining=1)
        accepted = await ingest(container, [crash(f"fp-late-{n}") for n in range(6)])
        await container.worker.drain()
        assert _crash_issues(sim) == []  # the client gave up on the bulk call
        for _ in range(300):
            await asyncio.sleep(0.02)
            if _crash_issues(sim):
                break
        assert len(_crash_issues(sim)) == 6  # ...which Jira committed after the timeout
        await _settle(container, clock)
        assert len(_crash_issues(sim)) == 6
        for group in accepted:
            assert await container.links.for_group(group.group_id) is not None
    finally:
        await container.aclose()


async def test_a_process_that_died_mid_create_is_taken_over_without_a_second_issue(
    database_url: str,
) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=60)
    container, _ = await engine(database_url, clock, sim)
    try:
        sim.add_fault(kind="late", route="POST /issue", seconds=0.3, remaining=1)
        accepted = await ingest(container, [crash("fp-paused")])
        first = asyncio.create_task(container.worker.run_once())
        for _ in range(100):  # the create is in flight...
            await asyncio.sleep(0.01)
            if sim.calls() and any(i.payload.get("create_sent") for i in await _items(container)):
                break
        first.cancel()  # ...when the process stops (kill -9, or SIGSTOP past its lease)
        await asyncio.gather(first, return_exceptions=True)
        await asyncio.sleep(0.5)  # Jira still commits the request it had
        assert len(_crash_issues(sim)) == 1
        other = _other_worker(container, "process-b")
        for _ in range(24):  # 12 minutes: the lease (120 s) runs out, another takes over
            clock.advance(30)
            await other.drain()
        assert len(_crash_issues(sim)) == 1
        assert await container.links.for_group(accepted[0].group_id) is not None
    finally:
        await container.aclose()


async def test_a_worker_whose_claim_ran_out_sends_nothing(database_url: str) -> None:
    clock = Clock()
    sim = clock.simulator()
    container, _ = await engine(database_url, clock, sim)
    try:
        await ingest(container, [crash("fp-stale")])
        (stale,) = await container.outbox.claim("paused", now=clock(), lease=timedelta(seconds=120))
        clock.advance(121)  # paused past its lease; another process takes the item
        (taken,) = await container.outbox.claim("b", now=clock(), lease=timedelta(seconds=120))
        outcome = await container.tickets.create_many([stale])
        assert outcome[stale.id] is not None
        assert "claim" in str(outcome[stale.id])
        assert _crash_issues(sim) == []
        assert (await container.tickets.create_many([taken]))[taken.id] is None
        assert len(_crash_issues(sim)) == 1
    finally:
        await container.aclose()


@pytest.mark.parametrize("groups", [1, 3])  # one create, a bulk create
async def test_a_worker_paused_between_its_record_and_its_send_sends_nothing(
    database_url: str, groups: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGSTOP right after the write-ahead record: the worker that takes over creates the
    issues while this one sleeps; this one's late send must not make second ones."""
    clock = Clock()
    sim = clock.simulator()
    container, _ = await engine(database_url, clock, sim)
    try:
        await ingest(container, [crash(f"fp-gap-{n}") for n in range(groups)])
        stale = await container.outbox.claim("paused", now=clock(), lease=timedelta(seconds=120))
        records = container.tickets._records
        announce = records.announce
        other = _other_worker(container, "process-b")

        async def announce_then_pause(works: Any) -> Any:
            held = await announce(works)
            monkeypatch.setattr(records, "announce", announce)  # the other worker's is real
            for _ in range(24):  # 12 minutes asleep: B takes over, waits, looks, creates
                clock.advance(30)
                await other.drain()
            assert len(_crash_issues(sim)) == groups
            return held

        monkeypatch.setattr(records, "announce", announce_then_pause)
        outcome = await container.tickets.create_many(stale)
        assert len(_crash_issues(sim)) == groups  # nothing of the paused worker's went out
        assert all(isinstance(outcome[work.id], JiraNotSent) for work in stale), outcome
        for work in stale:
            assert work.group_id is not None
            assert await container.links.for_group(work.group_id) is not None
    finally:
        await container.aclose()


@pytest.mark.parametrize("state", [State.DEAD, State.PENDING])
async def test_operator_retry_of_a_create_whose_issue_exists_links_it(
    database_url: str, state: str
) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=30)
    container, _ = await engine(database_url, clock, sim)
    try:
        sim.add_fault(kind="commit_then_fail", route="POST /issue", drop=True, remaining=1)
        accepted = await ingest(container, [crash("fp-retry")])
        await container.worker.drain()
        (item,) = await container.outbox.list()
        if state == State.DEAD:
            # The lookup is refused for good (say, a permission taken away meanwhile).
            rule = sim.add_fault(kind="error", status=400, route="POST /search/jql")
            clock.advance(400)
            await container.worker.drain()
            sim.faults.remove(rule)
            assert (await container.outbox.get(item.id)).state == State.DEAD  # type: ignore[union-attr]
        assert await container.outbox.requeue(item.id, actor="ops", now=clock())
        await container.worker.drain()  # pressed at once: within the window, nothing is sent
        assert len(_crash_issues(sim)) == 1
        await _settle(container, clock)
        assert len(_crash_issues(sim)) == 1
        link = await container.links.for_group(accepted[0].group_id)
        assert link is not None
        assert link.issue_key == _crash_issues(sim)[0]
    finally:
        await container.aclose()


async def test_a_forged_identity_label_is_never_adopted(database_url: str) -> None:
    clock = Clock()
    sim = clock.simulator()
    container, _ = await engine(
        database_url, clock, sim, jira={"labels": ["syncengine", "${channel}"]}
    )
    try:
        victim_label = identity_label(group_key("shop", "fp-victim"))
        victim_key = group_key("shop", "fp-victim")
        forged: list[str] = []
        async with sim.client(login=DEFAULT_LOGIN, token=DEFAULT_TOKEN) as jira:
            for project, prop in (
                ("CRASH", None),  # a label typed by hand
                ("CRASH", {"group": group_key("shop", "fp-attacker"), "project": "shop"}),
                ("CRASH", {"group": victim_key, "project": "elsewhere"}),
                ("SUP", {"group": victim_key, "project": "shop"}),  # another Jira project
            ):
                forged.append(await _forge(jira, project, victim_label, prop))
        # A report whose attribute carries the victim's identity label, through ${channel}.
        await ingest(container, [crash("fp-attacker", channel=victim_label)])
        await container.worker.drain()
        attacker = [i for i in sim.issues("CRASH") if i.key not in forged]
        assert len(attacker) == 1
        assert victim_label not in attacker[0].fields["labels"]  # the reserved prefix is dropped
        # The victim's first create fails, so its retry looks its identity up.
        sim.add_fault(kind="commit_then_fail", route="POST /issue", drop=True, remaining=1)
        victim = await ingest(container, [crash("fp-victim")])
        await container.worker.drain()
        own = [i.key for i in sim.issues("CRASH") if i.key not in forged][1:]
        await _settle(container, clock)
        link = await container.links.for_group(victim[0].group_id)
        assert link is not None
        assert link.issue_key not in forged
        assert link.issue_key == own[0]
        assert sim.issue(link.issue_key).properties["syncengine"]["group"] == victim_key
    finally:
        await container.aclose()


async def _forge(jira: Any, project: str, label: str, prop: dict[str, str] | None) -> str:
    fields: dict[str, Any] = {
        "project": {"key": project},
        "issuetype": {"name": "Task"},
        "summary": "not yours",
        "labels": [label],
    }
    if project == "SUP":
        fields["customfield_10070"] = {"value": "Question"}
    body: dict[str, Any] = {"fields": fields}
    if prop is not None:
        body["properties"] = [{"key": "syncengine", "value": prop}]
    answer = await jira.post("/rest/api/2/issue", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["key"])


async def _items(container: Container) -> list[Any]:
    return await container.outbox.list(states=(State.PENDING, State.RUNNING))


def _other_worker(container: Container, name: str) -> OutboxWorker:
    mine = container.worker
    return OutboxWorker(
        mine.outbox,
        mine.handlers,
        worker_id=name,
        clock=mine.clock,
        policy=mine.policy,
        lease=mine.lease,
        batch_handlers=mine.batch_handlers,
    )


async def test_the_sweep_closes_a_duplicate_made_under_a_lag_past_the_window(
    database_url: str,
) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=900)  # slower than the configured 300 s
    container, _ = await engine(database_url, clock, sim)
    try:
        sim.add_fault(kind="commit_then_fail", route="POST /issue", drop=True, remaining=1)
        accepted = await ingest(container, [crash("fp-dup")])
        await container.worker.drain()
        await _settle(container, clock)
        assert len(_crash_issues(sim)) == 2  # the configured window was too short
        link = await container.links.for_group(accepted[0].group_id)
        assert link is not None
        (sweep,) = [j for j in container.jobs if j.name == "tickets.duplicates"]
        clock.advance(900)  # the search has caught up
        await sweep.func()
        (duplicate,) = [i for i in sim.issues("CRASH") if i.key != link.issue_key]
        kept = sim.issue(link.issue_key)
        assert duplicate.issue_links == [("Duplicate", kept.id)]
        assert sim.state.statuses[duplicate.status_id].category.key == "done"
        assert sim.state.resolutions[duplicate.resolution_id or ""].name == "Duplicate"
        assert f"Duplicate of {kept.key}" in str(duplicate.comments[-1].body)
        label = identity_label(group_key("shop", "fp-dup"))
        assert label not in duplicate.fields["labels"]
        assert label in kept.fields["labels"]
        assert kept.status_id != duplicate.status_id
        audit = await container.audit.for_group(accepted[0].group_id)
        assert [e.detail for e in audit if e.action == "ticket.duplicate_closed"] == [
            {"issue": duplicate.key, "duplicate_of": kept.key}
        ]
        await sweep.func()  # nothing left to close: no second comment, no second entry
        audit = await container.audit.for_group(accepted[0].group_id)
        assert len([e for e in audit if e.action == "ticket.duplicate_closed"]) == 1
    finally:
        await container.aclose()


async def test_a_sweep_cut_short_after_its_comment_does_not_comment_twice(
    database_url: str,
) -> None:
    clock = Clock()
    sim = clock.simulator(search_lag=900)
    container, _ = await engine(database_url, clock, sim)
    try:
        sim.add_fault(kind="commit_then_fail", route="POST /issue", drop=True, remaining=1)
        await ingest(container, [crash("fp-dup-cut")])
        await container.worker.drain()
        await _settle(container, clock)
        assert len(_crash_issues(sim)) == 2
        (sweep,) = [j for j in container.jobs if j.name == "tickets.duplicates"]
        clock.advance(900)
        # The label's removal, the step after the comment, is refused once.
        sim.add_fault(kind="error", status=400, method="PUT", route="*/issue/*", remaining=1)
        await sweep.func()
        await sweep.func()
        notes = [
            str(c.body)
            for issue in sim.issues("CRASH")
            for c in issue.comments
            if "Duplicate of" in str(c.body)
        ]
        assert len(notes) == 1, notes
    finally:
        await container.aclose()
