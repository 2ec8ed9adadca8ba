"""Issue links on every backend: idempotent linking, lookup by id, moves, unlink."""

from __future__ import annotations

from datetime import UTC, datetime

from syncengine.store.audit import AuditRepository
from syncengine.store.database import Database
from syncengine.store.links import IssueLinkRepository, Snapshot
from syncengine.store.projects import ProjectRepository
from syncengine.store.tables import ErrorGroup

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def _setup(db: Database) -> tuple[int, int]:
    project = await ProjectRepository(db).ensure("shop", name="", integration_active=True, now=NOW)
    async with db.session() as session:
        group = ErrorGroup(
            project_id=project.id, fingerprint="f", first_seen=NOW, last_seen=NOW, updated_at=NOW
        )
        session.add(group)
        await session.flush()
        return project.id, group.id


async def test_link_is_idempotent_per_group(db: Database) -> None:
    pid, gid = await _setup(db)
    links = IssueLinkRepository(db)
    first = await links.link(
        project_id=pid,
        group_id=gid,
        issue_id="10001",
        issue_key="CRASH-1",
        snapshot=Snapshot(state="open", status="To Do"),
        now=NOW,
    )
    again = await links.link(
        project_id=pid,
        group_id=gid,
        issue_id="10002",
        issue_key="CRASH-2",
        snapshot=Snapshot(),
        now=NOW,
    )
    assert again == first
    assert await links.for_issue(pid, "10001") == first
    assert await links.for_issue(pid, "10002") is None


async def test_snapshot_and_move_and_unlink(db: Database) -> None:
    pid, gid = await _setup(db)
    links = IssueLinkRepository(db)
    link = await links.link(
        project_id=pid,
        group_id=gid,
        issue_id="10001",
        issue_key="CRASH-1",
        snapshot=Snapshot(state="open"),
        now=NOW,
    )
    await links.save_snapshot(
        link.id,
        Snapshot(state="resolved", status="Done", assignee="a@b", fix_versions=("2.3.0",)),
        now=NOW,
        issue_key="OPS-7",
    )
    moved = await links.for_issue(pid, "10001")
    assert moved is not None
    assert moved.issue_key == "OPS-7"
    assert moved.snapshot == Snapshot(
        state="resolved", status="Done", assignee="a@b", fix_versions=("2.3.0",)
    )
    await links.unlink(link.id)
    assert await links.for_group(gid) is None


async def test_audit_trail_newest_first(db: Database) -> None:
    pid, gid = await _setup(db)
    audit = AuditRepository(db)
    await audit.record(actor="a", action="one", detail={}, now=NOW, project_id=pid, group_id=gid)
    await audit.record(
        actor="b", action="two", detail={"x": 1}, now=NOW, project_id=pid, group_id=gid
    )
    trail = await audit.for_group(gid)
    assert [t.action for t in trail] == ["two", "one"]
    assert trail[0].detail == {"x": 1}
