"""Error groups in the dashboard and the JSON API: search, filters, actions, roles, escaping."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from syncengine.bootstrap import bootstrap, prepare_projects
from syncengine.domain.groups import GroupState
from syncengine.domain.reports import CrashReport, Frame
from syncengine.settings import Settings
from syncengine.store.link_sync import LinkSyncStore
from syncengine.store.outbox import OutboxRepository
from syncengine.store.tables import ErrorGroup
from syncengine.store.work_kinds import LINK_PUSH
from syncengine.web import create_app
from tests.fake_support_jira import FakeSupportJira
from tests.integration.web.conftest import ADMIN_TOKEN, Web, csrf_of, sign_in, web_settings

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
EVIL = "<script>alert(1)</script>"


@pytest.fixture
async def web(database_url: str) -> AsyncIterator[Web]:
    """The dashboard, with project ``api`` filing crash tickets in the simulator's CRASH."""
    base = web_settings(database_url).model_dump()
    base["projects"]["api"]["jira"].update(project_key="CRASH", issue_type="Task")
    base["projects"]["api"]["rules"]["enabled"] = False  # tickets only when asked for
    settings = Settings.model_validate(base)
    jira = FakeSupportJira()
    container = await bootstrap(settings, migrate=False, support_jira={"api": jira})
    await prepare_projects(container, lambda _line: None)
    app = create_app(container.web)
    try:
        yield Web(container=container, jira=jira, app_transport=httpx.ASGITransport(app=app))
        assert container.db.checked_out() == 0
    finally:
        await container.aclose()


def crash(
    fingerprint: str, minute: int, *, classifier: str = "KeyError", **attrs: str
) -> CrashReport:
    return CrashReport(
        project="api",
        timestamp=T0 + timedelta(minutes=minute),
        fingerprint=fingerprint,
        classifier=classifier,
        message=f"message of {fingerprint}",
        version="1.0",
        attributes=attrs,
        frames=(Frame(function="charge_card", filename="pay.py", line=42, in_app=True),),
    )


async def seed(web: Web) -> dict[str, int]:
    """Groups a (3 reports), b (1, NullPointer), evil (HTML everywhere); ids by name."""
    record = await web.container.projects.get("api")
    assert record is not None
    accepted = await web.container.ingest.submit(
        record.id,
        [
            crash("fp-alpha", 1, os="linux"),
            crash("fp-alpha", 2, os="linux"),
            crash("fp-alpha", 3, os="mac"),
            crash("fp-beta", 9, classifier="NullPointerException"),
            crash("fp-evil", 5, classifier=EVIL, **{EVIL: EVIL}),
        ],
    )
    return {"a": accepted[0].group_id, "b": accepted[3].group_id, "evil": accepted[4].group_id}


async def test_api_searches_filters_and_sorts(web: Web) -> None:
    ids = await seed(web)
    await web.container.changes.assign(ids["b"], "dev@example.com", actor="t")
    async with web.client() as http:
        base = "/api/v1/projects/api/groups"

        async def found(**params: str | int) -> list[int]:
            answer = await http.get(base, params=params, headers=AUTH)
            assert answer.status_code == 200, answer.text
            return [g["id"] for g in answer.json()["groups"]]

        assert await found(q="NULLPOINTER") == [ids["b"]]
        assert await found(q="alph") == [ids["a"]]
        assert await found(q="message of fp-beta") == [ids["b"]]
        assert await found(q="%") == []  # LIKE wildcards are text
        assert await found(assignee="DEV@example.com") == [ids["b"]]
        assert await found(sort="count", limit=1) == [ids["a"]]
        assert await found(has_ticket="true") == []
        assert len(await found(has_ticket="false")) == 3
        assert await found(regressed="true") == []
        await web.container.changes.set_state(ids["a"], GroupState.MUTED, actor="t")
        assert await found(state="muted") == [ids["a"]]


async def test_api_detail_has_shares_frames_and_audit(web: Web) -> None:
    ids = await seed(web)
    await web.container.changes.assign(ids["a"], "dev@example.com", actor="someone")
    async with web.client() as http:
        answer = await http.get(f"/api/v1/projects/api/groups/{ids['a']}", headers=AUTH)
    body = answer.json()
    assert [(v["value"], v["count"], v["share"]) for v in body["attributes"]["os"]] == [
        ("linux", 2, 0.6667),
        ("mac", 1, 0.3333),
    ]
    assert body["frames"][0]["function"] == "charge_card"
    assert body["link"] is None
    assert [(e["actor"], e["action"]) for e in body["audit"]] == [("someone", "group.assignee")]
    history = body["history"]
    assert len(history) == 30
    assert history[-1]["day"] == datetime.now(UTC).date().isoformat()
    days = {h["day"]: h for h in history}
    if T0.date().isoformat() in days:  # the seeded reports are from T0's day
        assert days[T0.date().isoformat()]["versions"] == {"1.0": 3}
        assert sum(h["count"] for h in history) == 3


