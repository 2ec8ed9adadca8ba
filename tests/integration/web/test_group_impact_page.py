"""The group page shows what the impact refresh last wrote to Jira, and when; the
dashboard's "Link existing issue" queues the back-link like ``ticket link`` does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from syncengine.bootstrap import bootstrap, prepare_projects
from syncengine.settings import Settings
from syncengine.web import create_app
from tests.fake_support_jira import FakeSupportJira
from tests.integration.web.conftest import ADMIN_TOKEN, Web, csrf_of, sign_in, web_settings
from tests.integration.web.test_groups_web import crash


@pytest.fixture
async def web(database_url: str) -> AsyncIterator[Web]:
    base = web_settings(database_url).model_dump()
    base["projects"]["api"]["jira"].update(project_key="CRASH", issue_type="Bug")
    base["projects"]["api"]["rules"]["enabled"] = False
    base["projects"]["api"]["impact"] = {
        "fields": {"occurrences": "Occurrences", "versions_affected": "customfield_10057"}
    }
    settings = Settings.model_validate(base)
    container = await bootstrap(settings, migrate=False, support_jira={"api": FakeSupportJira()})
    await prepare_projects(container, lambda _line: None)
    app = create_app(container.web)
    try:
        yield Web(
            container=container, jira=FakeSupportJira(), app_transport=httpx.ASGITransport(app=app)
        )
    finally:
        await container.aclose()


async def test_group_page_shows_the_last_impact_write(web: Web) -> None:
    container = web.container
    record = await container.projects.get("api")
    assert record is not None
    accepted = await container.ingest.submit(record.id, [crash("fp-i", n) for n in range(3)])
    group_id = accepted[0].group_id
    created = await container.jira.for_project("api").create_issue(
        {
            "project": {"key": "CRASH"},
            "issuetype": {"name": "Bug"},
            "summary": "filed by hand",
            "customfield_10050": {"value": "Major"},
        }
    )
    async with web.client() as http:
        await sign_in(http, "root")
        page = await http.get(f"/admin/groups/{group_id}")
        linked = await http.post(
            f"/admin/groups/{group_id}/link",
            data={"issue_key": created.key, "csrf_token": csrf_of(page.text)},
        )
        assert linked.status_code == 303
        before = await http.get(f"/admin/groups/{group_id}")
        assert 'id="impact-written">not yet' in before.text
        await container.worker.drain()  # the back-link
        await container.sync.impact.run("api")
        detail = await http.get(f"/admin/groups/{group_id}")
    assert 'id="backlinked"' in detail.text
    assert 'id="impact-written">not yet' not in detail.text
    table = detail.text.split('id="impact-fields"', 1)[1].split("</table>", 1)[0]
    assert "<td>Occurrences</td><td>3</td>" in table
    assert "<td>Versions affected</td><td>1.0</td>" in table
    async with web.client() as http:
        shown = await http.get(
            f"/api/v1/projects/api/groups/{group_id}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        )
    link = shown.json()["link"]
    assert link["impact"] == {"Occurrences": 3, "Versions affected": ["1.0"]}
    assert link["impact_written_at"] is not None
    assert link["backlinked_at"] is not None
