"""Support requests through the real Jira client against the Jira simulator (in-process)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any, Literal

import httpx
import pytest
from pydantic import SecretStr

from syncengine.bootstrap.values import support_configs, support_fields
from syncengine.errors import InvalidInput
from syncengine.jira import JiraClient, JiraConfig
from syncengine.jira.errors import JiraNotSent
from syncengine.jira.simulator import (
    DEFAULT_TOKEN,
    Simulator,
    create_simulator,
    default_login,
)
from syncengine.settings import Settings
from syncengine.store.create_records import CreateRecords
from syncengine.store.database import Database
from syncengine.store.outbox import OutboxRepository, State
from syncengine.store.projects import ProjectRepository
from syncengine.store.support import SupportRepository
from syncengine.support.create import SupportCreateHandler
from syncengine.support.jira_adapter import ClientSupportJira
from syncengine.support.pullback import SupportPuller
from syncengine.support.replies import SupportReplyHandler
from syncengine.support.service import SupportService, UploadedFile
from syncengine.support.targets import SupportTargets
from syncengine.support.validation import RequestForm
from syncengine.sync.worker import OutboxWorker
from tests.integration.lifecycle_harness import Clock as LifecycleClock
from tests.integration.support.conftest import T0, Clock

FORM = RequestForm(
    label="Question",
    summary="Symbol upload rejected",
    description="The upload answers 413.\nSince the last release.",
    category="Billing",
    api_product="Symbols API",
    endpoint="/symbols/v1/upload",
)


def sim_settings(api_version: Literal[2, 3]) -> Settings:
    return Settings(
        projects={
            "api": {
                "jira": {"project_key": "SUP", "api_version": api_version},
                "support": {
                    "enabled": True,
                    "labels": ["Question", "Bug"],
                    "categories": ["Billing", "Question"],
                    "api_products": ["Symbols API", "Crash API"],
                    "category_field": "customfield_10070",
                    "api_product_field": "customfield_10071",
                    "endpoint_field": "customfield_10072",
                },
            }
        }
    )


def _login(sim: Simulator) -> str:
    return default_login(sim.flavour)


class Wired:
    def __init__(
        self, db: Database, sim: Simulator, settings: Settings, clock: Clock | None = None
    ) -> None:
        self.sim = sim
        self.clock = clock or Clock()
        self.client = JiraClient.open(
            JiraConfig(
                site=sim.state.base_url,
                deployment=sim.flavour,  # type: ignore[arg-type]
                api_version=settings.projects["api"].jira.api_version,
                # Data Center logs in by username, Cloud by e-mail, as real Jira does.
                user=default_login(sim.flavour),
                token=SecretStr(DEFAULT_TOKEN),
                max_retries=0,
            ),
            transport=sim.transport(),
        )
        self.projects = ProjectRepository(db)
        self.requests = SupportRepository(db)
        self.outbox = OutboxRepository(db)
        targets = SupportTargets(support_fields(settings), {"api": ClientSupportJira(self.client)})
        self.worker = OutboxWorker(
            self.outbox,
            {
                "support.create": SupportCreateHandler(
                    requests=self.requests,
                    projects=self.projects,
                    targets=targets,
                    clock=self.clock,
                    outbox=self.outbox,
                ),
                "support.comment": SupportReplyHandler(
                    requests=self.requests,
                    projects=self.projects,
                    targets=targets,
                    clock=self.clock,
                    outbox=self.outbox,
                ),
            },
            worker_id="t",
            clock=self.clock,
        )
        self.service = SupportService(
            configs=support_configs(settings),
            projects=self.projects,
            requests=self.requests,
            clock=self.clock,
            fields=support_fields(settings),
        )
        self.puller = SupportPuller(
            requests=self.requests,
            projects=self.projects,
            targets=targets,
            slugs=self.service.enabled_slugs,
            clock=self.clock,
        )


@pytest.mark.parametrize(
    ("flavour", "api_version"), [("cloud", 3), ("cloud", 2), ("datacenter", 2)]
)
async def test_request_reaches_the_simulator_with_fields_and_comes_back(
    db: Database, flavour: Literal["cloud", "datacenter"], api_version: Literal[2, 3]
) -> None:
    sim = create_simulator(flavour)
    wired = Wired(db, sim, sim_settings(api_version))
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=T0)
        record = await wired.service.file(
            "api",
            FORM,
            [UploadedFile(filename="413.txt", content_type="text/plain", content=b"HTTP 413")],
            reporter="alice",
        )
        await wired.worker.drain()
        [item] = await wired.outbox.list(states=(State.DONE, State.DEAD, State.PENDING))
        assert item.state == State.DONE, item.last_error

        [issue] = sim.issues("SUP")
        async with sim.client(login=default_login(sim.flavour), token=DEFAULT_TOKEN) as reader:
            shown = (await reader.get(f"/rest/api/2/issue/{issue.key}")).json()["fields"]
        assert shown["summary"] == FORM.summary
        assert shown["issuetype"]["name"] == "Task"
        assert shown["customfield_10070"]["value"] == "Billing"
        assert shown["customfield_10071"]["value"] == "Symbols API"
        assert shown["customfield_10072"] == "/symbols/v1/upload"
        assert set(shown["labels"]) == {"Question", f"syncengine-sr-{record.id}"}
        assert "The upload answers 413." in str(shown["description"])
        assert [(a.filename, a.content) for a in issue.attachments] == [("413.txt", b"HTTP 413")]
        stored = await wired.requests.get(record.id)
        assert stored is not None
        assert stored.jira_issue_key == issue.key
        assert stored.jira_status == "To Do"

        assert await wired.puller.poll() == 0  # the first, full round: nothing new yet
        wired.clock.advance(60)
        async with sim.client(login=default_login(sim.flavour), token=DEFAULT_TOKEN) as engineer:
            body = "We <b>raised</b> the limit." if api_version == 2 else None
            path = f"/rest/api/{api_version}/issue/{issue.key}/comment"
            payload = (
                {"body": body}
                if body
                else {
                    "body": {
                        "type": "doc",
                        "version": 1,
                        "content": [
                            {
                                "type": "paragraph",
                                "content": [
                                    {"type": "text", "text": "We <b>raised</b> the limit."}
                                ],
                            }
                        ],
                    }
                }
            )
            assert (await engineer.post(path, json=payload)).status_code == 201
        assert await wired.puller.poll() == 1  # found by "updated in the last 3 minutes"
        [comment] = await wired.requests.comments(record.id)
        assert comment.body == "We <b>raised</b> the limit."
        assert comment.author
    finally:
        await wired.client.aclose()


async def test_lost_create_answer_is_adopted_by_label(db: Database) -> None:
    sim = create_simulator("cloud")
    wired = Wired(db, sim, sim_settings(2))
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=T0)
        sim.add_fault(kind="commit_then_fail", route="POST /issue", drop=True, remaining=1)
        record = await wired.service.file("api", FORM, [], reporter="alice")
        await wired.worker.drain()
        wired.clock.advance(3600)
        await wired.worker.drain()
        assert len(sim.issues("SUP")) == 1
        stored = await wired.requests.get(record.id)
        assert stored is not None
        assert stored.jira_issue_key == sim.issues("SUP")[0].key
    finally:
        await wired.client.aclose()


async def test_lost_create_answer_under_search_lag_makes_one_issue(db: Database) -> None:
    """The retry waits until Jira's search can show the lost create, then adopts it."""
    clock = LifecycleClock()
    sim = clock.simulator(search_lag=120)
    wired = Wired(db, sim, sim_settings(2), clock)  # type: ignore[arg-type]
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=clock())
        sim.add_fault(kind="commit_then_fail", route="POST /issue", drop=True, remaining=1)
        record = await wired.service.file("api", FORM, [], reporter="alice")
        await wired.worker.drain()
        assert len(sim.issues("SUP")) == 1  # created; its answer was lost
        for _ in range(30):  # 15 minutes of retries while the search lags 2 minutes
            clock.advance(30)
            await wired.worker.drain()
        assert len(sim.issues("SUP")) == 1
        stored = await wired.requests.get(record.id)
        assert stored is not None
        assert stored.jira_issue_key == sim.issues("SUP")[0].key
    finally:
        await wired.client.aclose()


