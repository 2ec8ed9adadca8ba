"""Filing, sending, passive mode, failures and pull-back on every store backend."""

from __future__ import annotations

import asyncio

import pytest

from syncengine.domain.webhooks import JiraEvent, applied, parse_webhook
from syncengine.errors import InvalidInput, JiraPermanentError, JiraTransientError
from syncengine.store.database import Database
from syncengine.store.outbox import State
from syncengine.support.service import UploadedFile
from syncengine.support.validation import RequestForm
from syncengine.support.webhooks import SupportWebhooks
from tests.integration.support.conftest import Portal, make_portal, portal_settings

FORM = RequestForm(
    label="Feature Request",
    summary="Refunds fail with 500",
    description="Calling refunds returns 500.\n\nSince Monday.",
    category="Payment",
    api_product="Payments API",
    endpoint="/payments/v1/refunds",
)
LOG = UploadedFile(filename="trace.txt", content_type="text/plain", content=b"boom")


async def test_filed_request_becomes_one_issue_with_mapped_fields(portal: Portal) -> None:
    record = await portal.service.file("api", FORM, [LOG], reporter="alice")
    assert portal.wakes == [1]
    assert record.jira_issue_key is None
    assert await portal.worker.drain() == 1

    [issue] = portal.jira.issues.values()
    fields = issue.fields
    assert fields["summary"] == "Refunds fail with 500"
    assert fields["project"] == {"key": "SUP"}
    assert fields["issuetype"] == {"name": "Service Request"}
    assert fields["labels"] == ["Feature-Request", f"syncengine-sr-{record.id}"]
    assert fields["customfield_10070"] == "Payment"
    assert fields["customfield_10071"] == "Payments API"
    assert fields["customfield_10072"] == "/payments/v1/refunds"
    assert "Calling refunds returns 500." in fields["description"]
    assert "Filed by alice" in fields["description"]
    assert issue.attachments == [("trace.txt", "text/plain", b"boom")]
    assert portal.jira.properties == [{"syncengine.support": {"support_request_id": record.id}}]

    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert (stored.jira_issue_id, stored.jira_issue_key) == (issue.id, issue.key)
    assert stored.jira_status == "To Do"
    assert stored.last_error is None
    [attachment] = await portal.requests.attachments(record.id)
    assert attachment.jira_attachment_id is not None


async def test_unconfigured_custom_fields_are_left_out(db: Database) -> None:
    settings = portal_settings(category_field="", api_product_field="", endpoint_field="")
    portal = await make_portal(db, settings)
    await portal.service.file("api", FORM, [], reporter="alice")
    await portal.worker.drain()
    [issue] = portal.jira.issues.values()
    assert sorted(issue.fields) == ["description", "issuetype", "labels", "project", "summary"]


async def test_v3_description_is_an_adf_document(db: Database) -> None:
    settings = portal_settings()
    data = settings.model_dump()
    data["projects"]["api"]["jira"]["api_version"] = 3
    portal = await make_portal(db, type(settings).model_validate(data))
    await portal.service.file("api", FORM, [], reporter="alice")
    await portal.worker.drain()
    [issue] = portal.jira.issues.values()
    doc = issue.fields["description"]
    assert doc["type"] == "doc"
    assert doc["content"][0] == {
        "type": "paragraph",
        "content": [{"type": "text", "text": "Calling refunds returns 500."}],
    }


async def test_invalid_request_stores_nothing_and_names_each_field(portal: Portal) -> None:
    bad = RequestForm(label="Complaint", summary=" ", description="", endpoint="payments v1")
    big = UploadedFile(filename="dump.bin", content_type="text/plain", content=b"x" * 1001)
    exe = UploadedFile(filename="tool.exe", content_type="application/x-msdownload", content=b"MZ")
    with pytest.raises(InvalidInput) as caught:
        await portal.service.file("api", bad, [big, exe], reporter="alice")
    problems = caught.value.problems
    assert set(problems) == {"label", "summary", "description", "endpoint", "attachments"}
    assert "Complaint" in problems["label"]
    assert "Bug" in problems["label"]
    assert "at most 1000 bytes" in problems["attachments"]
    assert "application/x-msdownload" in problems["attachments"]
    assert await portal.requests.page(project_id=1) == ([], 0)
    assert await portal.outbox.list() == []
    assert portal.wakes == []


