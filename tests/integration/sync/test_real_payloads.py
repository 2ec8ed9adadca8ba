"""Real Jira webhook payloads (Cloud and Server) through the receiver into the sync.

Each payload's issue id is given to a simulated issue, so the handler's read of
the issue finds it; the payload itself is delivered byte for byte, signed (only its
timestamp is made recent: older deliveries are refused as replays).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from syncengine.domain.groups import GroupState
from syncengine.domain.webhooks import sign
from syncengine.jira.simulator.seed import SeedUsers
from syncengine.store.links import Snapshot
from syncengine.store.tables import ErrorGroup
from syncengine.web import create_app
from tests.integration.sync.harness import SECRET, SyncWorld, sync_world
from tests.webhook_bodies import recorded


async def adopt(world: SyncWorld, payload: bytes, issue_id: str | None = None) -> tuple[int, str]:
    """A group linked to a simulated issue that has the payload's issue id."""
    issue_id = issue_id or str(json.loads(payload)["issue"]["id"])
    bot = world.container.jira.for_project("shop")
    created = await bot.create_issue(
        {"project": {"key": "CRASH"}, "issuetype": {"name": "Task"}, "summary": "real"}
    )
    issue = world.sim.state.issues.pop(created.id)
    issue.id = issue_id
    world.sim.state.issues[issue_id] = issue
    now = world.clock()
    async with world.container.db.session() as session:
        row = ErrorGroup(
            project_id=world.project_id,
            fingerprint=issue_id,
            count=1,
            first_seen=now,
            last_seen=now,
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        gid = row.id
    await world.container.links.link(
        project_id=world.project_id,
        group_id=gid,
        issue_id=issue_id,
        issue_key=issue.key,
        snapshot=Snapshot(state="open", status="To Do"),
        now=now,
    )
    return gid, issue.key


async def post(world: SyncWorld, payload: bytes) -> httpx.Response:
    app = create_app(world.container.web)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://engine.test") as http:
        return await http.post(
            "/api/v1/jira/webhooks/shop",
            content=payload,
            headers={"X-Hub-Signature": sign(SECRET.encode(), payload)},
        )


@pytest.mark.parametrize(
    "name",
    ["webhook-issue-updated-resolved.json", "webhook-issue-updated-fix-version.json"],
)
async def test_resolved_payloads(database_url: str, tmp_path: Path, name: str) -> None:
    payload = recorded(name)
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await adopt(world, payload)
        await world.human.edit_issue(key, fields={"fixVersions": [{"name": "2.3.0"}]})
        await world.human_transition(key, "Done", resolution="Done")
        world.sim.webhooks.deliveries.clear()  # only the real payload arrives
        answer = await post(world, payload)
        assert answer.json()["status"] == "applied"
        group = await world.group(gid)
        assert group.state == "resolved"
        assert group.resolve_rule is not None
        assert group.resolve_rule[0]["version"] == "2.3.0"


async def test_server_assigned_payload(database_url: str, tmp_path: Path) -> None:
    payload = recorded("webhook-issue-updated-assigned-on-server.json")
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await adopt(world, payload)
        await world.human.assign_issue(key, world.sim.user(SeedUsers.alice).account_id)
        world.sim.webhooks.deliveries.clear()
        assert (await post(world, payload)).json()["status"] == "applied"
        assert (await world.group(gid)).assignee == SeedUsers.alice


async def test_deleted_payload(database_url: str, tmp_path: Path) -> None:
    payload = recorded("webhook-issue-deleted.json")
    async with sync_world(database_url, tmp_path) as world:
        gid, _ = await adopt(world, payload)
        assert (await post(world, payload)).json()["status"] == "applied"
        assert await world.container.links.for_group(gid) is None
        assert await world.state(gid) is GroupState.OPEN
        assert len(await world.audit(gid, "link.deleted")) == 1


def dc_comment(event: str, issue_id: str, *, context: str = "/jira") -> bytes:
    """A Data Center/Server comment event as Atlassian's webhook docs show it: no ``issue``."""
    return json.dumps(
        {
            "timestamp": int(datetime.now(UTC).timestamp() * 1000),
            "webhookEvent": event,
            "comment": {
                "self": f"https://jira.example.com{context}/rest/api/2/issue/{issue_id}"
                "/comment/252789",
                "id": "252789",
                "author": {"name": "alice", "displayName": "Alice"},
                "body": "Tested on master.",
                "created": "2026-12-02T11:05:00.000+0000",
                "updated": "2026-12-02T11:05:00.000+0000",
            },
        }
    ).encode()


@pytest.mark.parametrize("event", ["comment_created", "comment_updated", "comment_deleted"])
async def test_data_center_comment_events_without_an_issue_are_accepted(
    database_url: str, tmp_path: Path, event: str
) -> None:
    async with sync_world(database_url, tmp_path) as world:
        gid, _ = await adopt(world, b"", issue_id="10148")
        answer = await post(world, dc_comment(event, "10148"))
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "ignored"
        assert answer.json()["reason"].startswith("comment only")
        other = await post(world, dc_comment(event, "20001", context=""))
        assert other.json()["status"] == "ignored"
        assert other.json()["reason"].startswith("not linked")
        assert (await world.group(gid)).state == "open"


async def test_a_delivery_without_timestamp_is_applied_and_deduped_on_its_body(
    database_url: str, tmp_path: Path
) -> None:
    data = json.loads(recorded("webhook-issue-updated-resolved.json"))
    del data["timestamp"]
    payload = json.dumps(data).encode()
    async with sync_world(database_url, tmp_path) as world:
        gid, key = await adopt(world, payload)
        await world.human.edit_issue(key, fields={"fixVersions": [{"name": "2.3.0"}]})
        await world.human_transition(key, "Done", resolution="Done")
        world.sim.webhooks.deliveries.clear()
        first = await post(world, payload)
        assert first.json()["status"] == "applied", first.text
        assert first.json()["delivery"].startswith(f"{data['issue']['id']}:body:")
        again = await post(world, payload)
        assert again.json() == {"status": "duplicate", "delivery": first.json()["delivery"]}
        assert (await world.group(gid)).state == "resolved"
