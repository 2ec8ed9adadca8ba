"""One poster process of the concurrency test: its own engine, its own writer.

    python -m tests.e2e.ingest_poster URL PROJECT_ID POSTER SUBMISSIONS SIZE START_AT

Waits until the wall clock reaches START_AT (so every poster starts together),
submits SUBMISSIONS submissions of SIZE reports of fingerprint "shared", each
its own transaction, and prints one JSON line: how many of its submissions
created the group, and the group ids it was given.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime

from syncengine.domain.reports import CrashReport
from syncengine.ingest.writer import BatchWriter
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository


async def main(url: str, project_id: int, poster: int, submissions: int, size: int) -> None:
    db = Database(url)
    writer = BatchWriter(
        GroupRepository(db), clock=lambda: datetime.now(UTC), max_reports=size, max_delay=0
    )
    created = 0
    group_ids: set[int] = set()
    try:
        for n in range(submissions):
            reports = [
                CrashReport(
                    project="shop",
                    timestamp=datetime.now(UTC),
                    fingerprint="shared",
                    classifier="RaceError",
                    version=f"1.{n}",
                    attributes={"poster": str(poster), "shared": "yes", "slot": str(i % 4)},
                )
                for i in range(size)
            ]
            accepted = await writer.submit(project_id, reports)
            created += accepted[0].new_group
            group_ids.update(a.group_id for a in accepted)
    finally:
        await writer.aclose()
        await db.aclose()
    print(json.dumps({"created": created, "group_ids": sorted(group_ids)}))


if __name__ == "__main__":
    url, project, poster, count, size, start_at = sys.argv[1:7]
    time.sleep(max(0.0, float(start_at) - time.time()))
    asyncio.run(main(url, int(project), int(poster), int(count), int(size)))