async def test_api_changes_state_and_assignee_audited(web: Web) -> None:
    ids = await seed(web)
    url = f"/api/v1/projects/api/groups/{ids['a']}"
    async with web.client() as http:
        changed = await http.post(f"{url}/state", json={"state": "in_progress"}, headers=AUTH)
        assert changed.status_code == 200, changed.text
        assert changed.json() == {
            "group_id": ids["a"],
            "field": "state",
            "before": "open",
            "after": "in_progress",
            "pushed_to_jira": False,
        }
        resolved = await http.post(
            f"{url}/state", json={"state": "resolved", "until_version": "2.0"}, headers=AUTH
        )
        assert resolved.json()["after"] == "resolved"
        detail = (await http.get(url, headers=AUTH)).json()
        assert detail["resolve_rule"][0]["version"] == "2.0"
        wrong = await http.post(
            f"{url}/state", json={"state": "muted", "until_version": "2.0"}, headers=AUTH
        )
        assert wrong.status_code == 400
        assert wrong.headers["content-type"] == "application/problem+json"
        assert "only with state 'resolved'" in wrong.json()["detail"]
        assigned = await http.post(
            f"{url}/assignee", json={"assignee": "dev@example.com"}, headers=AUTH
        )
        assert assigned.json()["after"] == "dev@example.com"
        bad = await http.post(f"{url}/assignee", json={"assignee": "not an email"}, headers=AUTH)
        assert bad.status_code == 400
        assert bad.json()["problems"] == {
            "assignee": "give the assignee's e-mail address, or leave it empty"
        }
        elsewhere = await http.post(
            f"/api/v1/projects/nope/groups/{ids['a']}/state", json={"state": "open"}, headers=AUTH
        )
        assert elsewhere.status_code == 404
    trail = await web.container.audit.for_group(ids["a"])
    assert [e.action for e in trail] == ["group.assignee", "group.state", "group.state"]
    assert {e.actor for e in trail} == {"api"}


async def test_api_creates_the_ticket_and_links_an_existing_issue(web: Web) -> None:
    ids = await seed(web)
    async with web.client() as http:
        base = "/api/v1/projects/api/groups"
        queued = await http.post(f"{base}/{ids['a']}/ticket", headers=AUTH)
        assert queued.json()["message"] == f"the ticket of group {ids['a']} is queued"
        await web.container.worker.drain()
        again = await http.post(f"{base}/{ids['a']}/ticket", headers=AUTH)
        assert again.json()["message"] == f"group {ids['a']} already has CRASH-1"
        listed = await http.get(base, params={"q": "crash-1"}, headers=AUTH)
        assert [(g["id"], g["jira_issue_key"]) for g in listed.json()["groups"]] == [
            (ids["a"], "CRASH-1")
        ]
        taken = await http.post(
            f"{base}/{ids['b']}/link", json={"issue_key": "crash-1"}, headers=AUTH
        )
        assert taken.status_code == 400
        assert f"CRASH-1 is already linked to group {ids['a']}" in taken.json()["detail"]
        malformed = await http.post(
            f"{base}/{ids['b']}/link", json={"issue_key": "not a key"}, headers=AUTH
        )
        assert "is not an issue key" in malformed.json()["problems"]["issue_key"]
        missing = await http.post(
            f"{base}/{ids['b']}/link", json={"issue_key": "CRASH-999"}, headers=AUTH
        )
        assert missing.status_code == 502
        assert missing.headers["content-type"] == "application/problem+json"
        # An issue someone filed by hand is linked after Jira confirms it exists.
        created = await web.container.jira.for_project("api").create_issue(
            {"project": {"key": "CRASH"}, "issuetype": {"name": "Task"}, "summary": "by hand"}
        )
        linked = await http.post(
            f"{base}/{ids['b']}/link", json={"issue_key": created.key}, headers=AUTH
        )
        assert linked.status_code == 200, linked.text
        assert linked.json()["issue_key"] == created.key
        assert linked.json()["status"]
        # Linked: a state change is now owed to Jira.
        changed = await http.post(
            f"{base}/{ids['a']}/state", json={"state": "in_progress"}, headers=AUTH
        )
        assert changed.json()["pushed_to_jira"] is True
        has = await http.get(base, params={"has_ticket": "true"}, headers=AUTH)
        assert sorted(g["id"] for g in has.json()["groups"]) == sorted([ids["a"], ids["b"]])
    actions = [e.action for e in await web.container.audit.for_group(ids["b"])]
    assert actions == ["ticket.linked"]


