"""Searching, filtering and paging groups in the store, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, update

from syncengine.domain.groups import GroupSnapshot, GroupState
from syncengine.store import group_queries
from syncengine.store.database import Database
from syncengine.store.group_queries import GroupFilter, GroupSort, search_candidates
from syncengine.store.groups import GroupRepository
from syncengine.store.tables import ErrorGroup
from tests.integration.test_store_groups import T0, project_id, report


async def _all_pages(
    groups: GroupRepository, pid: int | None, wanted: GroupFilter, size: int
) -> list[GroupSnapshot]:
    seen: list[GroupSnapshot] = []
    cursor = None
    while True:
        page = await groups.page(pid, limit=size, cursor=cursor, wanted=wanted)
        seen += page.groups
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


async def test_pages_cover_every_group_once_in_order_whatever_the_ties(db: Database) -> None:
    groups = GroupRepository(db)
    pid = await project_id(db)
    # 30 groups; counts 1-3 and last-seen minutes 0-4 repeat, so both sorts have many ties.
    reports = [report(f"fp-{i:02}", i % 5) for i in range(30) for _ in range(1 + i % 3)]
    await groups.fold([(pid, reports)], now=T0)
    sorts: dict[GroupSort, Callable[[GroupSnapshot], tuple[Any, int]]] = {
        "count": lambda g: (g.count, g.id),
        "last_seen": lambda g: (g.last_seen, g.id),
    }
    for sort, key in sorts.items():
        wanted = GroupFilter(sort=sort)
        paged = await _all_pages(groups, pid, wanted, 7)
        assert len({g.id for g in paged}) == 30
        assert paged == sorted(paged, key=key, reverse=True)


async def test_filters_combine_and_wildcards_are_text(db: Database) -> None:
    groups = GroupRepository(db)
    shop, blog = await project_id(db), await project_id(db, "blog")
    [[a], [b], [c]] = await groups.fold(
        [
            (shop, [report("alpha", classifier="Disk_Full", message="100% used")]),
            (shop, [report("beta", classifier="DiskFull", message="quota")]),
            (blog, [report("gamma", classifier="DiskFull", message="quota")]),
        ],
        now=T0,
    )
    async with db.session() as session:
        await session.execute(
            update(ErrorGroup)
            .where(ErrorGroup.id == b.group_id)
            .values(regression_count=2, assignee="Dev@Example.com", state="muted")
        )

    async def ids(project: int | None = None, **wanted: object) -> set[int]:
        page = await groups.page(project, wanted=GroupFilter(**wanted))  # type: ignore[arg-type]
        return {g.id for g in page.groups}

    assert await ids(text="disk_") == {a.group_id}  # "_" is not a wildcard
    assert await ids(text="100%") == {a.group_id}
    assert await ids(text="%") == {a.group_id}
    assert await ids(text="diskfull") == {b.group_id, c.group_id}
    assert await ids(shop, text="diskfull") == {b.group_id}
    assert await ids(regressed=True) == {b.group_id}
    assert await ids(regressed=False) == {a.group_id, c.group_id}
    assert await ids(assignee="dev@example.COM") == {b.group_id}
    assert await ids(state=GroupState.MUTED, regressed=True) == {b.group_id}
    assert await ids(state=GroupState.OPEN, regressed=True) == set()
    assert await ids(project_ids=(blog,)) == {c.group_id}


async def test_the_list_over_every_project_merges_their_pages_in_one_order(db: Database) -> None:
    groups = GroupRepository(db)
    projects = [await project_id(db, slug) for slug in ("shop", "blog", "docs")]
    # Each project's groups interleave with the others' in both sorts, with ties.
    await groups.fold(
        [
            (pid, [report(f"{n}-{i:02}", i % 4) for _ in range(1 + (i + n) % 3)])
            for n, pid in enumerate(projects)
            for i in range(9)
        ],
        now=T0,
    )
    sorts: dict[GroupSort, Callable[[GroupSnapshot], tuple[Any, int]]] = {
        "count": lambda g: (g.count, g.id),
        "last_seen": lambda g: (g.last_seen, g.id),
    }
    for sort, key in sorts.items():
        for wanted in (
            GroupFilter(sort=sort),
            GroupFilter(sort=sort, project_ids=(projects[0], projects[2])),
        ):
            paged = await _all_pages(groups, None, wanted, 4)
            expected = 27 if wanted.project_ids is None else 18
            assert len({g.id for g in paged}) == len(paged) == expected
            assert paged == sorted(paged, key=key, reverse=True)
        shop_only = await _all_pages(groups, projects[0], GroupFilter(sort=sort), 4)
        assert {g.project for g in shop_only} == {"shop"}


async def test_text_search_reads_the_index_and_falls_back_for_common_text(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = GroupRepository(db)
    pid = await project_id(db)
    await groups.fold(
        [
            (
                pid,
                [
                    report(
                        "fp-rare", classifier="TimeoutError", message='gave up "quoted" Ünïcode'
                    ),
                    *(report(f"fp-{i}", i, message=f"common text {i}") for i in range(8)),
                ],
            )
        ],
        now=T0,
    )
    await groups.fold([(pid, [report("fp-rare", 9)])], now=T0)  # updates, text unchanged
    (rare,) = (await groups.page(pid, wanted=GroupFilter(text="fp-rare"))).groups

    async def found(text: str, **wanted: object) -> list[str]:
        page = await groups.page(pid, wanted=GroupFilter(text=text, **wanted))  # type: ignore[arg-type]
        return [g.fingerprint for g in page.groups]

    async with db.connect() as conn:
        assert await search_candidates(conn, "meouterr") == [rare.id]  # any case
        assert await search_candidates(conn, 'gave up "quot') == [rare.id]
        assert await search_candidates(conn, "nowhere") == []
        assert await search_candidates(conn, "ab") is None  # too short for trigrams
        assert len(await search_candidates(conn, "common") or []) == 8
    assert await found("TIMEOUT") == ["fp-rare"]
    assert await found('"quoted"') == ["fp-rare"]
    assert await found("common text 3") == ["fp-3"]
    assert await found("common", state=GroupState.MUTED) == []
    by_index = await found("common")
    assert by_index == [f"fp-{i}" for i in reversed(range(8))]
    # Too many candidates: the same answer by reading the list's index in order.
    monkeypatch.setattr(group_queries, "SEARCH_CANDIDATES", 3)
    async with db.connect() as conn:
        assert await search_candidates(conn, "common") is None
    assert await found("common") == by_index
    if db.is_postgres:  # a text the statistics say is common does not even read the index
        monkeypatch.setattr(group_queries, "SEARCH_CANDIDATES", 5000)
        async with db.connect() as conn:
            planned = group_queries._planned_rows
            assert await planned(conn, "%common%") >= 1  # the planner's estimate, read

            async def estimate(conn: Any, pattern: str) -> float:
                return 10**6 if pattern == "%common%" else await planned(conn, pattern)

            monkeypatch.setattr(group_queries, "_planned_rows", estimate)
            assert await search_candidates(conn, "common") is None
            assert await search_candidates(conn, "meouterr") == [rare.id]
        assert await found("common") == by_index


async def test_the_search_index_follows_new_changed_and_deleted_groups(db: Database) -> None:
    groups = GroupRepository(db)
    pid = await project_id(db)
    [[a], [b]] = await groups.fold(
        [(pid, [report("first-one", message="needle one")]), (pid, [report("second-one")])],
        now=T0,
    )
    async with db.session() as session:
        await session.execute(
            update(ErrorGroup).where(ErrorGroup.id == b.group_id).values(message="needle two")
        )
        await session.execute(delete(ErrorGroup).where(ErrorGroup.id == a.group_id))
    async with db.connect() as conn:
        assert await search_candidates(conn, "needle") == [b.group_id]
        assert await search_candidates(conn, "first-one") == []
        if conn.dialect.name == "sqlite":  # FTS5 checks its index against error_groups
            await conn.exec_driver_sql(
                "INSERT INTO group_search (group_search) VALUES ('integrity-check')"
            )


async def test_a_common_text_is_found_in_list_order_over_stretches_of_the_list(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Matches in one project and state only: each (project, state) index filtered on
    # its own would read the others to the end; the list is read in stretches instead.
    groups = GroupRepository(db)
    shop, shed = await project_id(db), await project_id(db, "shed")
    await groups.fold(
        [
            (shop, [report(f"a-{i}", i, message="common" if i % 3 else "x") for i in range(12)]),
            (shed, [report(f"b-{i}", i, message="other") for i in range(6)]),
        ],
        now=T0,
    )
    async with db.connect() as conn:
        await conn.execute(
            update(ErrorGroup).where(ErrorGroup.fingerprint == "a-4").values(state="muted")
        )
    monkeypatch.setattr(group_queries, "SEARCH_CANDIDATES", 0)
    monkeypatch.setattr(group_queries, "_SCAN_PER_ROW", 1)
    monkeypatch.setattr(group_queries, "_SCAN_MOST", 5)
    everything = await _all_pages(groups, None, GroupFilter(), 50)
    for sort in ("last_seen", "count"):
        wanted = GroupFilter(text="COMMON", sort=sort)  # type: ignore[arg-type]
        expected = [
            g.fingerprint
            for g in await _all_pages(groups, None, GroupFilter(sort=sort), 50)  # type: ignore[arg-type]
            if g.message == "common"
        ]
        assert len(expected) == 8
        for size in (1, 3, 50):
            found = await _all_pages(groups, None, wanted, size)
            assert [g.fingerprint for g in found] == expected
    muted = GroupFilter(text="common", state=GroupState.MUTED)
    assert [g.fingerprint for g in await _all_pages(groups, None, muted, 2)] == ["a-4"]
    assert len(everything) == 18
