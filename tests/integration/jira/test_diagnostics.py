"""``diagnose`` against the simulator: every check passing, and each way it fails."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from syncengine.jira import JiraClient, JiraConfig
from syncengine.jira.diagnostics import diagnose
from syncengine.jira.simulator import (
    DEFAULT_TOKEN,
    ManualClock,
    create_simulator,
    default_login,
)

SITE = "http://jira.local"
SENT = ("description", "labels", "customfield_10050")


def _client(flavour: str, clock: ManualClock, **options: object) -> tuple[JiraClient, object]:
    sim = create_simulator(flavour, base_url=SITE, clock=clock)  # type: ignore[arg-type]
    values: dict[str, object] = {
        "site": SITE,
        "deployment": "auto",
        "api_version": 3 if flavour == "cloud" else 2,
        # Data Center logs in by username, as real Jira DC does; Cloud by e-mail.
        "user": default_login(flavour),
        "token": SecretStr(DEFAULT_TOKEN),
        "max_retries": 0,
    }
    values.update(options)
    client = JiraClient.open(
        JiraConfig(**values),  # type: ignore[arg-type]
        transport=sim.transport(),
        sleep=clock.sleep,
        clock=clock.monotonic,
        now=clock.now,
    )
    return client, sim


@pytest.mark.parametrize("flavour", ["cloud", "datacenter"])
async def test_a_working_setup_passes_every_check(flavour: str) -> None:
    client, _ = _client(flavour, ManualClock())
    try:
        checks = await diagnose(client, project_key="CRASH", issue_type="bug", provided_fields=SENT)
    finally:
        await client.aclose()
    assert [c.name for c in checks] == [
        "reach Jira",
        "credentials",
        "project",
        "issue type",
        "create screen",
    ]
    assert all(c.ok for c in checks), checks
    assert "bot@example.com" in checks[1].detail


async def test_a_rejected_token_stops_at_credentials() -> None:
    client, _ = _client("cloud", ManualClock(), token=SecretStr("wrong-token"))
    try:
        checks = await diagnose(client, project_key="CRASH", issue_type="Bug")
    finally:
        await client.aclose()
    assert [(c.name, c.ok) for c in checks] == [("reach Jira", True), ("credentials", False)]
    assert "id.atlassian.com" in checks[-1].fix
    assert "wrong-token" not in checks[-1].detail + checks[-1].fix


async def test_a_missing_project_a_wrong_type_and_a_missing_field() -> None:
    client, _ = _client("cloud", ManualClock())
    try:
        no_project = await diagnose(client, project_key="NOPE", issue_type="Bug")
        wrong_type = await diagnose(client, project_key="CRASH", issue_type="Story")
        no_severity = await diagnose(
            client, project_key="CRASH", issue_type="Bug", provided_fields=("labels", "bogus_field")
        )
    finally:
        await client.aclose()
    assert "Project NOPE does not exist or the user cannot see it" in no_project[-1].detail
    assert not wrong_type[-1].ok
    assert "Bug" in wrong_type[-1].detail
    assert "not valid for project CRASH" in wrong_type[-1].detail
    screen = no_severity[-1]
    assert not screen.ok
    assert "customfield_10050 (Severity)" in screen.detail
    assert "bogus_field" in screen.detail


async def test_a_deployment_that_contradicts_the_server_is_flagged() -> None:
    client, _ = _client("cloud", ManualClock(), deployment="datacenter", api_version=2)
    try:
        checks = await diagnose(client, project_key="CRASH", issue_type="Bug", provided_fields=SENT)
    finally:
        await client.aclose()
    assert not checks[0].ok
    assert 'jira.deployment = "cloud"' in checks[0].fix