async def test_portal_users_get_nothing_of_groups(web: Web) -> None:
    ids = await seed(web)
    async with web.client() as http:
        token = await sign_in(http, "alice")
        page = await http.get("/projects/api/support")
        for path in ("/admin/groups", f"/admin/groups/{ids['a']}"):
            assert (await http.get(path)).status_code == 403
        api = f"/api/v1/projects/api/groups/{ids['a']}"
        # With the session's CSRF token: refused for the role, not for the token.
        csrf = {"X-CSRF-Token": token}
        for answer in (
            await http.get("/api/v1/projects/api/groups"),
            await http.get(api),
            await http.post(f"{api}/state", json={"state": "muted"}, headers=csrf),
            await http.post(f"{api}/assignee", json={"assignee": "me@example.com"}, headers=csrf),
            await http.post(f"{api}/ticket", headers=csrf),
            await http.post(f"{api}/link", json={"issue_key": "CRASH-1"}, headers=csrf),
            await http.get("/api/v1/projects/api/outbox"),
        ):
            assert answer.status_code == 403
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["detail"].startswith("not allowed: ")
        for action, data in [
            ("state", {"state": "muted"}),
            ("assignee", {"assignee": "me@example.com"}),
            ("ticket", {}),
            ("link", {"issue_key": "CRASH-1"}),
        ]:
            posted = await http.post(
                f"/admin/groups/{ids['a']}/{action}", data={**data, "csrf_token": token}
            )
            assert posted.status_code == 403
        assert "Error groups" not in page.text
        assert (await http.get("/admin/integration")).status_code == 403
        doctor = await http.post("/admin/integration/api/doctor", data={"csrf_token": token})
        assert doctor.status_code == 403
    after = await web.container.groups.snapshot(ids["a"])
    assert (after.state, after.assignee) == (GroupState.OPEN, None)
    assert await web.container.links.for_group(ids["a"]) is None
    async with web.client() as anonymous:
        answer = await anonymous.get("/admin/groups")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/admin/groups"