async def test_passive_stores_and_sends_nothing_until_active_then_in_order(db: Database) -> None:
    portal = await make_portal(db, portal_settings(), active=False)
    first = await portal.service.file("api", FORM, [LOG], reporter="alice")
    second = await portal.service.file(
        "api", RequestForm(label="Bug", summary="Second", description="d"), [], reporter="bob"
    )
    assert await portal.worker.drain() == 0
    assert await portal.puller.poll() == 0
    assert portal.jira.calls == []
    listed, total = await portal.requests.page(project_id=first.project_id)
    assert total == 2
    assert all(r.jira_issue_key is None for r in listed)
    assert portal.jira.calls == []

    for n in range(3, 8):  # more waiting work than the worker runs at once
        files = [LOG] if n % 2 else []
        await portal.service.file(
            "api", RequestForm(label="Bug", summary=f"#{n}", description="d"), files, reporter="c"
        )
    await portal.projects.set_active("api", True, actor="admin", now=portal.clock())
    await portal.worker.drain()
    created = [i.fields["summary"] for i in portal.jira.issues.values()]
    assert created == [FORM.summary, "Second", "#3", "#4", "#5", "#6", "#7"]
    assert (await portal.requests.get(second.id)).jira_issue_key == "SUP-2"  # type: ignore[union-attr]


async def test_jira_failure_keeps_the_request_and_shows_the_error(portal: Portal) -> None:
    portal.jira.fail["create_issue"] = [
        JiraPermanentError(
            "400 from Jira: issue type is not valid", status=400, fix="check support.issue_type"
        )
    ]
    record = await portal.service.file("api", FORM, [LOG], reporter="alice")
    await portal.worker.drain()
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.jira_issue_key is None
    assert stored.last_error == "400 from Jira: issue type is not valid — check support.issue_type"
    [item] = await portal.outbox.list()
    assert item.state == State.DEAD
    # The operator fixes Jira and retries the item: the request goes through, error cleared.
    await portal.outbox.requeue(item.id, actor="admin", now=portal.clock())
    await portal.worker.drain()
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.jira_issue_key == "SUP-1"
    assert stored.last_error is None
    assert len(portal.jira.issues) == 1


async def test_create_with_lost_answer_is_found_by_label_not_repeated(portal: Portal) -> None:
    portal.jira.lose_next_create_answer = True
    record = await portal.service.file("api", FORM, [LOG], reporter="alice")
    await portal.worker.drain()  # the create "timed out": retry later
    assert len(portal.jira.issues) == 1
    [item] = await portal.outbox.list()
    assert item.state == State.PENDING
    portal.clock.advance(3600)
    await portal.worker.drain()
    assert len(portal.jira.issues) == 1, "the retry must not create a second issue"
    assert "find_by_label" in portal.jira.calls
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.jira_issue_key == "SUP-1"
    [issue] = portal.jira.issues.values()
    assert len(issue.attachments) == 1


async def test_attachment_failure_resumes_without_recreating(portal: Portal) -> None:
    portal.jira.fail["add_attachment"] = [JiraTransientError("503 from Jira", status=503)]
    record = await portal.service.file("api", FORM, [LOG, LOG], reporter="alice")
    await portal.worker.drain()
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.jira_issue_key == "SUP-1"
    assert stored.last_error == "503 from Jira"
    portal.clock.advance(3600)
    await portal.worker.drain()
    [issue] = portal.jira.issues.values()
    assert [a[0] for a in issue.attachments] == ["trace.txt", "trace.txt"]
    assert portal.jira.calls.count("create_issue") == 1


async def test_pull_back_brings_status_and_comments(portal: Portal) -> None:
    record = await portal.service.file("api", FORM, [], reporter="alice")
    await portal.worker.drain()
    [issue] = portal.jira.issues.values()
    issue.status = "In Progress"
    portal.jira.comment(issue.id, "Support Sam", "<b>Looking</b> into it")
    portal.clock.advance(60)
    assert await portal.puller.poll() == 1
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.jira_status == "In Progress"
    assert stored.updated_at == portal.clock()
    [comment] = await portal.requests.comments(record.id)
    assert (comment.author, comment.body) == ("Support Sam", "<b>Looking</b> into it")
    # Nothing new: nothing changes. An edit and a deletion in Jira are followed.
    assert await portal.puller.poll() == 0
    portal.jira.comment(issue.id, "Support Sam", "Fixed")
    issue.comments.pop(0)
    issue.key = "OPS-7"  # the issue moved to another project
    assert await portal.puller.poll() == 1
    assert [c.body for c in await portal.requests.comments(record.id)] == ["Fixed"]
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.jira_issue_key == "OPS-7"


async def test_search_by_key_or_summary_and_per_reporter(portal: Portal) -> None:
    a = await portal.service.file("api", FORM, [], reporter="alice")
    await portal.service.file(
        "api",
        RequestForm(label="Bug", summary="Login 100% broken", description="d"),
        [],
        reporter="bob",
    )
    await portal.worker.drain()
    pid = a.project_id
    assert [r.summary for r in (await portal.requests.page(project_id=pid, search="sup-1"))[0]] == [
        FORM.summary
    ]
    assert [r.reporter for r in (await portal.requests.page(project_id=pid, search="100%"))[0]] == [
        "bob"
    ]
    assert (await portal.requests.page(project_id=pid, search="%"))[1] == 1
    mine, total = await portal.requests.page(project_id=pid, reporter="alice")
    assert total == 1
    assert mine[0].id == a.id


