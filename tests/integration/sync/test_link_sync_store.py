"""The sync store: a decision is written whole, or not at all when its inputs moved."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from syncengine.bootstrap import bootstrap
from syncengine.settings import Settings
from syncengine.store.link_sync import AuditEntry, LinkSyncStore, SyncWrite
from syncengine.store.links import Snapshot
from syncengine.store.tables import ErrorGroup

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def test_commit_checks_snapshot_and_group(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path, projects={"shop": {}})
    container = await bootstrap(settings, migrate=False, clock=lambda: NOW)
    try:
        project = await container.projects.ensure("shop", name="", integration_active=True, now=NOW)
        async with container.db.session() as session:
            row = ErrorGroup(
                project_id=project.id,
                fingerprint="f",
                first_seen=NOW,
                last_seen=NOW,
                updated_at=NOW,
            )
            session.add(row)
            await session.flush()
            gid = row.id
        base = Snapshot(state="open", status="To Do", fix_versions=("2.3.0",))
        link = await container.links.link(
            project_id=project.id,
            group_id=gid,
            issue_id="1",
            issue_key="C-1",
            snapshot=base,
            now=NOW,
        )
        store = LinkSyncStore(container.db)
        write = SyncWrite(
            link_id=link.id,
            group_id=gid,
            project_id=project.id,
            now=NOW,
            snapshot=Snapshot(state="in_progress", status="In Progress", fix_versions=("2.3.0",)),
            group={"state": "in_progress"},
            expect={"state": "open", "assignee": None},
            audits=(AuditEntry(actor="sync", action="sync.apply", detail={"field": "state"}),),
            expect_snapshot=Snapshot(state="resolved", status="Done", fix_versions=("2.3.0",)),
        )
        assert not await store.commit(write)  # the snapshot moved on: nothing written
        assert (await store.group(gid)).state == "open"  # type: ignore[union-attr]
        assert await container.audit.for_group(gid) == []
        stale_group = replace(write, expect_snapshot=base, expect={"state": "muted"})
        assert not await store.commit(stale_group)  # the group moved on
        assert await store.commit(replace(write, expect_snapshot=base))
        assert (await store.group(gid)).state == "in_progress"  # type: ignore[union-attr]
        stored = await container.links.for_group(gid)
        assert stored is not None
        assert stored.snapshot.state == "in_progress"
        assert len(await container.audit.for_group(gid)) == 1
    finally:
        await container.aclose()
