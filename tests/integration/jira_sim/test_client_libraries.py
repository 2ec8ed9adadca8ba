"""The simulator, checked by the two most used Python Jira libraries over a real socket.

pycontribs' ``jira`` and ``atlassian-python-api`` each run a broad script —
create, get, edit, transitions, assign, comment, attach, remote links, versions,
search, createmeta, user search, webhooks — against a Cloud site, a Data Center
site, and a Data Center site under the ``/jira`` context path. Every step is
checked on the simulator's state, not only on the library's answer. The
libraries follow the ``self`` links the simulator returns, so those must point
at the served site.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from atlassian import Jira as AtlassianJira
from atlassian.jira import JiraCloud
from jira import JIRA, JIRAError

from syncengine.jira.simulator import DEFAULT_TOKEN
from syncengine.jira.simulator.seed import ADMIN_TOKEN, BUG, DONE, IN_PROGRESS
from tests.integration.jira_sim.served import ServedSim, served

SITES = [("cloud", ""), ("datacenter", ""), ("datacenter", "/jira")]
CRASH_BUG = {
    "project": {"key": "CRASH"},
    "issuetype": {"name": "Bug"},
    "summary": "Checkout crashes on an empty cart",
    "customfield_10050": {"value": "Major"},
}


@pytest.fixture(params=SITES, ids=["cloud", "datacenter", "datacenter-context-path"])
def site(request: pytest.FixtureRequest) -> Iterator[ServedSim]:
    flavour, context = request.param
    with served(flavour, context) as running:
        yield running


def _login(site: ServedSim, who: str = "bot") -> str:
    return f"{who}@example.com" if site.sim.flavour == "cloud" else who


@pytest.fixture(autouse=True)
def _their_deprecations() -> Iterator[None]:
    # Both libraries warn about their own deprecated helpers; that is theirs, not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def test_pycontribs_jira(site: ServedSim) -> None:
    sim, cloud = site.sim, site.sim.flavour == "cloud"
    jira = JIRA(server=site.url, basic_auth=(_login(site), DEFAULT_TOKEN), max_retries=0)
    admin = JIRA(server=site.url, basic_auth=(_login(site, "admin"), ADMIN_TOKEN), max_retries=0)
    _pycontribs_script(site, jira, admin, cloud=cloud)
    assert sim.calls() > 30


def _pycontribs_script(site: ServedSim, jira: JIRA, admin: JIRA, *, cloud: bool) -> None:
    sim = site.sim
    assert jira.server_info()["deploymentType"] == ("Cloud" if cloud else "Server")
    assert jira.myself()["emailAddress"] == "bot@example.com"
    assert {p.key for p in jira.projects()} == {"CRASH", "SUP"}

    issue = jira.create_issue(fields=CRASH_BUG | {"description": "Stack:\n{code}main(){code}"})
    key = issue.key
    assert sim.issue(key).fields["summary"] == CRASH_BUG["summary"]
    assert jira.issue(key).fields.customfield_10050.value == "Major"

    issue.update(summary="Renamed", labels=[{"add": "crash"}])  # follows the self link
    assert sim.issue(key).fields["summary"] == "Renamed"
    assert sim.issue(key).fields["labels"] == ["crash"]

    names = {t["name"] for t in jira.transitions(issue)}
    assert {"Start Progress", "Done", "Won't Do"} <= names
    jira.transition_issue(issue, "Start Progress")
    assert sim.issue(key).status_id == IN_PROGRESS
    jira.transition_issue(issue, "31", fields={"resolution": {"name": "Done"}})
    assert (sim.issue(key).status_id, sim.issue(key).resolution_id) == (DONE, "10000")

    alice = sim.user("alice")
    jira.assign_issue(issue, alice.account_id if cloud else "alice")  # /rest/api/latest/...
    assert sim.issue(key).fields["assignee"] == alice.account_id

    comment = jira.add_comment(issue, "Regressed in 2.4.0")
    assert jira.comment(key, comment.id).body == "Regressed in 2.4.0"
    assert [c.id for c in jira.comments(issue)] == [comment.id]

    stored = jira.add_attachment(issue, io.BytesIO(b"frame 0: main"), filename="trace.txt")
    assert jira.attachment(stored.id).get() == b"frame 0: main"
    assert [a.filename for a in sim.issue(key).attachments] == ["trace.txt"]

    jira.add_simple_link(issue, {"url": "https://se.example/groups/1", "title": "Group 1"})
    [link] = jira.remote_links(issue)
    assert jira.remote_link(issue, link.id).object.url == "https://se.example/groups/1"

    versions = jira.project_versions("CRASH")
    assert [v.name for v in versions] == ["2.2.0", "2.3.0", "2.4.0"]
    assert jira.version(versions[-1].id).name == "2.4.0"
    made = admin.create_version("3.0.0", "CRASH")
    made.update(released=True)
    assert next(v for v in sim.state.projects["CRASH"].versions if v.name == "3.0.0").released

    if cloud:
        found = jira.enhanced_search_issues("project = CRASH ORDER BY created", maxResults=10)
    else:
        found = jira.search_issues("project = CRASH ORDER BY created", maxResults=10)
    assert key in [i.key for i in found]

    if cloud:  # pycontribs reads Cloud's create screens from the old createmeta only
        meta = jira.createmeta(
            projectKeys="CRASH", issuetypeNames="Bug", expand="projects.issuetypes.fields"
        )
        assert meta["projects"][0]["issuetypes"][0]["fields"]["customfield_10050"]["required"]
    else:
        assert "Bug" in [t.name for t in jira.project_issue_types("CRASH")]
        fields = {f.fieldId: f for f in jira.project_issue_fields("CRASH", BUG)}
        assert fields["customfield_10050"].required

    if cloud:
        users = jira.search_users(query="alice")
        assignable = jira.search_assignable_users_for_issues(query="alice", project="CRASH")
        assert [u.accountId for u in users] == [alice.account_id]
    else:
        users = jira.search_users(user="alice")
        assignable = jira.search_assignable_users_for_issues(username="alice", project="CRASH")
        assert [u.name for u in users] == ["alice"]
    assert len(assignable) == 1

    issue.delete()
    with pytest.raises(JIRAError) as gone:
        jira.issue(key)
    assert gone.value.status_code == 404


def test_atlassian_python_api(site: ServedSim, tmp_path: Path) -> None:
    sim, cloud = site.sim, site.sim.flavour == "cloud"
    jira = AtlassianJira(url=site.url, username=_login(site), password=DEFAULT_TOKEN, cloud=cloud)
    admin = AtlassianJira(
        url=site.url, username=_login(site, "admin"), password=ADMIN_TOKEN, cloud=cloud
    )
    _atlassian_script(site, jira, admin, tmp_path, cloud=cloud)
    if cloud:
        _cloud_v3_script(site)
    assert sim.calls() > 25


def _atlassian_script(
    site: ServedSim, jira: AtlassianJira, admin: AtlassianJira, tmp_path: Path, *, cloud: bool
) -> None:
    sim = site.sim
    assert jira.get_server_info()["deploymentType"] == ("Cloud" if cloud else "Server")
    assert jira.myself()["emailAddress"] == "bot@example.com"

    key = jira.create_issue(fields=CRASH_BUG)["key"]
    assert jira.get_issue(key)["fields"]["customfield_10050"]["value"] == "Major"
    jira.update_issue_field(key, {"summary": "Edited"})
    assert sim.issue(key).fields["summary"] == "Edited"

    assert "Start Progress" in {t["name"] for t in jira.get_issue_transitions(key)}
    jira.set_issue_status(key, "In Progress")
    assert sim.issue(key).status_id == IN_PROGRESS

    alice = sim.user("alice")
    jira.assign_issue(key, alice.account_id if cloud else "alice")
    assert sim.issue(key).fields["assignee"] == alice.account_id

    jira.issue_add_comment(key, "Seen again in 2.4.0")
    assert [c["body"] for c in jira.issue_get_comments(key)["comments"]] == ["Seen again in 2.4.0"]

    trace = tmp_path / "trace.txt"
    trace.write_bytes(b"frame 0: main")
    [stored] = jira.add_attachment(key, str(trace))
    assert jira.get_attachment(stored["id"])["filename"] == "trace.txt"
    assert sim.issue(key).attachments[0].content == b"frame 0: main"

    jira.create_or_update_issue_remote_links(
        key, "https://se.example/groups/2", "Group 2", global_id="syncengine:2"
    )
    jira.create_or_update_issue_remote_links(
        key, "https://se.example/groups/2b", "Group 2", global_id="syncengine:2"
    )  # the same globalId updates, never duplicates
    [link] = jira.get_issue_remote_links(key)
    assert jira.get_issue_remote_link_by_id(key, link["id"])["object"]["url"].endswith("/2b")

    versions = jira.get_project_versions("CRASH")
    assert jira.get_version(versions[0]["id"])["name"] == "2.2.0"
    admin.add_version("CRASH", 10000, "3.1.0")
    made = next(v for v in sim.state.projects["CRASH"].versions if v.name == "3.1.0")
    admin.update_version(made.id, is_released=True, release_date="2026-04-01")
    assert (made.released, made.release_date) == (True, "2026-04-01")

    search = (
        jira.enhanced_jql("project = CRASH", limit=10) if cloud else jira.jql("project = CRASH")
    )
    assert key in [i["key"] for i in search["issues"]]

    types = jira.issue_createmeta_issuetypes("CRASH")
    assert "Bug" in [t["name"] for t in types.get("issueTypes", types.get("values", []))]
    page = jira.issue_createmeta_fieldtypes("CRASH", BUG)
    assert "customfield_10050" in [f["fieldId"] for f in page.get("fields", page.get("values", []))]
    if cloud:
        legacy = jira.issue_createmeta("CRASH")
        assert legacy["projects"][0]["issuetypes"][0]["fields"]["summary"]["required"]
    else:  # Data Center 9 removed it; the path reads as an issue key
        with pytest.raises(requests.HTTPError, match="Issue Does Not Exist"):
            jira.issue_createmeta("CRASH")

    if cloud:
        users = jira.user_find_by_user_string(query="alice")
        assert [u["accountId"] for u in users] == [alice.account_id]
        with pytest.raises(requests.HTTPError, match="GDPR strict mode"):  # Cloud removed it
            jira.get("rest/api/2/user/search", params={"username": "alice"})
    else:
        assert [u["name"] for u in jira.user_find_by_user_string(username="alice")] == ["alice"]

    _webhooks(site, admin, cloud=cloud)
    jira.delete_issue(key)
    assert not sim.issues("CRASH") or key not in [i.key for i in sim.issues("CRASH")]


def _webhooks(site: ServedSim, admin: AtlassianJira, *, cloud: bool) -> None:
    hook = {
        "name": "syncengine",
        "url": "https://se.example/hook",
        "events": ["jira:issue_updated"],
    }
    made = admin.post("rest/webhooks/1.0/webhook", data=hook)
    assert made["url"] == "https://se.example/hook"
    assert [h["name"] for h in admin.get("rest/webhooks/1.0/webhook")] == ["syncengine"]
    assert [h.url for h in site.sim.webhooks.webhooks.values()] == ["https://se.example/hook"]
    if cloud:  # the REST API's own /webhook is for Connect and OAuth 2.0 apps only
        with pytest.raises(requests.HTTPError, match="Connect"):
            admin.post("rest/api/2/webhook", data={"url": "https://x", "webhooks": []})


def _cloud_v3_script(site: ServedSim) -> None:
    """The same library's generated Cloud client, on REST v3: rich text as ADF."""
    sim = site.sim
    cloud = JiraCloud(url=site.url, username="bot@example.com", password=DEFAULT_TOKEN)
    document = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "boom"}]}],
    }
    key = cloud.create_issue(data={"fields": CRASH_BUG | {"description": document}})["key"]
    assert sim.issue(key).fields["description"] == document
    cloud.add_comment(key, data={"body": document})
    assert sim.issue(key).comments[0].body == document
    empty = {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}],
    }
    with pytest.raises(requests.HTTPError, match="INVALID_INPUT"):
        cloud.add_comment(key, data={"body": empty})
    cloud.do_transition(key, data={"transition": {"id": "11"}})
    assert sim.issue(key).status_id == IN_PROGRESS
    assert cloud.get_version("10011")["name"] == "2.3.0"
