"""Engine-side group changes: audited, and owing Jira a push only when linked and syncing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from syncengine.bootstrap import Container, bootstrap
from syncengine.domain.groups import GroupState
from syncengine.errors import NotFound
from syncengine.settings import Settings
from syncengine.store.links import Snapshot
from syncengine.store.tables import ErrorGroup
from syncengine.sync.changes import PUSH

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def _container(database_url: str, mode: str = "two_way") -> Container:
    settings = Settings(
        database_url=database_url,
        data_dir=Path("/nonexistent"),
        projects={"shop": {"jira": {"url": "https://jira.invalid"}, "sync": {"mode": mode}}},
    )
    return await bootstrap(settings, migrate=False, clock=lambda: NOW)


async def _group(container: Container, fingerprint: str) -> tuple[int, int]:
    project = await container.projects.ensure("shop", name="", integration_active=True, now=NOW)
    async with container.db.session() as session:
        row = ErrorGroup(
            project_id=project.id,
            fingerprint=fingerprint,
            first_seen=NOW,
            last_seen=NOW,
            updated_at=NOW,
        )
        session.add(row)
        await session.flush()
        return project.id, row.id


async def test_linked_change_is_audited_and_pushed(database_url: str) -> None:
    container = await _container(database_url)
    try:
        pid, gid = await _group(container, "f1")
        await container.links.link(
            project_id=pid,
            group_id=gid,
            issue_id="1",
            issue_key="C-1",
            snapshot=Snapshot(state="open"),
            now=NOW,
        )
        result = await container.changes.set_state(
            gid,
            GroupState.RESOLVED,
            actor="ann@x.io",
            resolve_rule=[{"type": "timestamp_gt", "timestamp": 1}],
        )
        assert (result.before, result.after, result.pushed) == ("open", "resolved", True)
        assigned = await container.changes.assign(gid, " bob@x.io ", actor="ann@x.io")
        assert assigned.after == "bob@x.io"
        items = await container.outbox.list(project_id=pid)
        assert [(i.kind, i.payload["fields"]) for i in items] == [
            (PUSH, ["state"]),
            (PUSH, ["assignee"]),
        ]
        trail = await container.audit.for_group(gid)
        assert [t.action for t in trail] == ["group.assignee", "group.state"]
        async with container.db.session() as session:
            row = await session.scalar(select(ErrorGroup).where(ErrorGroup.id == gid))
            assert row is not None
            assert row.resolve_rule == [{"type": "timestamp_gt", "timestamp": 1}]
            assert row.resolved_at == NOW
        reopened = await container.changes.set_state(gid, GroupState.OPEN, actor="ann@x.io")
        assert reopened.pushed
    finally:
        await container.aclose()


@pytest.mark.parametrize("mode", ["off"])
async def test_no_push_when_unlinked_unchanged_or_sync_off(database_url: str, mode: str) -> None:
    container = await _container(database_url, mode=mode)
    try:
        pid, gid = await _group(container, "f2")
        unlinked = await container.changes.set_state(gid, GroupState.MUTED, actor="a")
        assert not unlinked.pushed
        await container.links.link(
            project_id=pid,
            group_id=gid,
            issue_id="2",
            issue_key="C-2",
            snapshot=Snapshot(),
            now=NOW,
        )
        off = await container.changes.set_state(gid, GroupState.OPEN, actor="a")
        assert not off.pushed
        same = await container.changes.set_state(gid, GroupState.OPEN, actor="a")
        assert not same.pushed
        assert await container.outbox.list(project_id=pid) == []
        assert len(await container.audit.for_group(gid)) == 2
        with pytest.raises(NotFound):
            await container.changes.assign(999999, "x", actor="a")
    finally:
        await container.aclose()