async def test_a_worker_paused_before_its_create_goes_out_sends_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGSTOP between the write-ahead record and the create: the worker that takes the
    item over makes the issue; the paused one's late create must not make a second."""
    clock = LifecycleClock()
    sim = clock.simulator()
    wired = Wired(db, sim, sim_settings(2), clock)  # type: ignore[arg-type]
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=clock())
        record = await wired.service.file("api", FORM, [], reporter="alice")
        [stale] = await wired.outbox.claim("paused", now=clock(), lease=timedelta(seconds=120))
        announce = CreateRecords.announce

        async def announce_then_pause(self: CreateRecords, works: Any) -> Any:
            held = await announce(self, works)
            monkeypatch.setattr(CreateRecords, "announce", announce)  # the other's is real
            for _ in range(30):  # 15 minutes asleep: the other worker takes over
                clock.advance(30)
                await wired.worker.drain()
            assert len(sim.issues("SUP")) == 1
            return held

        monkeypatch.setattr(CreateRecords, "announce", announce_then_pause)
        # Its own handler, as in its own process (a handler creates one request at a time).
        paused = dataclasses.replace(wired.worker.handlers["support.create"])
        with pytest.raises(JiraNotSent):
            await paused(stale)
        assert len(sim.issues("SUP")) == 1
        stored = await wired.requests.get(record.id)
        assert stored is not None
        assert stored.jira_issue_key == sim.issues("SUP")[0].key
    finally:
        await wired.client.aclose()


