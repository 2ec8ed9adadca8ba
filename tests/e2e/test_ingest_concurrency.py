"""Eight poster processes, one fingerprint: exact counts, exactly one group."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from syncengine.store.database import Database
from syncengine.store.projects import ProjectRepository
from syncengine.store.tables import AttributeCount, AttributeName, ErrorGroup, Sample

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POSTERS = 8
SUBMISSIONS = 25
SIZE = 20


@pytest.mark.slow
async def test_concurrent_posters_lose_no_count(database_url: str) -> None:
    db = Database(database_url)
    try:
        project = await ProjectRepository(db).ensure(
            "shop", name="", integration_active=True, now=datetime.now(UTC)
        )
        start_at = time.time() + 3  # every poster is up and connected by then
        procs = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.e2e.ingest_poster",
                database_url,
                str(project.id),
                str(poster),
                str(SUBMISSIONS),
                str(SIZE),
                str(start_at),
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for poster in range(POSTERS)
        ]
        outputs = []
        for proc in procs:
            out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
            assert proc.returncode == 0, err.decode()
            outputs.append(json.loads(out.decode().strip().splitlines()[-1]))

        async with db.session() as session:
            groups = (await session.execute(select(ErrorGroup.id, ErrorGroup.count))).all()
            rows = await session.execute(
                select(AttributeName.name, AttributeCount.value, AttributeCount.count).join(
                    AttributeName, AttributeName.id == AttributeCount.attribute_id
                )
            )
            counts = {f"{name}={value}": n for name, value, n in rows}
            samples = (await session.execute(select(Sample.kind, Sample.slot))).all()
    finally:
        await db.aclose()

    total = POSTERS * SUBMISSIONS * SIZE
    assert len(groups) == 1
    [(group_id, count)] = groups
    assert count == total
    assert all(o["group_ids"] == [group_id] for o in outputs)
    # Exactly one submission, in one process, created the group.
    assert sum(o["created"] for o in outputs) == 1
    assert counts["shared=yes"] == total
    assert all(counts[f"poster={p}"] == SUBMISSIONS * SIZE for p in range(POSTERS))
    assert sum(counts[f"slot={s}"] for s in range(4)) == total
    assert sorted(samples) == [("first", 0)] + [("newest", s) for s in range(5)]
