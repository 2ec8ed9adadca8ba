"""`syncengine ingest FILE...`: JSON Lines into the store through bootstrap."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
from pathlib import Path

import pytest

from syncengine.domain.groups import GroupSnapshot
from syncengine.entrypoints.cli import main
from syncengine.store.database import Database
from syncengine.store.groups import GroupRepository
from syncengine.store.projects import ProjectRepository


def config(tmp_path: Path, projects: str = "[projects.shop]\n[projects.ops]\n") -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'data_dir = "{tmp_path}/data"\n{projects}', encoding="utf-8")
    return path


def groups(tmp_path: Path, slug: str = "shop") -> list[GroupSnapshot]:
    async def load() -> list[GroupSnapshot]:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'syncengine.db'}")
        try:
            project = await ProjectRepository(db).get(slug)
            assert project is not None
            repo = GroupRepository(db)
            page = await repo.page(project.id, limit=100)
            return [await repo.snapshot(g.id) for g in page.groups]
        finally:
            await db.aclose()

    return asyncio.run(load())


def lines(n: int, classifier: str) -> bytes:
    return b"".join(
        json.dumps(
            {"classifier": classifier, "callstack": ["f"], "attributes": {"i": i % 3}}
        ).encode()
        + b"\n"
        for i in range(n)
    )


def test_files_and_gzip_with_bad_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = tmp_path / "a.jsonl"
    plain.write_bytes(lines(4500, "A") + b"{broken\n\n" + b'{"attributes": {"o": {}}}\n')
    packed = tmp_path / "b.jsonl.gz"
    packed.write_bytes(gzip.compress(lines(300, "B")))
    code = main(
        ["--config", str(config(tmp_path)), "ingest", str(plain), str(packed), "--project", "shop"]
    )
    out, err = capsys.readouterr()
    assert code == 1  # some lines were rejected
    assert "accepted 4800 of 4802 report(s); 2 new group(s)" in out
    assert "rejected 2: invalid-json 1, invalid-attribute 1" in out
    assert f"{plain}:4501: line" not in out  # the file's own line number, not a JSON one
    assert f"{plain}:4501:" in out
    assert f"{plain}:4503: attributes.o" in out
    assert "4,802 read  4,800 accepted  2 rejected" in err
    counts = {g.classifier: g.count for g in groups(tmp_path)}
    assert counts == {"A": 4500, "B": 300}


def test_stdin_and_the_only_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(lines(10, "C"))))
    code = main(["--config", str(config(tmp_path, "[projects.solo]\n")), "ingest", "-"])
    assert code == 0
    assert "accepted 10 of 10 report(s); 1 new group(s)" in capsys.readouterr().out
    assert [g.count for g in groups(tmp_path, "solo")] == [10]


def test_refusals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(tmp_path)
    assert main(["--config", str(path), "ingest", "x.jsonl"]) == 1
    assert "name the project with --project (shop, ops)" in capsys.readouterr().err
    assert main(["--config", str(path), "ingest", "x.jsonl", "--project", "nope"]) == 1
    assert "no project 'nope'" in capsys.readouterr().err
    missing = str(tmp_path / "missing.jsonl")
    assert main(["--config", str(path), "ingest", missing, "--project", "shop"]) == 1
    assert f"cannot read {missing}" in capsys.readouterr().err
