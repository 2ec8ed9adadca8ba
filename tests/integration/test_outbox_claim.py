"""The outbox claim at scale: what it must keep (per-subject order, dead items block their
own subject only, Passive waits) while reading only items that wait for nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, event, insert, select, text, update

from syncengine.store import ticket_queue
from syncengine.store.database import Database
from syncengine.store.migrate import alembic_config, upgrade
from syncengine.store.outbox import OutboxRepository, State
from syncengine.store.projects import ProjectRepository
from syncengine.store.tables import ErrorGroup, OutboxItem, Project
from syncengine.store.ticket_queue import DueTicket, queue_tickets
from syncengine.store.work_kinds import LINK_PULL, LINK_PUSH, LINK_REGRESSION
from tests.integration.test_outbox import LEASE, T0, _add, _group, _project


async def _claim_ids(outbox: OutboxRepository, now: datetime = T0, limit: int = 50) -> list[int]:
    return [c.id for c in await outbox.claim("w", now=now, lease=LEASE, limit=limit)]


async def test_a_dropped_waiting_item_keeps_its_followers_behind_the_running_one(
    db: Database,
) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    g = await _group(db, pid, "a")
    create = await _add(db, pid, "create", group_id=g)
    comment = await _add(db, pid, "comment", group_id=g)
    transition = await _add(db, pid, "transition", group_id=g)
    assert await _claim_ids(outbox) == [create]
    assert await outbox.drop(comment, actor="ops", now=T0)
    # The transition now waits for the create (still running), not for nothing.
    assert await _claim_ids(outbox) == []
    assert await outbox.complete(create, "w", now=T0)
    assert await _claim_ids(outbox) == [transition]


async def test_items_queued_in_one_transaction_run_in_their_order(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    g = await _group(db, pid, "a")
    async with db.session() as session:
        first = OutboxRepository.add(
            session, project_id=pid, kind="create", payload={}, group_id=g, now=T0
        )
        second = OutboxRepository.add(
            session, project_id=pid, kind="comment", payload={}, group_id=g, now=T0
        )
        await session.flush()
        ids = (first.id, second.id)
    assert await _claim_ids(outbox) == [ids[0]]
    assert await outbox.complete(ids[0], "w", now=T0)
    assert await _claim_ids(outbox) == [ids[1]]


async def test_support_request_items_wait_behind_their_request(db: Database) -> None:
    from syncengine.store.tables import SupportRequest

    outbox = OutboxRepository(db)
    pid = await _project(db)
    async with db.session() as session:
        request = SupportRequest(
            project_id=pid,
            reporter="r@example.com",
            label="l",
            summary="s",
            description="d",
            category="c",
            api_product="p",
            endpoint="e",
            created_at=T0,
            updated_at=T0,
        )
        session.add(request)
        await session.flush()
        rid = request.id
    items = []
    for kind in ("support.create", "support.attach"):
        async with db.session() as session:
            row = OutboxRepository.add(
                session, project_id=pid, kind=kind, payload={}, support_request_id=rid, now=T0
            )
            await session.flush()
            items.append(row.id)
    assert await _claim_ids(outbox) == [items[0]]
    assert await outbox.complete(items[0], "w", now=T0)
    assert await _claim_ids(outbox) == [items[1]]


async def test_dead_and_blocked_items_cost_the_claim_nothing_and_others_run(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    stuck = await _group(db, pid, "stuck")
    dead = await _add(db, pid, "create", group_id=stuck)
    followers = [await _add(db, pid, "comment", group_id=stuck) for _ in range(30)]
    assert await _claim_ids(outbox) == [dead]
    assert await outbox.kill(dead, "w", error="400 from Jira", now=T0)
    others = [
        await _add(db, pid, "create", group_id=await _group(db, pid, f"g{i}")) for i in range(3)
    ]
    assert await _claim_ids(outbox, limit=2) == others[:2]
    assert await _claim_ids(outbox) == others[2:]
    assert await _claim_ids(outbox) == []
    # A worker sleeps: nothing claimable is due (the followers wait behind the dead item).
    assert await outbox.next_due() is None
    assert await outbox.requeue(dead, actor="ops", now=T0)
    assert await _claim_ids(outbox) == [dead]
    assert await outbox.complete(dead, "w", now=T0)
    for follower in followers:
        assert await _claim_ids(outbox) == [follower]
        assert await outbox.complete(follower, "w", now=T0)


@pytest.mark.parametrize("kind", [LINK_PUSH, LINK_REGRESSION])
async def test_a_dead_link_sync_holds_nothing_back_and_stays_visible(
    db: Database, kind: str
) -> None:
    # Issue 19: a refused push (or regression reopen) must not block the link's later
    # pushes forever; they carry the latest desired state. A dead create still blocks.
    outbox = OutboxRepository(db)
    pid = await _project(db)
    g = await _group(db, pid, "a")
    first = await _add(db, pid, kind, group_id=g)
    waiting = await _add(db, pid, LINK_PUSH, group_id=g)  # queued while the first runs
    assert await _claim_ids(outbox) == [first]
    assert await outbox.kill(first, "w", error="400 from Jira", now=T0)
    assert await _claim_ids(outbox) == [waiting]  # handed on when the first died
    later = await _add(db, pid, LINK_PULL, group_id=g)  # queued after: waits for nothing dead
    assert await outbox.kill(waiting, "w", error="400 again", now=T0)
    assert await _claim_ids(outbox) == [later]
    assert await outbox.complete(later, "w", now=T0)
    after = await _add(db, pid, LINK_PUSH, group_id=g)
    assert await _claim_ids(outbox) == [after]
    dead = await outbox.list(project_id=pid, states=(State.DEAD,))
    assert [item.id for item in dead] == [first, waiting]
    # The operator may still retry one: it runs beside the link's later work.
    assert await outbox.requeue(first, actor="ops", now=T0)
    assert await _claim_ids(outbox) == [first]


async def test_a_dead_create_still_blocks_the_pushes_behind_it(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    g = await _group(db, pid, "a")
    create = await _add(db, pid, "ticket.create", group_id=g)
    assert await _claim_ids(outbox) == [create]
    assert await outbox.kill(create, "w", error="400 from Jira", now=T0)
    await _add(db, pid, LINK_PUSH, group_id=g)
    assert await _claim_ids(outbox) == []
    assert await outbox.next_due() is None


async def test_passive_items_do_not_wake_the_worker(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db, active=False)
    await _add(db, pid, "create")
    assert await outbox.next_due() is None
    await ProjectRepository(db).set_active("shop", True, actor="ops", now=T0)
    assert await outbox.next_due() == T0


async def test_due_order_is_next_attempt_then_id(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    later = await _add(db, pid, "create", now=T0 + timedelta(seconds=5))
    sooner = await _add(db, pid, "create", now=T0)
    also_sooner = await _add(db, pid, "create", now=T0)
    assert await _claim_ids(outbox, now=T0 + timedelta(seconds=10)) == [
        sooner,
        also_sooner,
        later,
    ]


async def test_a_follower_whose_predecessor_finished_unseen_is_released(db: Database) -> None:
    # What a PostgreSQL race leaves behind: the predecessor's completion committed
    # while the follower's insert could not see it, so nobody handed it on.
    outbox = OutboxRepository(db)
    pid = await _project(db)
    g = await _group(db, pid, "a")
    first = await _add(db, pid, "create", group_id=g)
    second = await _add(db, pid, "comment", group_id=g)
    async with db.session() as session:
        await session.execute(
            update(OutboxItem).where(OutboxItem.id == first).values(state=State.DONE)
        )
    assert await _claim_ids(outbox) == []  # this short claim sets the follower free
    assert await _claim_ids(outbox) == [second]


async def test_ticket_rules_and_regressions_queue_behind_the_groups_work(db: Database) -> None:
    outbox = OutboxRepository(db)
    pid = await _project(db)
    g = await _group(db, pid, "a")
    update_item = await _add(db, pid, "link.update", group_id=g)
    due = [DueTicket(project_id=pid, group_id=g, reason="r")]
    await db.run_bulk(lambda conn: queue_tickets(conn, due, kind="create", now=T0))
    async with db.session() as session:
        create = await session.scalar(select(OutboxItem.id).where(OutboxItem.kind == "create"))
    assert await _claim_ids(outbox) == [update_item]
    assert await outbox.complete(update_item, "w", now=T0)
    assert await _claim_ids(outbox) == [create]


def _plan_as_sent(tmp_path: Path, query: Any, parameters: dict[str, Any]) -> str:
    """SQLite's plan for ``query`` as SQLAlchemy sends it: its SQL with bound parameters,
    not literals (a literal can let the planner use a partial index that a bound value
    cannot, which hid a scan of the whole outbox once)."""
    url = f"sqlite:///{tmp_path}/plan.db"
    upgrade(url)
    engine = create_engine(url)
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            conn.execute(query, parameters)
            statement, params = sent[-1]
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            return " | ".join(row[-1] for row in rows)
    finally:
        engine.dispose()


def test_claim_reads_the_ready_index_on_sqlite(tmp_path: Path) -> None:
    repo = OutboxRepository(Database(f"sqlite+aiosqlite:///{tmp_path}/unused.db"))
    plan = _plan_as_sent(tmp_path, repo._claim_query(now=T0, limit=50), {})
    assert "USING INDEX ix_outbox_ready" in plan, plan
    assert "ix_outbox_group_unfinished" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # no sort of every pending item


@pytest.mark.parametrize("lookup", ["_TAKEN", "_TAILS"])
def test_the_folds_outbox_lookups_read_the_groups_index_on_sqlite(
    tmp_path: Path, lookup: str
) -> None:
    # Each fold batch asks which groups are taken and what new items wait behind: a probe
    # of ix_outbox_group_unfinished per group, never a scan of the whole outbox (bound
    # state values hid the partial index from SQLite's planner, and it scanned).
    query = getattr(ticket_queue, lookup)
    plan = _plan_as_sent(tmp_path, query, {"ids": [1, 2], "kind": "create"})
    assert "SEARCH outbox USING INDEX ix_outbox_group_unfinished" in plan, plan
    assert "SCAN outbox" not in plan, plan


WAITS_FOR, BEFORE = "0011", "0010"  # the outbox migration and the one before it


def test_migration_links_waiting_items_and_goes_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url, BEFORE)
    engine = create_engine(url)
    item = {
        "project_id": 1,
        "payload": {},
        "attempts": 0,
        "next_attempt_at": T0,
        "created_at": T0,
        "updated_at": T0,
    }
    outbox_before = OutboxItem.__table__.insert()  # names no waits_for: fits the old table
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(Project.__table__).values(id=1, slug="p", created_at=T0, updated_at=T0)
            )
            for gid in (1, 2):
                conn.execute(
                    insert(ErrorGroup.__table__).values(
                        id=gid,
                        project_id=1,
                        fingerprint=f"f{gid}",
                        first_seen=T0,
                        last_seen=T0,
                        updated_at=T0,
                    )
                )
            rows = [
                (1, 1, "done"),
                (2, 1, "dead"),
                (3, 2, "running"),
                (4, 1, "pending"),
                (5, 2, "pending"),
                (6, 1, "pending"),
            ]
            for iid, gid, state in rows:
                conn.execute(
                    outbox_before.values(id=iid, group_id=gid, kind="k", state=state, **item)
                )
        upgrade(url, WAITS_FOR)
        with engine.connect() as conn:
            linked = dict(conn.execute(text("SELECT id, waits_for FROM outbox ORDER BY id")).all())
        assert linked == {1: None, 2: None, 3: None, 4: 2, 5: 3, 6: 4}
        command.downgrade(alembic_config(url), BEFORE)
        with engine.connect() as conn:
            names = [r[1] for r in conn.execute(text("PRAGMA table_info(outbox)"))]
            kept = conn.execute(text("SELECT count(*) FROM outbox")).scalar()
        assert "waits_for" not in names
        assert kept == 6
    finally:
        engine.dispose()
