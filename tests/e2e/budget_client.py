"""One process of the shared-budget test: calls Jira as fast as its limits allow.

    python -m tests.e2e.budget_client CONFIG

Built through the engine's own wiring (``bootstrap``, so PostgreSQL means the shared
budget), it prints ``ready``, reads ``START END`` (wall-clock times) from its input,
keeps 8 calls going (creates, state sync and refreshes) from START until END, and
prints what happened as one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

from syncengine.bootstrap import bootstrap
from syncengine.jira import JiraRequestShed, Priority, request_priority
from syncengine.jira.errors import JiraError
from syncengine.settings import load_settings

MIX = [Priority.CREATE] * 3 + [Priority.SYNC] * 3 + [Priority.REFRESH] * 2


async def main(config: str) -> dict[str, int]:
    container = await bootstrap(load_settings(config), migrate=False)
    counts: Counter[str] = Counter()
    try:
        client = container.jira.for_project("shop")
        print("ready", flush=True)
        start, end = (float(word) for word in sys.stdin.readline().split())
        await asyncio.sleep(max(0.0, start - time.time()))

        async def calls(priority: Priority) -> None:
            while time.time() < end:
                with request_priority(priority):
                    try:
                        await client.myself()
                        counts[f"ok {priority.name}"] += 1
                    except JiraRequestShed:
                        counts[f"shed {priority.name}"] += 1
                        await asyncio.sleep(0.05)
                    except JiraError as exc:
                        counts[type(exc).__name__] += 1

        await asyncio.gather(*(calls(priority) for priority in MIX))
    finally:
        await container.aclose()
    return dict(counts)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1]))), flush=True)
