"""The client driven end to end against the Jira simulator, in-process (Cloud and Data Center)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from syncengine.jira import JiraClient, JiraConfig, NewIssue
from syncengine.jira.errors import (
    JiraAuthError,
    JiraBadRequest,
    JiraGone,
    JiraInvalidIssueType,
    JiraNotFound,
    JiraOutcomeUnknown,
    JiraPermissionError,
)
from syncengine.jira.jql import quote
from syncengine.jira.simulator import (
    DEFAULT_LOGIN,
    DEFAULT_TOKEN,
    ManualClock,
    Simulator,
    create_simulator,
    default_login,
)

SITE = "http://jira.local"
IDENTITY = "syncengine.group"


def _client(sim: Simulator, clock: ManualClock, **options: Any) -> JiraClient:
    flavour = sim.flavour
    values: dict[str, Any] = {
        "site": SITE if flavour == "cloud" else f"{SITE}/jira",
        "deployment": "auto",
        "api_version": 3 if flavour == "cloud" else 2,
        # Data Center logs in by username, as real Jira DC does; Cloud by e-mail.
        "user": default_login(flavour),
        "token": SecretStr(DEFAULT_TOKEN),
        "requests_per_second": 1000.0,
        "max_retries": 4,
        "timeout_seconds": 5.0,
    }
    values.update(options)
    return JiraClient.open(
        JiraConfig(**values),
        transport=sim.transport(),
        sleep=clock.sleep,
        clock=clock.monotonic,
        now=clock.now,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["cloud", "datacenter"])
def sim(request: pytest.FixtureRequest, clock: ManualClock) -> Simulator:
    return create_simulator(request.param, base_url=SITE, clock=clock, hang_seconds=30.0)


@pytest.fixture
async def client(sim: Simulator, clock: ManualClock) -> AsyncIterator[JiraClient]:
    jira = _client(sim, clock)
    yield jira
    await jira.aclose()


def _bug(summary: str, group: str, **extra: Any) -> dict[str, Any]:
    return {
        "project": {"key": "CRASH"},
        "issuetype": {"name": "Bug"},
        "summary": summary,
        "description": f"Crash in {summary}",
        "labels": ["syncengine", f"sg-{group}"],
        "customfield_10050": {"value": "Major"},
        **extra,
    }


async def test_site_metadata(client: JiraClient, sim: Simulator) -> None:
    assert await client.flavour() == sim.flavour
    me = await client.myself()
    assert me.email == DEFAULT_LOGIN
    assert me.identifier
    project = await client.project("CRASH")
    assert {"Bug", "Task"} <= {t.name for t in project.issue_types}
    types = await client.createmeta_issue_types("CRASH")
    bug = next(t for t in types if t.name == "Bug")
    fields = {f.id: f for f in await client.createmeta_fields("CRASH", bug.id)}
    assert fields["customfield_10050"].required
    assert [v.name for v in await client.project_versions("CRASH")][:3] == [
        "2.2.0",
        "2.3.0",
        "2.4.0",
    ]
    assert {c.key for c in await client.status_categories()} >= {"new", "indeterminate", "done"}
    statuses = {s.name: s for s in await client.statuses()}
    assert statuses["In Progress"].category_key == "indeterminate"
    assert "Bug" in await client.project_statuses("CRASH")
    (alice,) = await client.search_assignable_users("CRASH", "alice@example.com")
    assert alice.display_name == "Alice Developer"


async def test_create_read_transition_assign_comment(client: JiraClient, sim: Simulator) -> None:
    created = await client.create_issue(_bug("boom", "g1"), properties={IDENTITY: {"group": "g1"}})
    issue = await client.get_issue(created.key, properties=[IDENTITY])
    assert issue.id == created.id
    assert issue.status is not None
    assert issue.status.category_key == "new"
    assert "sg-g1" in issue.labels
    assert issue.updated is not None
    assert issue.updated.tzinfo is not None

    done = next(t for t in await client.transitions(created.key) if t.name == "Done")
    assert "resolution" in done.required_fields
    with pytest.raises(JiraBadRequest):
        await client.transition_issue(created.key, done.id)  # the resolution is required
    await client.transition_issue(created.key, done.id, fields={"resolution": {"name": "Done"}})
    await client.edit_issue(created.key, fields={"fixVersions": [{"name": "2.4.0"}]})
    (alice,) = await client.search_users("alice@example.com")
    await client.assign_issue(created.key, alice.identifier)
    comment = await client.add_comment(created.key, "Regressed in 2.4.0")
    assert comment.text == "Regressed in 2.4.0"

    after = await client.get_issue(created.key)
    assert after.status is not None
    assert after.status.category_key == "done"
    assert after.resolution == "Done"
    assert after.fix_versions == ("2.4.0",)
    assert after.assignee is not None
    assert after.assignee.email == "alice@example.com"
    assert [c.text for c in await client.comments(created.key)] == ["Regressed in 2.4.0"]
    stored = sim.issue(created.key)
    assert stored.id == created.id


async def test_properties_are_set_with_the_create(client: JiraClient) -> None:
    created = await client.create_issue(_bug("boom", "g1"), properties={IDENTITY: {"group": "g1"}})
    issue = await client.get_issue(created.key, properties=[IDENTITY])
    assert issue.properties.get(IDENTITY) == {"group": "g1"}


async def test_attachments_properties_and_links(client: JiraClient, sim: Simulator) -> None:
    created = await client.create_issue(_bug("attach", "g2"))
    (stored,) = await client.add_attachment(
        created.key, "minidump.dmp", b"MDMP\x00\x01", "application/octet-stream"
    )
    assert stored.filename == "minidump.dmp"
    assert stored.size == 6
    assert await client.get_issue_property(created.key, IDENTITY) is None
    await client.set_issue_property(created.key, IDENTITY, {"group": "g2"})
    assert await client.get_issue_property(created.key, IDENTITY) == {"group": "g2"}
    issue = await client.get_issue(created.key, properties=[IDENTITY])
    assert issue.properties == {IDENTITY: {"group": "g2"}}
    link_id = await client.create_remote_link(
        created.key, url="https://se/g/2", title="Group g2", global_id="se:g2"
    )
    again = await client.create_remote_link(
        created.key, url="https://se/g/2", title="Group g2 (renamed)", global_id="se:g2"
    )
    assert again == link_id
    (link,) = await client.remote_links(created.key)
    assert (link.global_id, link.title) == ("se:g2", "Group g2 (renamed)")


async def test_search_pages_through_every_match(client: JiraClient) -> None:
    result = await client.bulk_create([NewIssue(fields=_bug(f"s{n}", "paging")) for n in range(7)])
    assert len(result.created) == 7
    assert not result.failed
    page = await client.search_page(
        "labels = sg-paging ORDER BY key ASC", fields=["summary"], page_size=3
    )
    assert len(page.issues) == 3
    assert page.next_cursor is not None
    found = [
        i.summary
        async for i in client.search(
            "labels = sg-paging ORDER BY created ASC", fields=["summary"], page_size=3
        )
    ]
    assert found == [f"s{n}" for n in range(7)]


async def test_bulk_create_over_50_with_a_refused_item(client: JiraClient, sim: Simulator) -> None:
    issues = [NewIssue(fields=_bug(f"b{n}", "bulk")) for n in range(60)]
    issues[55] = NewIssue(fields=_bug("bad", "bulk") | {"issuetype": {"name": "Epic"}})
    result = await client.bulk_create(issues)
    assert sim.calls("POST /issue/bulk") == 2
    assert [f.index for f in result.failed] == [55]
    assert "issuetype" in result.failed[0].field_errors
    assert len(result.created) == 59
    assert len(sim.issues("CRASH")) == 59


async def test_rate_limits_are_waited_out(
    client: JiraClient, sim: Simulator, clock: ManualClock
) -> None:
    sim.add_fault(kind="error", status=429, route="GET /myself", retry_after=3, remaining=2)
    started = clock.monotonic()
    me = await client.myself()
    assert me.email == DEFAULT_LOGIN
    assert sim.calls("GET /myself", 429) == 2
    assert clock.monotonic() - started >= 6


async def test_lost_create_answer_is_outcome_unknown_and_found_by_identity(
    client: JiraClient, sim: Simulator
) -> None:
    sim.add_fault(kind="commit_then_fail", route="POST /issue", drop=True, remaining=1)
    with pytest.raises(JiraOutcomeUnknown):
        await client.create_issue(_bug("lost", "lost1"), properties={IDENTITY: {"group": "lost1"}})
    assert len(sim.issues("CRASH")) == 1, "the client did not send the create twice"
    found = [i async for i in client.search(f"labels = {quote('sg-lost1')}", fields=["summary"])]
    assert [i.summary for i in found] == ["lost"]


async def test_revoked_token_and_removed_permission(client: JiraClient, sim: Simulator) -> None:
    created = await client.create_issue(_bug("perm", "p1"))
    sim.revoke_permission(DEFAULT_LOGIN, "CRASH", "CREATE_ISSUES")
    with pytest.raises(JiraPermissionError) as denied:
        await client.create_issue(_bug("perm2", "p2"))
    assert "Create Issues" in denied.value.user_message()
    sim.revoke_permission(DEFAULT_LOGIN, "CRASH", "BROWSE_PROJECTS")
    with pytest.raises(JiraNotFound, match=f"Issue {created.key} does not exist"):
        await client.get_issue(created.key)
    sim.revoke_token(DEFAULT_TOKEN)
    with pytest.raises(JiraAuthError) as rejected:
        await client.myself()
    assert client.config.user in str(rejected.value)
    assert DEFAULT_TOKEN not in rejected.value.user_message()


async def test_bad_issue_type_and_missing_required_field(client: JiraClient) -> None:
    with pytest.raises(JiraInvalidIssueType) as wrong_type:
        await client.create_issue(_bug("x", "t") | {"issuetype": {"name": "Story"}})
    assert "issue type is not valid for this project" in wrong_type.value.user_message()
    fields = _bug("x", "t")
    del fields["customfield_10050"]
    with pytest.raises(JiraBadRequest) as missing:
        await client.create_issue(fields)
    assert "customfield_10050" in missing.value.field_errors
    with pytest.raises(JiraNotFound, match="Project NOPE does not exist"):
        await client.project("NOPE")


async def test_cloud_misconfigured_as_data_center_gets_410(clock: ManualClock) -> None:
    sim = create_simulator("cloud", base_url=SITE, clock=clock)
    client = _client(sim, clock, deployment="datacenter", api_version=2)
    try:
        with pytest.raises(JiraGone) as gone:
            await client.search_page("project = CRASH")
        assert "/search/jql" in gone.value.user_message()
    finally:
        await client.aclose()


async def test_webhook_registration_where_allowed(clock: ManualClock) -> None:
    cloud = create_simulator("cloud", base_url=SITE, clock=clock)
    dc = create_simulator("datacenter", base_url=SITE, clock=clock)
    on_cloud = _client(cloud, clock)
    # The simulator serves its webhook plugin at the root only, not under /jira.
    on_dc = _client(dc, clock, site=SITE, user="admin", token=SecretStr("sim-admin-token"))
    try:
        with pytest.raises(JiraPermissionError, match="register a webhook"):
            await on_cloud.register_webhook(
                "https://se/wh", events=["jira:issue_updated"], jql="project = CRASH"
            )
        registered = await on_dc.register_webhook(
            "https://se/wh", events=["jira:issue_updated"], jql="project = CRASH"
        )
        assert registered.ids
    finally:
        await on_cloud.aclose()
        await on_dc.aclose()


async def test_search_with_fields_pages_by_100_and_ids_only_in_one_page(
    client: JiraClient, sim: Simulator
) -> None:
    await client.bulk_create([NewIssue(fields=_bug(f"m{n}", "many")) for n in range(150)])
    await client.flavour()  # serverInfo, asked once
    before = sim.calls()
    full = [i async for i in client.search("labels = sg-many", fields=["summary"], page_size=500)]
    full_calls = sim.calls() - before
    keys = [i.key async for i in client.search("labels = sg-many", fields=["key"], page_size=500)]
    assert len(full) == len(keys) == 150
    if sim.flavour == "cloud":
        assert full_calls == 2  # at most 100 issues a page with fields
        assert sim.calls() - before - full_calls == 1


async def test_the_per_issue_write_limit_is_waited_out(clock: ManualClock) -> None:
    # Jira Cloud enforces the per-issue write limit; Data Center only when an admin turns
    # rate limiting on, so this runs on Cloud.
    sim = create_simulator("cloud", base_url=SITE, clock=clock)
    client = _client(sim, clock)
    try:
        await _hot_issue(client, sim, clock)
    finally:
        await client.aclose()


async def _hot_issue(client: JiraClient, sim: Simulator, clock: ManualClock) -> None:
    created = await client.create_issue(_bug("hot", "hot"))
    started = clock.monotonic()
    for n in range(30):
        await client.edit_issue(created.key, fields={"summary": f"hot {n}"})
    assert sim.calls("PUT /issue/{issueIdOrKey}", 429) >= 1
    assert clock.monotonic() > started  # the client slept as Jira asked
    assert (await client.get_issue(created.key)).summary == "hot 29"


async def test_create_meta_reads_the_screen_of_a_creatable_type(client: JiraClient) -> None:
    meta = await client.create_meta("CRASH", "bug")
    assert meta.issue_type == "Bug"
    severity = meta.find("customfield_10050")
    assert severity is not None
    assert severity.required
    with pytest.raises(JiraInvalidIssueType) as wrong:
        await client.create_meta("CRASH", "Epic")
    assert wrong.value.choices == ("Bug", "Task")
    assert "Bug, Task" in wrong.value.fix