async def test_session_posts_need_the_csrf_token(web: Web) -> None:
    ids = await seed(web)
    async with web.client() as http:
        token = await sign_in(http, "root")
        page = f"/admin/groups/{ids['a']}/state"
        refused = await http.post(page, data={"state": "muted"})
        assert refused.status_code == 403
        api = f"/api/v1/projects/api/groups/{ids['a']}/state"
        assert (await http.post(api, json={"state": "muted"})).status_code == 403
        assert (await web.container.groups.snapshot(ids["a"])).state is GroupState.OPEN
        ok = await http.post(api, json={"state": "muted"}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 200
        assert ok.json()["after"] == "muted"
        reopen = f"/api/v1/groups/{ids['a']}/reopen"
        assert (await http.post(reopen)).status_code == 403
        reopened = await http.post(reopen, headers={"X-CSRF-Token": token})
        assert reopened.status_code == 200, reopened.text
    actors = [e.actor for e in await web.container.audit.for_group(ids["a"])]
    assert actors == ["root", "root"]


async def test_admin_pages_list_search_and_change_a_group(web: Web) -> None:
    ids = await seed(web)
    async with web.client() as http:
        await sign_in(http, "root")
        listing = await http.get("/admin/groups")
        assert listing.status_code == 200
        assert 'href="/admin/groups"' in listing.text  # the nav link
        for gid in ids.values():
            assert f'href="/admin/groups/{gid}"' in listing.text
        found = await http.get("/admin/groups", params={"q": "nullpointer", "sort": "count"})
        assert re.findall(r'href="/admin/groups/(\d+)"', found.text) == [str(ids["b"])]
        none = await http.get("/admin/groups", params={"q": "nothing-like-this"})
        assert "No group matches these filters." in none.text
        detail = await http.get(f"/admin/groups/{ids['a']}")
        assert "charge_card" in detail.text
        assert "66.7%" in detail.text
        assert "Create ticket now" in detail.text
        assert 'id="history"' in detail.text
        if (datetime.now(UTC).date() - T0.date()).days < 30:
            assert '<meter min="0" max="3" value="3">' in detail.text
            assert "1.0: 3" in detail.text
        token = csrf_of(detail.text)
        changed = await http.post(
            f"/admin/groups/{ids['a']}/state",
            data={"state": "resolved", "until_version": "3.1", "csrf_token": token},
        )
        assert changed.status_code == 303
        after = await http.get(changed.headers["location"])
        assert "State changed from open to resolved." in after.text
        assert "until a version ≥ 3.1 is seen" in after.text  # the resolved-until rule
        assert "changed the state from open to resolved." in after.text  # the audit trail
        assert "before=" not in after.text
        bad = await http.post(
            f"/admin/groups/{ids['a']}/assignee", data={"assignee": "x y", "csrf_token": token}
        )
        shown = await http.get(bad.headers["location"])
        assert "give the assignee&#39;s e-mail address" in shown.text
        queued = await http.post(f"/admin/groups/{ids['b']}/ticket", data={"csrf_token": token})
        shown = await http.get(queued.headers["location"])
        assert f"The ticket of group {ids['b']} is queued." in shown.text
        missing = await http.get("/admin/groups/999999")
        assert missing.status_code == 404


async def test_list_pages_with_a_cursor(web: Web) -> None:
    record = await web.container.projects.get("api")
    assert record is not None
    await web.container.ingest.submit(record.id, [crash(f"fp-{i:03}", i) for i in range(55)])
    async with web.client() as http:
        await sign_in(http, "root")
        first = await http.get("/admin/groups", params={"sort": "last_seen"})
        shown = re.findall(r'href="/admin/groups/(\d+)"', first.text)
        assert len(shown) == 50
        following = re.search(r'rel="next" href="([^"]+)"', first.text)
        assert following is not None
        second = await http.get(following.group(1).replace("&amp;", "&"))
        rest = re.findall(r'href="/admin/groups/(\d+)"', second.text)
        assert len(rest) == 5
        assert not set(rest) & set(shown)
        stale = await http.get("/admin/groups", params={"cursor": "garbage"})
        assert "That page link is out of date" in stale.text


async def test_html_in_attributes_classifier_and_errors_is_text(web: Web) -> None:
    ids = await seed(web)
    async with web.container.db.session() as session:
        await session.execute(
            update(ErrorGroup)
            .where(ErrorGroup.id == ids["evil"])
            .values(
                last_sync_error=f"Jira answered {EVIL}",
                version_problem=f"report version: {EVIL!r} is not a loose version",
            )
        )
    async with web.client() as http:
        await sign_in(http, "root")
        for path in ("/admin/groups", f"/admin/groups/{ids['evil']}"):
            page = await http.get(path)
            assert EVIL not in page.text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        detail = await http.get(f"/admin/groups/{ids['evil']}")
        assert "Last error:" in detail.text
        assert "Jira answered &lt;script&gt;" in detail.text
        api = await http.get(f"/api/v1/projects/api/groups/{ids['evil']}", headers=AUTH)
        assert api.json()["last_sync_error"] == f"Jira answered {EVIL}"
        assert "Versions cannot be ordered:" in detail.text  # shown, escaped like the rest
        assert api.json()["version_problem"] == f"report version: {EVIL!r} is not a loose version"


async def test_integration_page_outbox_retry_drop_health_and_doctor(web: Web) -> None:
    ids = await seed(web)
    container = web.container
    record = await container.projects.get("api")
    assert record is not None
    await container.manual.create_now(ids["a"], actor="t")
    await container.manual.create_now(ids["b"], actor="t")
    items = await container.outbox.list(project_id=record.id)
    # Fail both as the worker would after its last attempt.
    now = container.clock()
    for claimed in await container.outbox.claim("w", now=now, lease=timedelta(minutes=1)):
        await container.outbox.kill(claimed.id, "w", error=f"Jira said {EVIL}", now=now)
    await container.cursors.update(record.id, last_webhook_at=now - timedelta(minutes=61))
    async with web.client() as http:
        await sign_in(http, "root")
        page = await http.get("/admin/integration")
        assert "Jira said &lt;script&gt;" in page.text
        assert EVIL not in page.text
        assert (now - timedelta(minutes=61)).strftime("%Y-%m-%d %H:%M UTC") in page.text
        assert "never" in page.text  # no poll yet
        assert "No webhook for 61 min" in page.text
        token = csrf_of(page.text)
        first, second = items[0].id, items[1].id
        refused = await http.post(f"/admin/integration/api/outbox/{first}/retry")
        assert refused.status_code == 403
        retried = await http.post(
            f"/admin/integration/api/outbox/{first}/retry", data={"csrf_token": token}
        )
        assert retried.status_code == 303
        dropped = await http.post(
            f"/admin/integration/api/outbox/{second}/drop", data={"csrf_token": token}
        )
        assert dropped.status_code == 303
        shown = await http.get("/admin/integration")
        assert f"Outbox item {second} (ticket.create) dropped." in shown.text
        await container.cursors.update(record.id, last_webhook_at=container.clock())
        assert "No webhook for" not in (await http.get("/admin/integration")).text
        doctor = await http.post("/admin/integration/api/doctor", data={"csrf_token": token})
        assert doctor.status_code == 200
        assert 'id="doctor-api"' in doctor.text
        assert "Jira URL" in doctor.text
    assert (await container.outbox.get(first)).state == "pending"  # type: ignore[union-attr]
    assert (await container.outbox.get(second)).state == "done"  # type: ignore[union-attr]
    actions = [e.action for e in await container.audit.recent(project_id=record.id)]
    assert {"outbox.retry", "outbox.drop"} <= set(actions)


async def test_outbox_api_lists_retries_and_drops(web: Web) -> None:
    ids = await seed(web)
    container = web.container
    await container.manual.create_now(ids["a"], actor="t")
    await container.manual.create_now(ids["b"], actor="t")
    now = container.clock()
    claimed = await container.outbox.claim("w", now=now, lease=timedelta(minutes=1), limit=1)
    await container.outbox.kill(claimed[0].id, "w", error="Jira said no", now=now)
    base = "/api/v1/projects/api/outbox"
    async with web.client() as http:
        listed = (await http.get(base, headers=AUTH)).json()
        states = {i["id"]: (i["state"], i["last_error"]) for i in listed["items"]}
        dead, waiting = claimed[0].id, next(i for i in states if i != claimed[0].id)
        assert states == {dead: ("dead", "Jira said no"), waiting: ("pending", None)}
        assert listed["last_webhook_at"] is None
        retried = await http.post(f"{base}/{dead}/retry", headers=AUTH)
        assert retried.status_code == 200, retried.text
        assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
        dropped = await http.post(f"{base}/{waiting}/drop", headers=AUTH)
        assert dropped.json()["state"] == "done"
        again = await http.post(f"{base}/{waiting}/drop", headers=AUTH)
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        assert (await http.post(f"{base}/999999/retry", headers=AUTH)).status_code == 404
        await sign_in(http, "alice")
        assert (await http.get(base)).status_code == 403
    actions = [e.action for e in await container.audit.recent(action_prefix="outbox.")]
    assert actions == ["outbox.drop", "outbox.retry"]


async def test_a_link_that_cannot_converge_is_shown_with_what_to_configure(web: Web) -> None:
    ids = await seed(web)
    container = web.container
    record = await container.projects.get("api")
    assert record is not None
    error = (
        "CRASH-7 cannot be moved to muted: no transition from 'Done' (done) leads there — "
        "adjust projects.api.sync.state_transitions or the workflow"
    )
    now = container.clock()
    async with container.db.session() as session:
        OutboxRepository.add(
            session,
            project_id=record.id,
            group_id=ids["a"],
            kind=LINK_PUSH,
            payload={"unreachable": {"state": "muted", "status": "10002", "error": error}},
            now=now,
        )
    [claimed] = await container.outbox.claim("w", now=now, lease=timedelta(minutes=1))
    await container.outbox.kill(claimed.id, "w", error=error, now=now)
    await LinkSyncStore(container.db).set_error(ids["a"], error, now=now)
    async with web.client() as http:
        await sign_in(http, "root")
        page = (await http.get("/admin/integration")).text
        assert "Links that cannot converge" in page
        section = page.split('id="stuck-api"', 1)[1].split("</ul>", 1)[0]
        assert f'href="/admin/groups/{ids["a"]}"' in section
        assert "state_transitions" in section
        assert f'href="#outbox-{claimed.id}"' in section
        group_page = (await http.get(f"/admin/groups/{ids['a']}")).text
        assert "cannot be moved to muted" in group_page
        assert "state_transitions" in group_page
