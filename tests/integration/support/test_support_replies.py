"""A requester's reply from the portal: stored first, then one attributed Jira comment."""

from __future__ import annotations

import pytest

from syncengine.errors import InvalidInput, JiraTransientError
from syncengine.store.database import Database
from syncengine.store.outbox import State
from syncengine.support.replies import attribution
from tests.integration.support.conftest import Portal, make_portal, portal_settings
from tests.integration.support.test_support_flow import FORM


async def _sent_request(portal: Portal) -> tuple[int, str]:
    record = await portal.service.file("api", FORM, [], reporter="alice")
    await portal.worker.drain()
    [issue] = portal.jira.issues.values()
    return record.id, issue.id


async def _reply(portal: Portal, request_id: int, text: str) -> None:
    record = await portal.requests.get(request_id)
    assert record is not None
    await portal.service.reply(record, text, author="alice")


async def test_a_reply_is_kept_then_becomes_one_attributed_comment(portal: Portal) -> None:
    request_id, issue_id = await _sent_request(portal)
    portal.jira.comment(issue_id, "Sam", "Which account?")
    await portal.puller.poll()
    portal.clock.advance(7200)  # after Sam's comment (13:00 in the fake Jira)
    await _reply(portal, request_id, "Account 42, *since Monday*.\n")
    [theirs, mine] = await portal.requests.comments(request_id)
    assert (mine.author, mine.body, mine.pending, mine.from_portal) == (
        "alice",
        "Account 42, *since Monday*.",
        True,
        True,
    )
    assert not theirs.from_portal

    await portal.worker.drain()
    [_, sent] = portal.jira.issues[issue_id].comments
    [_, stored] = await portal.requests.comments(request_id)
    assert sent.body.startswith(f"{attribution('alice', 2)}\n\n")  # reply 2: Sam's is 1
    assert sent.body.endswith("Account 42, *since Monday*.")
    assert stored.jira_comment_id == sent.id
    assert not stored.pending
    # The pull-back sees the bot's comment and keeps the reply as alice wrote it, once.
    await portal.puller.poll()
    shown = [(c.author, c.body) for c in await portal.requests.comments(request_id)]
    assert shown == [("Sam", "Which account?"), ("alice", "Account 42, *since Monday*.")]


async def test_passive_keeps_the_reply_and_never_calls_jira(db: Database) -> None:
    portal = await make_portal(db, portal_settings())
    request_id, issue_id = await _sent_request(portal)
    await portal.projects.set_active("api", False, actor="test", now=portal.clock())
    calls = len(portal.jira.calls)
    await _reply(portal, request_id, "Still failing.")
    await portal.worker.drain()
    assert portal.jira.calls[calls:] == []
    [reply] = await portal.requests.comments(request_id)
    assert reply.pending
    await portal.projects.set_active("api", True, actor="test", now=portal.clock())
    await portal.worker.drain()
    assert [c.body.splitlines()[-1] for c in portal.jira.issues[issue_id].comments] == [
        "Still failing."
    ]


async def test_a_reply_before_the_issue_exists_waits_for_it(portal: Portal) -> None:
    record = await portal.service.file("api", FORM, [], reporter="alice")
    await portal.service.reply(record, "One more detail.", author="alice")
    await portal.worker.drain()
    [issue] = portal.jira.issues.values()
    assert [c.body.splitlines()[-1] for c in issue.comments] == ["One more detail."]
    assert all(item.state == State.DONE for item in await portal.outbox.list())


async def test_a_retry_after_a_lost_answer_does_not_comment_twice(portal: Portal) -> None:
    request_id, issue_id = await _sent_request(portal)
    await _reply(portal, request_id, "Here is the trace.")
    # The comment reaches Jira but the answer is lost: Jira has it, the item retries.
    portal.jira.comment(issue_id, "bot", f"{attribution('alice', 1)}\n\nHere is the trace.")
    portal.jira.fail["add_comment"] = [JiraTransientError("answer lost")]
    await portal.worker.drain()
    portal.clock.advance(3600)
    await portal.worker.drain()
    assert len(portal.jira.issues[issue_id].comments) == 1
    [reply] = await portal.requests.comments(request_id)
    assert reply.jira_comment_id == portal.jira.issues[issue_id].comments[0].id


@pytest.mark.parametrize("text", ["", "   \n", "x" * 32_001])
async def test_an_empty_or_too_long_reply_is_refused(portal: Portal, text: str) -> None:
    request_id, _ = await _sent_request(portal)
    with pytest.raises(InvalidInput) as refused:
        await _reply(portal, request_id, text)
    assert "reply" in refused.value.problems
    assert await portal.requests.comments(request_id) == []