async def test_pull_rounds_ask_only_for_recent_changes_in_chunks(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncengine.support import pullback

    monkeypatch.setattr(pullback, "CHUNK", 2)
    for n in range(5):
        await portal.service.file(
            "api", RequestForm(label="Bug", summary=f"r{n}", description="d"), [], reporter="a"
        )
    await portal.worker.drain()
    assert await portal.puller.poll() == 0
    assert portal.jira.windows == [None, None, None]  # first round: everything, 3 chunks
    portal.clock.advance(150)
    portal.jira.issues["10004"].status = "Done"
    assert await portal.puller.poll() == 1
    assert portal.jira.windows[3:] == [5, 5, 5]  # 150 s → 3 minutes, plus 2 of margin
    await portal.projects.set_active("api", False, actor="admin", now=portal.clock())
    calls = len(portal.jira.calls)
    assert await portal.puller.poll() == 0
    assert len(portal.jira.calls) == calls, "a passive project is never asked"
    await portal.projects.set_active("api", True, actor="admin", now=portal.clock())
    await portal.puller.poll()
    assert portal.jira.windows[-1] is None, "after Passive the next round is a full one"


async def test_pull_error_is_shown_then_cleared(portal: Portal) -> None:
    record = await portal.service.file("api", FORM, [], reporter="alice")
    await portal.worker.drain()
    portal.jira.fail["comments"] = [
        JiraPermanentError("403 from Jira: no permission to browse SUP", status=403)
    ]
    await portal.puller.poll()
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.last_error == "403 from Jira: no permission to browse SUP"
    await portal.puller.poll()
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.last_error is None


async def test_webhook_refresh_by_issue_id(portal: Portal) -> None:
    record = await portal.service.file("api", FORM, [], reporter="alice")
    await portal.worker.drain()
    [issue] = portal.jira.issues.values()
    portal.jira.comment(issue.id, "Sam", "On it")
    issue.status = "In Progress"
    assert await portal.puller.refresh_issue(issue.id)
    assert not await portal.puller.refresh_issue("999999")
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.jira_status == "In Progress"
    assert [c.body for c in await portal.requests.comments(record.id)] == ["On it"]


def _event(issue_id: str, kind: str = "jira:issue_updated") -> JiraEvent:
    return parse_webhook(
        {"webhookEvent": kind, "issue": {"id": issue_id, "key": "SUP-1", "fields": {}}}
    )


async def test_a_webhook_refreshes_the_linked_request_and_says_so(portal: Portal) -> None:
    hooks = SupportWebhooks(
        projects=portal.projects, requests=portal.requests, puller=portal.puller
    )
    record = await portal.service.file("api", FORM, [], reporter="alice")
    await portal.worker.drain()
    [issue] = portal.jira.issues.values()
    issue.status = "Waiting for customer"
    portal.jira.comment(issue.id, "Sam", "Which account?")
    assert await hooks("api", _event(issue.id)) == applied()
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.jira_status == "Waiting for customer"
    assert [c.body for c in await portal.requests.comments(record.id)] == ["Which account?"]
    # Not ours: no say (the error-group handler answers for those); another project: none.
    assert await hooks("api", _event("424242")) is None
    assert await hooks("elsewhere", _event(issue.id)) is None

    portal.jira.fail["issue_status"] = [JiraTransientError("503 from Jira")]
    failed = await hooks("api", _event(issue.id))
    assert failed is not None
    assert failed.status == "ignored"
    assert "polled later" in failed.reason

    await portal.projects.set_active("api", False, actor="test", now=portal.clock())
    issue.status = "Done"
    passive = await hooks("api", _event(issue.id))
    assert passive is not None
    assert "Passive" in passive.reason
    stored = await portal.requests.get(record.id)
    assert stored is not None
    assert stored.jira_status == "Waiting for customer"  # nothing was read while Passive


async def test_webhooks_for_the_same_issue_at_once_store_its_comment_once(portal: Portal) -> None:
    # Jira sends comment_created and issue_updated for one comment together.
    hooks = SupportWebhooks(
        projects=portal.projects, requests=portal.requests, puller=portal.puller
    )
    record = await portal.service.file("api", FORM, [], reporter="alice")
    await portal.worker.drain()
    [issue] = portal.jira.issues.values()
    portal.jira.comment(issue.id, "Sam", "On it")
    answers = await asyncio.gather(
        hooks("api", _event(issue.id, "comment_created")),
        hooks("api", _event(issue.id)),
        portal.puller.poll(),
    )
    assert answers[:2] == [applied(), applied()]
    assert [c.body for c in await portal.requests.comments(record.id)] == ["On it"]
