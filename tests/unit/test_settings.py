"""Settings: TOML + environment, secrets from env or files, errors naming file and key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from syncengine.entrypoints.config_display import display_settings
from syncengine.errors import ConfigError
from syncengine.settings import Settings, load_settings, mask_secret

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncengine.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_default_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    settings = load_settings()
    assert settings.host == "127.0.0.1"
    assert list(settings.projects) == ["demo"]
    assert settings.projects["demo"].jira.simulated
    assert settings.effective_database_url == "sqlite+aiosqlite:///data/syncengine.db"


def test_demo_token_comes_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SYNCENGINE_DEMO_TOKEN", "s3cret-demo-token-value")
    tokens = load_settings().projects["demo"].submission_tokens
    assert [t.get_secret_value() for t in tokens] == ["s3cret-demo-token-value"]


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "port = 9999\n")
    monkeypatch.setenv("SYNCENGINE_CONFIG", str(path))
    assert load_settings().port == 9999
    assert load_settings(write(tmp_path, "port = 1234\n")).port == 1234


def test_environment_overrides_nested_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[projects.shop.jira]\nurl = "https://a.atlassian.net"\nuser = "a@b"\n')
    monkeypatch.setenv("SYNCENGINE_PROJECTS__SHOP__JIRA__URL", "https://b.atlassian.net")
    monkeypatch.setenv("SYNCENGINE_PORT", "8181")
    settings = load_settings(path)
    assert settings.port == 8181
    assert settings.projects["shop"].jira.url == "https://b.atlassian.net"
    assert settings.projects["shop"].jira.user == "a@b"


def test_secret_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("file-token-123456\n", encoding="utf-8")
    monkeypatch.setenv("MY_HOOK", "hook-secret-abcdef")
    path = write(
        tmp_path,
        f'[projects.p.jira]\napi_token_file = "{secret_file}"\nwebhook_secret_env = "MY_HOOK"\n',
    )
    jira = load_settings(path).projects["p"].jira
    assert jira.api_token is not None
    assert jira.api_token.get_secret_value() == "file-token-123456"
    assert jira.webhook_secret is not None
    assert jira.webhook_secret.get_secret_value() == "hook-secret-abcdef"


def test_broken_config_names_file_and_key_per_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'prot = 1\nport = "eighty"\n[projects.p]\nsubmission_token_env = "NOPE_NOT_SET"\n'
        "[projects.p.jira]\napi_version = 4\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    problems = caught.value.problems
    assert len(problems) == 4, problems
    assert all(p.startswith(f"{path}: ") for p in problems)
    joined = "\n".join(problems)
    assert "prot: unknown key" in joined
    assert "port: " in joined
    assert "projects.p.jira.api_version" in joined
    assert "projects.p.submission_token_env: environment variable NOPE_NOT_SET is not set" in joined


def test_problem_from_environment_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNCENGINE_PORT", "not-a-port")
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, ""))
    assert caught.value.problems[0].startswith("environment variable SYNCENGINE_PORT: port:")


def test_environment_alone_configures_a_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no config/syncengine.toml here, no --config, no SYNCENGINE_CONFIG
    monkeypatch.setenv("SYNCENGINE_PROJECTS__SHOP__JIRA__URL", "https://shop.atlassian.net")
    monkeypatch.setenv("SYNCENGINE_PROJECTS__SHOP__JIRA__USER", "bot@example.com")
    monkeypatch.setenv("SYNCENGINE_PROJECTS__SHOP__SYNC__MODE", "one_way")
    monkeypatch.setenv("SYNCENGINE_PORT", "9090")
    settings = load_settings()
    assert list(settings.projects) == ["shop"]
    assert settings.projects["shop"].jira.url == "https://shop.atlassian.net"
    assert settings.projects["shop"].sync.mode == "one_way"
    assert settings.port == 9090


def test_a_bad_environment_value_names_the_variable_with_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNCENGINE_PROJECTS__SHOP__SYNC__MODE", "sideways")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems[0].startswith(
        "environment variable SYNCENGINE_PROJECTS__SHOP__SYNC__MODE: projects.shop.sync.mode:"
    )


def test_an_installed_package_without_a_file_runs_the_packaged_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert list(settings.projects) == ["demo"]
    assert settings.projects["demo"].jira.simulated
    packaged = Path(__file__).resolve().parents[2] / "syncengine" / "defaults" / "syncengine.toml"
    assert packaged.read_text(encoding="utf-8") == (REPO / "config" / "syncengine.toml").read_text(
        encoding="utf-8"
    )


def test_missing_file_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "port = = 1"))


def test_bad_slug_and_bad_regex(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            write(
                tmp_path, '[projects."Bad Slug"]\n[projects.ok.sync]\nfix_version_pattern = "("\n'
            )
        )
    joined = "\n".join(caught.value.problems)
    assert "project slug 'Bad Slug'" in joined
    assert "projects.ok.sync.fix_version_pattern" in joined


def test_display_masks_every_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOK", "very-secret-token-value-1")
    path = write(
        tmp_path,
        'database_url = "postgresql://app:pw-hunter2@db/x"\n'
        '[projects.p]\nsubmission_token_env = "TOK"\n'
        '[projects.p.jira]\napi_token = "jira-secret-999999"\n',
    )
    shown = repr(display_settings(load_settings(path)))
    for secret in ("very-secret-token-value-1", "jira-secret-999999", "pw-hunter2"):
        assert secret not in shown
    assert mask_secret("short") == "(set)"
    assert mask_secret("a-much-longer-secret-value") == "(set)"
    assert mask_secret(None) == "(unset)"


def _keys(model: type[BaseModel], prefix: str) -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        args = [a for a in get_args(annotation) if isinstance(a, type)]
        nested = (
            annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel)
            else None
        )
        if get_origin(annotation) is dict and args and issubclass(args[-1], BaseModel):
            sub = "example" if name == "projects" else "alice"
            keys += _keys(args[-1], f"{prefix}{name}.{sub}.")
        elif get_origin(annotation) is tuple and args and issubclass(args[0], BaseModel):
            keys += _keys(args[0], f"{prefix}{name}.")
        elif nested is not None:
            keys += _keys(nested, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def _documented(reference: str) -> set[str]:
    found, section = set(), ""
    previous = ""
    for line in reference.splitlines():
        header = re.match(r"^\[\[?([^\]]+)\]\]?$", line)
        if header:
            section = header.group(1) + "."
        match = re.match(r"^#?\s*\"?([A-Za-z0-9_.@-]+)\"?\s*=", line)
        if match and previous.startswith("#") and not header:
            found.add(section + match.group(1))
        if section and not line.startswith("#") and line.strip():
            found.add(section.rstrip("."))  # a table documents a dict-valued key
        previous = line
    return found


def test_every_setting_is_documented_in_the_reference() -> None:
    reference = (REPO / "config" / "reference.toml").read_text(encoding="utf-8")
    documented = _documented(reference)
    missing = [key for key in _keys(Settings, "") if key not in documented]
    assert not missing, f"add these to config/reference.toml: {missing}"


def test_reference_is_itself_a_valid_config(tmp_path: Path) -> None:
    reference = (REPO / "config" / "reference.toml").read_text(encoding="utf-8")
    data: dict[str, Any] = tomllib.loads(reference)
    assert data["projects"]["example"]["jira"]["issue_type"] == "Bug"
    settings = load_settings(REPO / "config" / "reference.toml")
    defaults = Settings.model_fields
    assert settings.port == defaults["port"].default


def test_config_check_says_unset_for_a_secret_not_configured() -> None:
    shown = display_settings(Settings())
    assert shown["admin_token"] == "(unset)"
    assert shown["web"]["session_secret"] == "(unset)"
    assert shown["admin_token_env"] is None  # where a secret comes from is no secret


def test_config_check_says_where_the_generated_session_secret_is_kept(tmp_path: Path) -> None:
    # Someone can sign in and no key is configured: serve makes one and keeps it.
    settings = Settings(data_dir=tmp_path, web={"generate_admin": True})
    kept = tmp_path / "session-secret"
    assert display_settings(settings)["web"]["session_secret"] == (
        f"(generated at the first start, kept in {kept})"
    )
    key = "Kq7-generated-session-key-value-0123456789abcdef"
    kept.write_text(key + "\n", encoding="utf-8")
    shown = display_settings(settings)
    assert shown["web"]["session_secret"] == f"(generated, kept in {kept})"
    assert key[:4] not in str(shown)
