"""Signed but hostile webhook bodies through the receiver and the real two-way sync handlers.

Whatever a signed body holds, the answer is 2xx or a 400 that says what is wrong —
never a 500 that Jira would retry for half an hour — on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from syncengine.domain.webhooks import sign
from syncengine.web import create_app
from tests.integration.sync.harness import SECRET, SyncWorld, sync_world
from tests.integration.sync.test_real_payloads import adopt
from tests.webhook_bodies import recorded

URL = "/api/v1/jira/webhooks/shop"
NAME = "webhook-issue-updated-resolved.json"
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1,
    1e30,
    float("inf"),
    "",
    "x" * 10_000,
    "\x00",
    "\ud83d",
    [],
    [1, [2]],
    {},
    {"id": []},
    10**30,
]


async def _deliver(
    world: SyncWorld, payload: bytes, headers: dict[str, str | bytes] | None = None
) -> httpx.Response:
    app = create_app(world.container.web)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as http:
        return await http.post(
            URL,
            content=payload,
            headers={"X-Hub-Signature": sign(SECRET.encode(), payload), **(headers or {})},
        )


def _with(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> bytes:
    changed = copy.deepcopy(payload)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    # ensure_ascii keeps lone surrogates encodable (as \\ud83d), as Jira's JSON would carry them.
    return json.dumps(changed).encode()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


async def test_wrong_types_get_400_naming_the_field(database_url: str, tmp_path: Path) -> None:
    base = json.loads(recorded(NAME))
    cases = [
        (("issue", "fields", "status"), 3, "issue.fields.status must be an object"),
        (("issue", "fields", "status"), ["Done"], "issue.fields.status must be an object"),
        (("issue", "fields", "assignee"), 12, "issue.fields.assignee must be an object"),
        (("issue", "fields", "assignee"), ["bob"], "issue.fields.assignee must be an object"),
        (("issue", "fields", "labels"), 5, "issue.fields.labels must be a list of strings"),
        (("issue", "fields", "labels"), [[1]], "issue.fields.labels[0] must be a string"),
        (("timestamp",), 1e30, "is not a time in epoch milliseconds"),
    ]
    async with sync_world(database_url, tmp_path) as world:
        await adopt(world, recorded(NAME))
        for path, value, named in cases:
            answer = await _deliver(world, _with(base, path, value))
            assert answer.status_code == 400, (path, answer.text)
            assert named in answer.json()["detail"], answer.json()["detail"]
        deep = b'{"issue":' + b"[" * 5000 + b"]" * 5000 + b"}"
        answer = await _deliver(world, deep)
        assert answer.status_code == 400
        assert "nested deeper than 64 levels" in answer.json()["detail"]
        assert await world.container.cursors.seen(world.project_id) == []
        # The intact delivery is still handled afterwards.
        assert (await _deliver(world, recorded(NAME))).json()["status"] == "applied"


async def test_any_odd_value_anywhere_is_never_a_500(database_url: str, tmp_path: Path) -> None:
    base = json.loads(recorded(NAME))
    chooser = random.Random(12)  # fixed: the same 60 bodies on every run and backend
    paths = _paths(base)
    async with sync_world(database_url, tmp_path) as world:
        await adopt(world, recorded(NAME))
        for attempt in range(60):
            path, value = chooser.choice(paths), chooser.choice(ODD_VALUES)
            answer = await _deliver(
                world, _with(base, path, value), {"X-Atlassian-Webhook-Identifier": f"d{attempt}"}
            )
            assert answer.status_code in (200, 400), (path, value, answer.text)


async def test_odd_delivery_identifiers_fit_the_store(database_url: str, tmp_path: Path) -> None:
    async with sync_world(database_url, tmp_path) as world:
        await adopt(world, recorded(NAME))
        for identifier in (b"i" * 600, "with space and ünïcode".encode()):
            answer = await _deliver(
                world, recorded(NAME), {"X-Atlassian-Webhook-Identifier": identifier}
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["delivery"].startswith("sha256:")
            again = await _deliver(
                world, recorded(NAME), {"X-Atlassian-Webhook-Identifier": identifier}
            )
            assert again.json()["status"] == "duplicate"


async def test_a_replayed_old_delivery_is_refused_and_says_so(
    database_url: str, tmp_path: Path
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, _ = await adopt(world, recorded(NAME))
        signed_long_ago = recorded(NAME, world.clock() - timedelta(hours=2))
        answer = await _deliver(world, signed_long_ago)
        assert answer.status_code == 400
        detail = answer.json()["detail"]
        assert "refused as replays" in detail
        assert "http.webhook_max_age_seconds = 3600" in detail
        assert answer.json()["reason"] == "stale"
        assert await world.container.cursors.seen(world.project_id) == []
        assert (await world.group(gid)).state == "open", "a refused delivery changes nothing"
        # Within the window it is a delivery like any other.
        recent = recorded(NAME, world.clock() - timedelta(minutes=30))
        assert (await _deliver(world, recent)).json()["status"] == "applied"