async def test_a_worker_paused_before_its_reply_goes_out_comments_nothing(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = LifecycleClock()
    sim = clock.simulator()
    wired = Wired(db, sim, sim_settings(2), clock)  # type: ignore[arg-type]
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=clock())
        record = await wired.service.file("api", FORM, [], reporter="alice")
        await wired.worker.drain()
        stored = await wired.requests.get(record.id)
        assert stored is not None
        await wired.service.reply(stored, "Still failing.", author="alice")
        [stale] = await wired.outbox.claim("paused", now=clock(), lease=timedelta(seconds=120))
        live_until = OutboxRepository.live_until

        async def checked_then_paused(self: OutboxRepository, *args: Any, **kwargs: Any) -> Any:
            ends = await live_until(self, *args, **kwargs)
            monkeypatch.setattr(OutboxRepository, "live_until", live_until)
            for _ in range(30):  # 15 minutes asleep: the other worker takes over, comments
                clock.advance(30)
                await wired.worker.drain()
            return ends

        monkeypatch.setattr(OutboxRepository, "live_until", checked_then_paused)
        with pytest.raises(JiraNotSent):
            await wired.worker.handlers["support.comment"](stale)
        [issue] = sim.issues("SUP")
        assert [c.body for c in issue.comments if "Still failing." in str(c.body)] != []
        assert len(issue.comments) == 1
    finally:
        await wired.client.aclose()


async def test_an_operator_retry_after_a_lost_reply_answer_comments_once(db: Database) -> None:
    """The operator's retry starts the attempts again; the item still looks first."""
    clock = LifecycleClock()
    sim = clock.simulator()
    wired = Wired(db, sim, sim_settings(2), clock)  # type: ignore[arg-type]
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=clock())
        record = await wired.service.file("api", FORM, [], reporter="alice")
        await wired.worker.drain()
        stored = await wired.requests.get(record.id)
        assert stored is not None
        sim.add_fault(
            kind="commit_then_fail", method="POST", route="*/comment", drop=True, remaining=1
        )
        await wired.service.reply(stored, "Still failing.", author="alice")
        await wired.worker.drain()
        [item] = await wired.outbox.list(states=(State.PENDING,))
        assert await wired.outbox.requeue(item.id, actor="admin", now=clock())
        await wired.worker.drain()
        [issue] = sim.issues("SUP")
        assert len(issue.comments) == 1
        assert await wired.outbox.list(states=(State.PENDING, State.DEAD)) == []
    finally:
        await wired.client.aclose()


