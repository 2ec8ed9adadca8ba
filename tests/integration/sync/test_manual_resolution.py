"""Resolved-until rules by hand: ``syncengine group resolve|reopen`` and the JSON API."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from syncengine.bootstrap import Container, bootstrap, prepare_projects
from syncengine.entrypoints.cli import main
from syncengine.settings import Settings, load_settings
from syncengine.store.tables import ErrorGroup
from syncengine.web import create_app

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ADMIN = "admin-token-0123456789"


async def _group(container: Container) -> int:
    await prepare_projects(container, lambda _line: None)
    project = await container.projects.get("shop")
    assert project is not None
    async with container.db.session() as session:
        row = ErrorGroup(
            project_id=project.id, fingerprint="f", first_seen=NOW, last_seen=NOW, updated_at=NOW
        )
        session.add(row)
        await session.flush()
        return row.id


async def _row(container: Container, group_id: int) -> ErrorGroup:
    async with container.db.session() as session:
        row = await session.scalar(select(ErrorGroup).where(ErrorGroup.id == group_id))
        assert row is not None
        session.expunge(row)
        return row


def test_cli_resolve_until_version_and_reopen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        f'data_dir = "{tmp_path}/data"\n[projects.shop]\n[projects.shop.sync]\n'
        'version_scheme = "semver"\n',
        encoding="utf-8",
    )
    settings = load_settings(path)
    assert main(["--config", str(path), "db", "upgrade"]) == 0

    async def make() -> int:
        container = await bootstrap(settings)
        try:
            return await _group(container)
        finally:
            await container.aclose()

    async def read(group_id: int) -> ErrorGroup:
        container = await bootstrap(settings)
        try:
            return await _row(container, group_id)
        finally:
            await container.aclose()

    gid = asyncio.run(make())
    capsys.readouterr()
    assert (
        main(["--config", str(path), "group", "resolve", str(gid), "--until-version", "2.3.0"]) == 0
    )
    assert "resolved until" in capsys.readouterr().out
    row = asyncio.run(read(gid))
    assert row.state == "resolved"
    assert row.resolve_rule is not None
    [bound] = row.resolve_rule
    assert (bound["type"], bound["field"], bound["version"]) == ("version_ge", "version", "2.3.0")
    bad = '[{"type": "version_gt", "field": "version", "version": "not.a.version"}]'
    assert main(["--config", str(path), "group", "resolve", str(gid), "--rule-json", bad]) == 1
    assert "invalid resolve rule" in capsys.readouterr().err
    assert main(["--config", str(path), "group", "resolve", str(gid), "--rule-json", "[oops"]) == 1
    assert "not valid JSON" in capsys.readouterr().err
    # The README's example rule is one the command takes.
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"syncengine group resolve 12 --rule-json '(.+)'", readme)
    assert example is not None
    assert main(["--config", str(path), "group", "resolve", str(gid), "--rule-json",
                 example.group(1)]) == 0  # fmt: skip
    assert "resolved until" in capsys.readouterr().out
    assert main(["--config", str(path), "group", "reopen", str(gid)]) == 0
    assert capsys.readouterr().out.startswith(f"group {gid}: resolved → open")
    row = asyncio.run(read(gid))
    assert (row.state, row.resolve_rule) == ("open", None)
    assert main(["--config", str(path), "group", "reopen", str(gid)]) == 0
    assert capsys.readouterr().out == f"group {gid} is already open: nothing changed\n"
    assert main(["--config", str(path), "group", "reopen", "999999"]) == 1
    assert "no error group 999999" in capsys.readouterr().err


async def test_api_resolve_and_reopen(database_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        admin_token=ADMIN,
        projects={"shop": {"jira": {"url": "https://jira.invalid"}}},
    )
    container = await bootstrap(settings, migrate=False, clock=lambda: NOW)
    try:
        gid = await _group(container)
        app = create_app(container.web)
        transport = httpx.ASGITransport(app=app)
        auth = {"Authorization": f"Bearer {ADMIN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            url = f"/api/v1/groups/{gid}/resolve"
            assert (await http.post(url, json={})).status_code == 401
            wrong = {"Authorization": "Bearer nope"}
            assert (await http.post(url, json={}, headers=wrong)).status_code == 401
            rule = [{"type": "regular_expression", "field": "environment", "regex": "^prod"}]
            done = await http.post(url, json={"rule": rule}, headers=auth)
            assert done.status_code == 200
            assert done.json()["state"] == "resolved"
            assert done.json()["resolve_rule"] == rule
            assert (await _row(container, gid)).resolve_rule == rule
            invalid = await http.post(url, json={"rule": [{"type": "nope"}]}, headers=auth)
            assert invalid.status_code == 422
            assert invalid.json()["problems"]
            both = await http.post(url, json={"rule": rule, "until_version": "1"}, headers=auth)
            assert both.status_code == 422
            missing = await http.post("/api/v1/groups/999999/reopen", headers=auth)
            assert missing.status_code == 404
            reopened = await http.post(f"/api/v1/groups/{gid}/reopen", headers=auth)
            assert reopened.json()["state"] == "open"
        trail = await container.audit.for_group(gid)
        assert [t.action for t in trail] == ["group.state", "group.state"]
    finally:
        await container.aclose()


def test_resolve_help_shows_a_rule_json_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["group", "resolve", "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert '--rule-json \'[{"type": "version_ge", "field": "version"' in " ".join(
        text.replace("\\\n", " ").split()
    )
