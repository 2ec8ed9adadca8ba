"""doctor against the simulator: a healthy set-up passes, each failure mode names its fix."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from syncengine.bootstrap import bootstrap, jira_clients
from syncengine.entrypoints.cli import main
from syncengine.jira.simulator import DEFAULT_LOGIN, DEFAULT_TOKEN
from syncengine.settings import Settings
from tests.integration.lifecycle_harness import Clock, crash, engine, ingest


def failed(checks: list[Any]) -> dict[str, Any]:
    return {c.name: c for c in checks if not c.ok}


async def test_healthy_setup_passes_every_check(database_url: str) -> None:
    container, _ = await engine(database_url, Clock())
    try:
        await ingest(container, [crash("sample")])
        checks = await container.doctor.run("shop")
        assert failed(checks) == {}
        names = [c.name for c in checks]
        assert names == [
            "Jira URL",
            "reach Jira",
            "credentials",
            "project",
            "permissions",
            "issue type",
            "create screen",
            "field configuration",
            "sample group",
        ]
    finally:
        await container.aclose()


@pytest.mark.parametrize(
    ("breakage", "check", "words"),
    [
        ("revoke_token", "credentials", "token"),
        ("revoke_permission", "permissions", "Create Issues"),
        ("revoke_link_permission", "permissions", "Link Issues"),
        ("unreachable", "reach Jira", ""),
    ],
)
async def test_jira_side_failures(database_url: str, breakage: str, check: str, words: str) -> None:
    container, sim = await engine(database_url, Clock())
    try:
        if breakage == "revoke_token":
            sim.revoke_token(DEFAULT_TOKEN)
        elif breakage == "revoke_permission":
            sim.revoke_permission(DEFAULT_LOGIN, "CRASH", "CREATE_ISSUES")
        elif breakage == "revoke_link_permission":
            sim.revoke_permission(DEFAULT_LOGIN, "CRASH", "LINK_ISSUES")
        else:
            sim.add_fault(kind="error", status=503, route="GET /serverInfo")
        bad = failed(await container.doctor.run("shop"))
        assert check in bad, bad
        assert words in bad[check].detail + bad[check].fix
        assert bad[check].fix or check == "reach Jira"
    finally:
        await container.aclose()


@pytest.mark.parametrize(
    ("jira", "check", "words"),
    [
        ({"project_key": "NOPE"}, "project", "NOPE"),
        ({"issue_type": "Epic"}, "issue type", "Bug"),
        ({"custom_fields": {}}, "create screen", "customfield_10050"),
        (
            {"custom_fields": {"customfield_10050": "Enormous"}},
            "field configuration",
            "customfield_10050",
        ),
        ({"description_field": "customfield_99999"}, "create screen", "customfield_99999"),
    ],
    ids=["project", "issue-type", "required-field", "option-value", "description-field"],
)
async def test_configuration_failures(
    database_url: str, jira: dict[str, Any], check: str, words: str
) -> None:
    container, _ = await engine(database_url, Clock(), jira=jira)
    try:
        bad = failed(await container.doctor.run("shop"))
        assert check in bad, bad
        assert words in bad[check].detail + bad[check].fix, bad[check]
    finally:
        await container.aclose()


async def test_bad_url_form_is_the_first_failure(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        projects={
            "shop": {
                "jira": {
                    "url": "https://jira.example.com/secure/Dashboard.jspa",
                    "user": "a@b.c",
                    "api_token": "t0ken-t0ken",
                }
            }
        },
    )
    container = await bootstrap(settings)
    try:
        checks = await container.doctor.run("shop")
        assert [(c.name, c.ok) for c in checks] == [("Jira URL", False)]
        assert "rest/api/2" in checks[0].fix
    finally:
        await container.aclose()


def test_cli_exit_status_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\n[projects.shop.jira]\nproject_key = "CRASH"\n'
        'custom_fields = { customfield_10050 = "Major" }\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "doctor"]) == 0
    out = capsys.readouterr().out
    assert "✓ permissions" in out
    assert "✗" not in out
    config.write_text(
        f'data_dir = "{tmp_path}/data"\n[projects.shop.jira]\nproject_key = "CRASH"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "doctor", "--json", "--project", "shop"]) == 1
    assert '"ok": false' in capsys.readouterr().out


async def test_a_custom_field_keyed_by_its_name_passes(database_url: str) -> None:
    # The README's form: "Severity" = "…" instead of customfield_10050.
    jira = {"custom_fields": {"Severity": "Major"}}
    container, _ = await engine(database_url, Clock(), jira=jira)
    try:
        await ingest(container, [crash("by-name")])
        checks = await container.doctor.run("shop")
        assert failed(checks) == {}
        assert {"field configuration", "sample group"} <= {c.name for c in checks}
    finally:
        await container.aclose()


SUPPORT_ONLY = {
    "jira": {"project_key": "SUP", "issue_type": "Task", "custom_fields": {}},
    "rules": {"enabled": False},
    "support": {"enabled": True, "issue_type": "Task", "category_field": "customfield_10070"},
}


async def test_a_support_project_with_its_category_field_passes(database_url: str) -> None:
    container, _ = await engine(database_url, Clock(), **SUPPORT_ONLY)
    try:
        checks = await container.doctor.run("shop")
        assert failed(checks) == {}
        names = [c.name for c in checks]
        assert "support create screen" in names
        assert "create screen" not in names  # a support-only project files no crash tickets
    finally:
        await container.aclose()


async def test_a_support_project_without_its_category_field_says_which(
    database_url: str,
) -> None:
    settings = {**SUPPORT_ONLY, "support": {"enabled": True, "issue_type": "Task"}}
    container, _ = await engine(database_url, Clock(), **settings)
    try:
        bad = failed(await container.doctor.run("shop"))
        assert set(bad) == {"support create screen"}
        assert "customfield_10070" in bad["support create screen"].detail
        assert "support.category_field" in bad["support create screen"].fix
    finally:
        await container.aclose()


async def test_a_create_screen_problem_does_not_hide_the_field_checks(database_url: str) -> None:
    jira = {"custom_fields": {"customfield_10050": "Enormous", "customfield_99999": "x"}}
    container, _ = await engine(database_url, Clock(), jira=jira)
    try:
        bad = failed(await container.doctor.run("shop"))
        assert "customfield_99999" in bad["create screen"].detail
        assert "Enormous" in bad["field configuration"].detail + bad["field configuration"].fix
    finally:
        await container.aclose()


def _jira_at(tmp_path: Path, port: int) -> Settings:
    return Settings(
        data_dir=tmp_path,
        projects={
            "shop": {
                "jira": {
                    "url": f"http://127.0.0.1:{port}",
                    "user": "bot@example.com",
                    "api_token": "t0ken-t0ken",
                }
            }
        },
    )


async def _doctor_within(settings: Settings, seconds: float) -> list[Any]:
    container = await bootstrap(settings)
    try:
        # A bound for the test, not a timing check: before doctor had its own deadlines
        # this took 204 s (silent port) and 19.5 s (refused) with the default settings.
        async with asyncio.timeout(seconds):
            return await container.doctor.run("shop")
    finally:
        await container.aclose()


async def test_a_jira_that_takes_the_connection_and_never_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Doctor's own wait, not the project's (30 s by default), bounds the call: 1 s here
    # rather than the 5 s it is, which this test would otherwise sit out.
    monkeypatch.setattr(jira_clients, "DOCTOR_TIMEOUT_SECONDS", 1.0)
    # The kernel completes the handshake of a listening socket nobody accepts from:
    # the connection stands and no byte ever comes back.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        checks = await _doctor_within(_jira_at(tmp_path, port), 60)
    assert [(c.name, c.ok) for c in checks] == [("Jira URL", True), ("reach Jira", False)]
    reach = checks[1]
    assert f"no answer from http://127.0.0.1:{port} within 1 s" in reach.detail
    assert "took the connection but did not answer" in reach.fix
    assert "retried" not in reach.detail + reach.fix


async def test_a_refused_port_fails_at_once_with_the_fix(tmp_path: Path) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    # Nothing listens on the port now: every connection is refused, and none is retried.
    checks = await _doctor_within(_jira_at(tmp_path, port), 30)
    assert [(c.name, c.ok) for c in checks] == [("Jira URL", True), ("reach Jira", False)]
    reach = checks[1]
    assert f"cannot connect to http://127.0.0.1:{port}" in reach.detail
    assert "nothing accepts connections" in reach.fix
    assert "jira.url" in reach.fix
    assert "retried" not in reach.detail + reach.fix


def test_the_cli_prints_the_unanswered_wait_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    config = tmp_path / "c.toml"
    config.write_text(
        f'data_dir = "{tmp_path}/data"\n[projects.shop.jira]\n'
        f'url = "http://127.0.0.1:{port}"\nuser = "bot@example.com"\napi_token = "t0ken-t0ken"\n',
        encoding="utf-8",
    )
    assert main(["--config", str(config), "doctor"]) == 1
    out = capsys.readouterr().out
    assert "✗ reach Jira — " in out
    assert "fix: nothing accepts connections" in out


async def test_impact_fields_are_checked_against_the_edit_screen(database_url: str) -> None:
    impact = {
        "fields": {
            "occurrences": "Occurrences",
            "affected_users": "customfield_10053",
            "versions_affected": "Crash details",  # a text area: not a labels field
            "regressions": "No such field",
        }
    }
    container, _ = await engine(database_url, Clock(), impact=impact)
    try:
        none_yet = {c.name: c for c in await container.doctor.run("shop")}["impact fields"]
        assert none_yet.ok
        assert "no Bug in CRASH yet" in none_yet.detail
        await ingest(container, [crash("sample")])
        await container.worker.drain()  # the rules file a Bug
        bad = failed(await container.doctor.run("shop"))["impact fields"]
        assert "versions_affected → Crash details is a string field" in bad.detail
        assert "regressions → No such field is not on the issue's edit screen" in bad.detail
        assert "occurrences" not in bad.detail
        assert "impact.fields.regressions: add it to the edit screen" in bad.fix
    finally:
        await container.aclose()