class _BlankComments(httpx.AsyncBaseTransport):
    """A proxy that answers comment POSTs with their status and no body."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/comment"):
            await answer.aread()
            return httpx.Response(answer.status_code, headers={"content-length": "0"})
        return answer


async def test_a_reply_whose_comment_was_answered_with_no_body_is_in_jira_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """201 with an empty body: the comment exists; the retry finds it (no dead item)."""
    clock = LifecycleClock()
    sim = clock.simulator()
    plain = sim.transport
    monkeypatch.setattr(sim, "transport", lambda: _BlankComments(plain()))
    wired = Wired(db, sim, sim_settings(2), clock)  # type: ignore[arg-type]
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=clock())
        record = await wired.service.file("api", FORM, [], reporter="alice")
        await wired.worker.drain()
        stored = await wired.requests.get(record.id)
        assert stored is not None
        await wired.service.reply(stored, "Still failing.", author="alice")
        for _ in range(3):
            await wired.worker.drain()
            clock.advance(120)
        [issue] = sim.issues("SUP")
        assert len(issue.comments) == 1
        [reply] = await wired.requests.comments(record.id)
        assert not reply.pending
        assert await wired.outbox.list(states=(State.PENDING, State.DEAD)) == []
    finally:
        await wired.client.aclose()


# A pasted log of 32,000 characters (the portal's own limit): ADF's nodes for its lines
# make it longer than Jira takes; on v2 the wiki escapes of markup characters do.
LOG = "\n".join(["ok"] * 10_667)[:32_000]
STARS = "*" * 20_000


@pytest.mark.parametrize(
    ("flavour", "api_version", "text"),
    [("cloud", 3, LOG), ("datacenter", 2, STARS)],
    ids=["cloud-v3-log-lines", "dc-v2-wiki-escapes"],
)
async def test_a_description_jira_cannot_take_is_refused_when_filed(
    db: Database, flavour: Literal["cloud", "datacenter"], api_version: Literal[2, 3], text: str
) -> None:
    sim = create_simulator(flavour)
    wired = Wired(db, sim, sim_settings(api_version))
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=T0)
        with pytest.raises(InvalidInput) as refused:
            await wired.service.file(
                "api", dataclasses.replace(FORM, description=text), [], reporter="alice"
            )
        assert "once formatted for Jira" in refused.value.problems["description"]
        assert await wired.outbox.list(states=(State.PENDING, State.DEAD)) == []
        # Within the limit as Jira counts it: filed, and Jira takes it.
        fits = text[:1_500] if api_version == 3 else text[:16_000]
        await wired.service.file(
            "api", dataclasses.replace(FORM, description=fits), [], reporter="alice"
        )
        await wired.worker.drain()
        [issue] = sim.issues("SUP")
        assert await wired.outbox.list(states=(State.PENDING, State.DEAD)) == []
        assert issue.fields["description"]
    finally:
        await wired.client.aclose()


async def test_a_reply_jira_cannot_take_is_refused_when_written(db: Database) -> None:
    sim = create_simulator("cloud")
    wired = Wired(db, sim, sim_settings(3))
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=T0)
        record = await wired.service.file("api", FORM, [], reporter="alice")
        await wired.worker.drain()
        stored = await wired.requests.get(record.id)
        assert stored is not None
        with pytest.raises(InvalidInput) as refused:
            await wired.service.reply(stored, LOG, author="alice")
        assert "once formatted for Jira" in refused.value.problems["reply"]
        assert await wired.requests.comments(record.id) == []
        await wired.service.reply(stored, LOG[:1_500], author="alice")
        await wired.worker.drain()
        [issue] = sim.issues("SUP")
        assert len(issue.comments) == 1
        assert await wired.outbox.list(states=(State.PENDING, State.DEAD)) == []
    finally:
        await wired.client.aclose()


async def test_lost_attachment_answer_is_not_uploaded_twice(db: Database) -> None:
    sim = create_simulator("cloud")
    wired = Wired(db, sim, sim_settings(3))
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=T0)
        sim.add_fault(kind="commit_then_fail", route="*/attachments", drop=True, remaining=1)
        record = await wired.service.file(
            "api",
            FORM,
            [
                UploadedFile(filename="a.txt", content_type="text/plain", content=b"first"),
                UploadedFile(filename="b.txt", content_type="text/plain", content=b"second"),
            ],
            reporter="alice",
        )
        await wired.worker.drain()
        [item] = await wired.outbox.list()
        assert item.state == State.PENDING  # the first upload's answer was lost
        wired.clock.advance(3600)
        await wired.worker.drain()
        [issue] = sim.issues("SUP")
        assert sorted(a.filename for a in issue.attachments) == ["a.txt", "b.txt"]
        assert all(a.jira_attachment_id for a in await wired.requests.attachments(record.id))
    finally:
        await wired.client.aclose()


async def test_support_logs_say_which_project_and_outbox_item(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from syncengine.logs import RedactingFilter

    sim = create_simulator("cloud")
    wired = Wired(db, sim, sim_settings(3))
    caplog.handler.addFilter(RedactingFilter())
    try:
        await wired.projects.ensure("api", name="API", integration_active=True, now=T0)
        await wired.service.file("api", FORM, [], reporter="alice")
        with caplog.at_level(logging.INFO, logger="syncengine.support.create"):
            await wired.worker.drain()
        [item] = await wired.outbox.list(states=(State.DONE,))
        [filed] = [r for r in caplog.records if "is Jira issue" in r.getMessage()]
        assert (filed.project, filed.outbox_id) == ("api", item.id)  # type: ignore[attr-defined]
    finally:
        await wired.client.aclose()
