"""Folding batches of reports into groups, and reading them back, on every backend."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from syncengine.domain.groups import GroupState
from syncengine.domain.reports import CrashReport, Frame
from syncengine.errors import NotFound
from syncengine.store import ticket_queue
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository
from syncengine.store.projects import ProjectRepository
from syncengine.store.tables import (
    AttributeCount,
    AttributeName,
    ErrorGroup,
    IssueLink,
    OutboxItem,
    Sample,
)
from syncengine.store.ticket_queue import DueTicket, tails
from syncengine.sync.tickets import CREATE

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def report(
    fingerprint: str,
    minute: int = 0,
    *,
    version: str | None = None,
    classifier: str = "ValueError",
    message: str = "boom",
    **attributes: str,
) -> CrashReport:
    return CrashReport(
        project="shop",
        timestamp=T0 + timedelta(minutes=minute),
        fingerprint=fingerprint,
        classifier=classifier,
        message=message,
        version=version,
        attributes=attributes,
        frames=(Frame(function=f"f{minute}", module="app.core", line=minute),),
    )


async def project_id(db: Database, slug: str = "shop") -> int:
    record = await ProjectRepository(db).ensure(slug, name="", integration_active=True, now=T0)
    return record.id


async def test_fold_counts_first_last_and_versions(db: Database) -> None:
    pid = await project_id(db)
    repo = GroupRepository(db)
    first = await repo.fold(
        [
            (
                pid,
                [
                    report("a", 5, version="1.1", classifier="KeyError", message="first"),
                    report("a", 1, version="1.0", classifier="Other", message="second"),
                    report("b", 2),
                ],
            )
        ],
        now=T0,
    )
    [[a1, a2, b1]] = first
    assert a1 == a2
    assert a1.new_group
    assert b1.new_group
    assert a1.group_id != b1.group_id
    second = await repo.fold(
        [(pid, [report("a", 9, version="2.0"), report("a", 0, version="0.9")])], now=T0
    )
    assert [x.group_id for x in second[0]] == [a1.group_id] * 2
    assert not any(x.new_group for x in second[0])

    snap = await repo.snapshot(a1.group_id)
    assert snap.count == 4
    assert snap.project == "shop"
    assert snap.fingerprint == "a"
    assert snap.state is GroupState.OPEN
    assert snap.first_seen == T0
    assert snap.last_seen == T0 + timedelta(minutes=9)
    assert (snap.first_version, snap.last_version) == ("0.9", "2.0")
    # Classifier and message come from the group's first report, and stay.
    assert (snap.classifier, snap.message) == ("KeyError", "first")
    assert (await repo.snapshot(b1.group_id)).count == 1


# (minute, version) of reports: the stored first, then what follows.
_VERSION_CASES = [
    # A report without a version before the stored first, one with 2.0 after it.
    ([(10, "1.0")], [(5, None), (20, "2.0")], ("1.0", "2.0")),
    # The stored last is 3.5 at minute 35; then 3.0 at 30 and one without at 40.
    ([(35, "3.5")], [(30, "3.0"), (40, None)], ("3.0", "3.5")),
    # The stored group's first reports carry no version; a later batch reaches back.
    ([(10, None), (12, "1.2")], [(11, "1.1"), (3, None)], ("1.1", "1.2")),
    # Out of order, and equal times: the later arrival is the last.
    ([(10, "1.0")], [(30, "3.0"), (1, "0.1"), (30, "3.1")], ("0.1", "3.1")),
]


@pytest.mark.parametrize(("stored", "then", "expected"), _VERSION_CASES)
async def test_first_and_last_version_do_not_depend_on_batching(
    db: Database,
    stored: list[tuple[int, str | None]],
    then: list[tuple[int, str | None]],
    expected: tuple[str, str],
) -> None:
    """The versions of the earliest and latest reports that carried one, whether the
    reports came in one batch, one per batch, or all at once."""
    pid = await project_id(db)
    repo = GroupRepository(db)
    everything = [*stored, *then]
    ways = {
        "batched": [stored, then],
        "single": [[one] for one in everything],
        "at once": [everything],
    }
    for way, batches in ways.items():
        group_id = None
        for batch in batches:
            folded = await repo.fold(
                [(pid, [report(way, minute, version=v) for minute, v in batch])], now=T0
            )
            group_id = folded[0][0].group_id
        assert group_id is not None
        snap = await repo.snapshot(group_id)
        assert (snap.first_version, snap.last_version) == expected, way


async def test_a_group_is_new_only_to_the_submission_that_brought_it(db: Database) -> None:
    """Two requests folded in one batch, each with the same new fingerprint: the second
    did not create the group, as it would not have on its own."""
    pid = await project_id(db)
    repo = GroupRepository(db)
    first, second, third = await repo.fold(
        [
            (pid, [report("shared"), report("shared", 1)]),
            (pid, [report("shared", 2), report("own", 2)]),
            (pid, [report("own", 3)]),
        ],
        now=T0,
    )
    assert [a.new_group for a in first] == [True, True]
    assert [a.new_group for a in second] == [False, True]
    assert [a.new_group for a in third] == [False]
    assert {a.group_id for a in [*first, second[0]]} == {first[0].group_id}


async def test_attribute_counts_are_ranked(db: Database) -> None:
    pid = await project_id(db)
    repo = GroupRepository(db)
    reports = [
        report("a", 1, os="linux", host="h1"),
        report("a", 2, os="linux", host="h2"),
        report("a", 3, os="mac", host="h3"),
        report("a", 4, os="win", host="h2"),
        report("a", 0, os="bsd"),
    ]
    [[first, *_]] = await repo.fold([(pid, reports[:2])], now=T0)
    await repo.fold([(pid, reports[2:])], now=T0)
    snap = await repo.snapshot(first.group_id)
    os_values = [(v.value, v.count) for v in snap.attributes["os"]]
    # linux twice; then mac/win/bsd once each: most recent first (win at 4, mac at 3, bsd at 0).
    assert os_values == [("linux", 2), ("win", 1), ("mac", 1), ("bsd", 1)]
    assert snap.attributes["os"][0].last_seen == T0 + timedelta(minutes=2)
    assert [(v.value, v.count) for v in snap.attributes["host"]] == [
        ("h2", 2),
        ("h3", 1),
        ("h1", 1),
    ]
    assert snap.top_value("os") == "linux"
    top = await repo.snapshot(first.group_id, top=1)
    assert {k: [v.value for v in vs] for k, vs in top.attributes.items()} == {
        "os": ["linux"],
        "host": ["h2"],
    }


async def test_ties_on_count_and_time_go_to_the_smallest_value(db: Database) -> None:
    pid = await project_id(db)
    repo = GroupRepository(db)
    [[hit, *_]] = await repo.fold(
        [(pid, [report("a", 1, k="b"), report("a", 1, k="a"), report("a", 1, k="B")])], now=T0
    )
    snap = await repo.snapshot(hit.group_id)
    assert [v.value for v in snap.attributes["k"]] == ["B", "a", "b"]


async def test_samples_keep_the_first_and_the_newest(db: Database) -> None:
    pid = await project_id(db)
    repo = GroupRepository(db, samples_first=2, samples_newest=3)
    gid = 0
    for start in range(0, 20, 4):  # five batches of four reports
        batch = [report("a", minute) for minute in range(start, start + 4)]
        [[hit, *_]] = await repo.fold([(pid, batch)], now=T0)
        gid = hit.group_id
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Sample.kind, Sample.received_at).where(Sample.group_id == gid)
            )
        ).all()
    minutes = {
        kind: sorted(int((at - T0).total_seconds() // 60) for k, at in rows if k == kind)
        for kind in ("first", "newest")
    }
    assert minutes == {"first": [0, 1], "newest": [17, 18, 19]}
    snap = await repo.snapshot(gid)
    # the callstack shown is the first report's, the one its classifier and message are from
    assert snap.frames == (Frame(function="f0", module="app.core", line=0),)


@pytest.mark.parametrize("samples_first", [1, 0])
async def test_a_custom_fingerprint_group_shows_one_report_whole(
    db: Database, samples_first: int
) -> None:
    # One client fingerprint ("payments") over reports of different types and stacks.
    pid = await project_id(db)
    repo = GroupRepository(db, samples_first=samples_first, samples_newest=2)
    [[hit]] = await repo.fold(
        [(pid, [report("payments", 1, classifier="KeyError", message="no sku")])], now=T0
    )
    await repo.fold(
        [(pid, [report("payments", 2, classifier="TimeoutError", message="upstream")])], now=T0
    )
    snap = await repo.snapshot(hit.group_id)
    shown = (snap.classifier, snap.message, [f.function for f in snap.frames])
    if samples_first:
        assert shown == ("KeyError", "no sku", ["f1"])
    else:  # no first sample kept: the newest report, whole
        assert shown == ("TimeoutError", "upstream", ["f2"])


async def test_no_samples_when_configured_off(db: Database) -> None:
    pid = await project_id(db)
    repo = GroupRepository(db, samples_first=0, samples_newest=0)
    await repo.fold([(pid, [report("a", 1), report("a", 2)])], now=T0)
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Sample)) == 0


async def test_projects_keep_their_own_groups(db: Database) -> None:
    shop, blog = await project_id(db, "shop"), await project_id(db, "blog")
    repo = GroupRepository(db)
    [[s], [b]] = await repo.fold([(shop, [report("a")]), (blog, [report("a")])], now=T0)
    assert s.group_id != b.group_id
    assert s.new_group
    assert b.new_group
    assert (await repo.snapshot(b.group_id)).project == "blog"


async def test_many_groups_and_values_in_one_batch(db: Database) -> None:
    pid = await project_id(db)
    repo = GroupRepository(db)
    # More rows than one multi-row statement takes, and reports repeating in the batch.
    reports = [
        report(f"fp{i % 1200}", i % 60, version=f"1.{i % 7}", os=f"os{i % 5}", n=str(i % 3))
        for i in range(3000)
    ]
    [hits] = await repo.fold([(pid, reports)], now=T0)
    assert len({h.group_id for h in hits}) == 1200
    assert all(h.new_group for h in hits)
    async with db.session() as session:
        assert await session.scalar(select(func.sum(ErrorGroup.count))) == 3000
        total = await session.scalar(
            select(func.sum(AttributeCount.count)).where(
                AttributeCount.group_id == hits[0].group_id
            )
        )
    # fp0 took reports 0, 1200, 2400: three reports, two attributes each.
    assert total == 6


TRICKY = (
    'say "hi"',
    "back\\slash",
    "tab\tnew\nline",
    "\u2028",
    "emoji 🦆",
    "é",
    "E",
    "",
    "x" * 1024,
)


async def test_counts_are_exact_for_any_text_and_across_batches(db: Database) -> None:
    # Counts and last-seen times add up exactly over batches, for any text a value holds
    # (quotes, escapes, line separators, astral characters, the longest value).
    pid = await project_id(db)
    repo = GroupRepository(db)
    rng = random.Random(3)
    expected: Counter[tuple[str, str, str]] = Counter()
    newest: dict[tuple[str, str, str], int] = {}
    for _ in range(3):
        reports = []
        for _ in range(400):
            fp, minute = f"fp{rng.randrange(30)}", rng.randrange(600)
            attrs = {name: rng.choice(TRICKY) for name in rng.sample(("a", 'n"q', "ü", "k"), 2)}
            reports.append(report(fp, minute, **attrs))
            for name, value in attrs.items():
                expected[(fp, name, value)] += 1
                newest[(fp, name, value)] = max(newest.get((fp, name, value), 0), minute)
        await repo.fold([(pid, reports)], now=T0)
    async with db.session() as session:
        rows = (
            await session.execute(
                select(
                    ErrorGroup.fingerprint,
                    AttributeName.name,
                    AttributeCount.value,
                    AttributeCount.count,
                    AttributeCount.last_seen,
                )
                .join(AttributeCount, AttributeCount.group_id == ErrorGroup.id)
                .join(AttributeName, AttributeName.id == AttributeCount.attribute_id)
            )
        ).all()
    assert {(fp, n, v): c for fp, n, v, c, _ in rows} == dict(expected)
    assert {(fp, n, v): seen for fp, n, v, _, seen in rows} == {
        key: T0 + timedelta(minutes=minute) for key, minute in newest.items()
    }


async def test_empty_batches_and_unknown_groups(db: Database) -> None:
    pid = await project_id(db)
    repo = GroupRepository(db)
    assert await repo.fold([(pid, [])], now=T0) == [[]]
    with pytest.raises(NotFound):
        await repo.snapshot(12345)


async def test_pages_newest_first_with_cursor_and_state(db: Database) -> None:
    pid = await project_id(db)
    repo = GroupRepository(db)
    [hits] = await repo.fold([(pid, [report(f"g{i}", i) for i in range(7)])], now=T0)
    async with db.session() as session:
        row = await session.get(ErrorGroup, hits[3].group_id)
        assert row is not None
        row.state = GroupState.MUTED.value
    seen: list[str] = []
    cursor = None
    while True:
        page = await repo.page(pid, limit=3, cursor=cursor)
        seen += [g.fingerprint for g in page.groups]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [f"g{i}" for i in range(6, -1, -1)]
    muted = await repo.page(pid, state=GroupState.MUTED)
    assert [g.fingerprint for g in muted.groups] == ["g3"]
    assert muted.next_cursor is None
    with pytest.raises(ValueError, match="cursor"):
        await repo.page(pid, cursor="bm9wZQ")


async def test_times_keep_their_microseconds(db: Database) -> None:
    pid = await project_id(db)
    repo = GroupRepository(db)
    odd = CrashReport(
        project="shop",
        timestamp=T0 + timedelta(microseconds=7),
        fingerprint="a",
        attributes={"k": "v"},
    )
    [[hit]] = await repo.fold([(pid, [odd])], now=T0 + timedelta(microseconds=999_999))
    snap = await repo.snapshot(hit.group_id)
    assert snap.first_seen == snap.last_seen == T0 + timedelta(microseconds=7)
    # Count rows keep milliseconds (compact integers): enough to rank by recency.
    assert snap.attributes["k"][0].last_seen == T0


async def test_the_folds_lookups_by_group_span_several_id_lists(db: Database) -> None:
    # 1,100 groups: the outbox lookups take them in one IN list, padded to 2,048 with its last id.
    pid = await project_id(db)
    repo = GroupRepository(db)
    fingerprints = [f"g{i:04d}" for i in range(1100)]
    [assigned] = await repo.fold([(pid, [report(fp) for fp in fingerprints])], now=T0)
    ids = [a.group_id for a in assigned]
    queued, linked = ids[::3], ids[1::5]
    due = [DueTicket(project_id=pid, group_id=gid, reason="r") for gid in queued]
    await db.run_bulk(lambda conn: ticket_queue.queue_tickets(conn, due, kind=CREATE, now=T0))
    async with db.session() as session:
        for n, gid in enumerate(linked):
            session.add(
                IssueLink(
                    project_id=pid,
                    group_id=gid,
                    jira_issue_id=str(10_000 + n),
                    jira_issue_key=f"CRASH-{n + 1}",
                    created_at=T0,
                )
            )
    # Linked or queued, in one statement over both tables.
    taken = await db.run_bulk(lambda conn: ticket_queue.taken_groups(conn, ids, kind=CREATE))
    assert taken == set(queued) | set(linked)
    behind = await db.run_bulk(lambda conn: tails(conn, ids))
    async with db.connect() as conn:
        rows = await conn.execute(select(OutboxItem.group_id, OutboxItem.id))
        items = {int(gid): int(item) for gid, item in rows}
    assert behind == items
    assert sorted(behind) == sorted(queued)


async def test_a_full_name_cache_keeps_the_names_its_batch_needs(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Clients that put ids in attribute names fill the process's cache of name ids; when a
    # batch's new names overflow it, the cache starts again, and must still hold the names
    # of that batch it knew before (they are not interned again): none is lost or rejected.
    monkeypatch.setattr("syncengine.store.groups._NAMES_CACHE_MAX", 4)
    pid = await project_id(db)
    repo = GroupRepository(db)
    await repo.fold([(pid, [report("a", known="1", other="2")])], now=T0)
    batch = [report("a", known="3", other="4", **{f"new{n}": str(n) for n in range(3)})]
    await repo.fold([(pid, batch)], now=T0)
    snap = await repo.snapshot((await repo.page(pid)).groups[0].id)
    assert snap.count == 2
    assert {v.value: v.count for v in snap.attributes["known"]} == {"1": 1, "3": 1}
    assert [v.value for v in snap.attributes["new2"]] == ["2"]
