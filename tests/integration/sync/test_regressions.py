"""Fix versions → resolved until; regressions reopen the group and the issue, once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from syncengine.domain.groups import GroupState
from syncengine.domain.reports import CrashReport
from tests.integration.sync.harness import SyncWorld, sync_world


async def fixed_in(world: SyncWorld, key: str, *versions: str) -> None:
    """A release manager closes the issue with fix versions."""
    await world.human.edit_issue(key, fields={"fixVersions": [{"name": v} for v in versions]})
    await world.human_transition(key, "Done", resolution="Done")
    await world.settle()


async def crash(world: SyncWorld, fingerprint: str, *versions: str) -> None:
    """One ingest batch of reports from ``versions``."""
    world.clock.now += timedelta(seconds=1)
    reports = [
        CrashReport(
            project="shop",
            timestamp=world.clock.now,
            fingerprint=fingerprint,
            classifier="KeyError",
            version=v,
        )
        for v in versions
    ]
    await world.container.groups.fold([(world.project_id, reports)], now=world.clock.now)


def comments(world: SyncWorld, key: str) -> list[str]:
    return [str(c.body) for c in world.sim.issue(key).comments]


@pytest.mark.parametrize("rule", ["version_ge", "version_gt"])
async def test_fix_version_bounds_the_resolution(
    database_url: str, tmp_path: Path, rule: str
) -> None:
    async with sync_world(database_url, tmp_path, resolve_rule=rule) as world:
        gid, key = await world.linked_group("fixed")
        await fixed_in(world, key, "2.2.0", "2.3.0")
        group = await world.group(gid)
        assert group.state == "resolved"
        assert group.resolve_rule is not None
        assert group.resolve_rule[0]["type"] == rule
        assert group.resolve_rule[0]["version"] == "2.3.0"  # the highest fix version
        await crash(world, "fixed", "2.2.9", "2.2.9")
        assert (await world.group(gid)).state == "resolved"  # older versions only count
        await crash(world, "fixed", "2.2.9", "2.3.0", "2.3.0")
        after = await world.group(gid)
        if rule == "version_ge":
            assert after.state == "open"
            [entry] = await world.audit(gid, "group.regression")
            assert (entry["version"], entry["breaking_reports"]) == ("2.3.0", 2)
        else:
            assert after.state == "resolved"
            await crash(world, "fixed", "2.3.1")
            after = await world.group(gid)
            assert after.state == "open"
            [entry] = await world.audit(gid, "group.regression")
            assert entry["version"] == "2.3.1"
        assert after.regression_count == 1
        assert after.last_regression_at is not None
        assert after.count == (6 if rule == "version_ge" else 7)  # every report counted
        assert entry["rule"][0]["version"] == "2.3.0"
        await world.settle()
        assert world.status(key) == "To Do"
        [note] = comments(world, key)
        assert f"version {entry['version']}" in note
        assert "regression #1" in note
        assert f"/groups/{gid}" in note


async def test_concurrent_batches_reopen_once(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("burst")
        await fixed_in(world, key, "2.3.0")
        await asyncio.gather(*(crash(world, "burst", "2.3.1", "2.4.0") for _ in range(4)))
        group = await world.group(gid)
        assert (group.state, group.regression_count) == ("open", 1)
        assert len(await world.audit(gid, "group.regression")) == 1
        items = await world.container.outbox.list(project_id=world.project_id)
        assert [i.kind for i in items] == ["link.regression"]
        await world.settle()
        assert world.status(key) == "To Do"
        assert len(comments(world, key)) == 1


async def test_done_without_fix_version_resolves_until_seen_again(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await world.linked_group("unbounded")
        await world.human.edit_issue(key, fields={"fixVersions": []})
        await world.human_transition(key, "Done", resolution="Done")
        await world.settle()
        group = await world.group(gid)
        assert group.state == "resolved"
        assert group.resolve_rule is not None
        assert group.resolve_rule[0]["type"] == "timestamp_gt"
        await crash(world, "unbounded", "1.0.0")
        assert await world.state(gid) is GroupState.OPEN


async def test_unparseable_fix_version_is_reported(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path, fix_version_pattern=r"^v(\d+\.\d+\.\d+)$") as w:
        gid, key = await w.linked_group("weird")
        await fixed_in(w, key, "2.3.0")  # the pattern wants "v2.3.0"
        group = await w.group(gid)
        assert group.state == "resolved"
        assert group.last_sync_error is not None
        assert "2.3.0" in group.last_sync_error


async def test_regression_files_a_new_linked_issue(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path, regression_action="new_issue") as world:
        gid, old = await world.linked_group("again")
        await fixed_in(world, old, "2.3.0")
        await crash(world, "again", "2.4.0")
        await world.settle()
        link = await world.container.links.for_group(gid)
        assert link is not None
        assert link.issue_key != old
        assert world.status(old) == "Done"  # the old issue stays closed
        assert not [x for x in world.sim.issue(old).fields.get("labels") or [] if "-" in x]
        [note] = comments(world, link.issue_key)
        assert f"Previously tracked in {old}" in note
        assert "version 2.4.0" in note
        [remote] = world.sim.issue(link.issue_key).remote_links
        assert old in str(remote)
        [entry] = await world.audit(gid, "link.deleted")
        assert entry["via"] == "regression"


@pytest.mark.parametrize("action", ["reopen", "new_issue"])
async def test_a_lost_comment_answer_makes_one_regression_comment(
    database_url: str, tmp_path: Path, action: str
) -> None:
    """Jira posts the regression comment and the answer is lost: the retry looks for it
    before commenting again."""
    async with sync_world(database_url, tmp_path, regression_action=action) as world:
        gid, old = await world.linked_group("lost-note")
        await fixed_in(world, old, "2.3.0")
        world.sim.add_fault(
            kind="commit_then_fail", method="POST", route="*/comment", drop=True, remaining=1
        )
        await crash(world, "lost-note", "2.4.0")
        for _ in range(10):
            await world.settle()
            world.clock.now += timedelta(minutes=1)
        link = await world.container.links.for_group(gid)
        assert link is not None
        notes = comments(world, link.issue_key)
        assert len(notes) == 1, notes
        items = await world.container.outbox.list(project_id=world.project_id)
        assert [i.kind for i in items if i.state != "done"] == []


async def test_long_closed_issue_gets_a_new_one(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path, new_issue_after_days=3) as world:
        gid, old = await world.linked_group("ancient")
        await fixed_in(world, old, "2.3.0")
        world.clock.now += timedelta(days=4)
        await crash(world, "ancient", "2.3.0")
        await world.settle()
        link = await world.container.links.for_group(gid)
        assert link is not None
        assert link.issue_key != old
        [entry] = await world.audit(gid, "link.deleted")
        assert "days ago (more than 3)" in entry["reason"]


async def test_recently_closed_issue_is_reopened(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path, new_issue_after_days=3) as world:
        gid, key = await world.linked_group("recent")
        await fixed_in(world, key, "2.3.0")
        world.clock.now += timedelta(days=1)
        await crash(world, "recent", "2.3.0")
        await world.settle()
        link = await world.container.links.for_group(gid)
        assert link is not None
        assert link.issue_key == key
        assert world.status(key) == "To Do"


@pytest.mark.parametrize("scheme", ["semver", "loose", "pep440"])
async def test_sentry_package_at_version_releases_resolve_and_regress(
    database_url: str, tmp_path: Path, scheme: str
) -> None:
    async with sync_world(database_url, tmp_path, version_scheme=scheme) as world:
        gid, key = await world.linked_group("pkg")
        await fixed_in(world, key, "2.3.0")
        await crash(world, "pkg", "checkout-service@2.2.0", "checkout-service@2.2.9+981")
        group = await world.group(gid)
        assert (group.state, group.version_problem) == ("resolved", None)
        await crash(world, "pkg", "checkout-service@2.3.0+1002")
        group = await world.group(gid)
        assert (group.state, group.regression_count) == ("open", 1)
        [entry] = await world.audit(gid, "group.regression")
        assert entry["version"] == "checkout-service@2.3.0+1002"
        assert entry["problems"] == []


async def test_the_version_problem_does_not_depend_on_batching(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path, version_scheme="semver") as world:
        gid, key = await world.linked_group("odd-batch")
        await fixed_in(world, key, "2.3.0")
        await crash(world, "odd-batch", "nightly-7f3a", "2.2.9")  # the clean one came last
        assert (await world.group(gid)).version_problem is None
        await crash(world, "odd-batch", "2.2.9", "nightly-7f3a")
        problem = (await world.group(gid)).version_problem
        assert problem is not None
        assert "'nightly-7f3a' is not a semver version" in problem
        assert (await world.group(gid)).state == "resolved"


async def test_an_unorderable_version_is_said_on_the_group_and_audited_once(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path, version_scheme="semver") as world:
        gid, key = await world.linked_group("odd")
        await fixed_in(world, key, "2.3.0")
        await crash(world, "odd", "nightly-7f3a")
        await crash(world, "odd", "nightly-7f3a")  # the same problem again: no second entry
        group = await world.group(gid)
        assert group.state == "resolved"  # it cannot be shown to come from a fixed build
        assert group.version_problem is not None
        assert "'nightly-7f3a' is not a semver version" in group.version_problem
        [entry] = await world.audit(gid, "group.version_unreadable")
        assert "nightly-7f3a" in entry["problem"]
        snapshot = await world.container.groups.snapshot(gid)
        assert snapshot.version_problem == group.version_problem
        await crash(world, "odd", "2.2.9")  # readable again: the note goes
        assert (await world.group(gid)).version_problem is None
        await crash(world, "odd", "nightly-7f3a", "2.3.1")  # a regression clears it too
        group = await world.group(gid)
        assert (group.state, group.version_problem) == ("open", None)
        [entry] = await world.audit(gid, "group.regression")
        assert any("nightly-7f3a" in p for p in entry["problems"])
