"""Template files are read once (bundled + the user's folder); settings become domain values."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncengine.bootstrap.template_sources import bundled_templates, load_template_sources
from syncengine.bootstrap.values import description_renderer, ticket_template
from syncengine.domain.adf import adf_problems
from syncengine.domain.description import DEFAULT_TEMPLATE, description_data
from syncengine.domain.fields import TicketTemplate, build_fields
from syncengine.domain.wiki import render_wiki
from syncengine.errors import ConfigError
from syncengine.settings import JiraSettings, Settings, load_settings
from tests.unit.samples import group


def test_the_default_template_ships_in_the_package() -> None:
    assert DEFAULT_TEMPLATE in bundled_templates()


def test_user_folder_overrides_and_extends(tmp_path: Path) -> None:
    (tmp_path / "jira").mkdir()
    (tmp_path / "jira" / "description.j2").write_text(
        '{% extends "default:jira/description.j2" %}{% block links %}<p>ours</p>{% endblock %}',
        encoding="utf-8",
    )
    (tmp_path / "notes.md").write_text("not a template", encoding="utf-8")
    sources = load_template_sources(tmp_path)
    assert set(sources.user) == {"jira/description.j2"}
    renderer = description_renderer(Settings(templates_dir=tmp_path))
    wiki = render_wiki(renderer.render(DEFAULT_TEMPLATE, description_data(group(), ())))
    assert wiki.endswith("\n\nours")


def test_a_missing_templates_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        load_template_sources(tmp_path / "nope")


def test_a_template_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "bad.j2").write_bytes(b"\xff\xfe\xfa")
    with pytest.raises(ConfigError, match="cannot read"):
        load_template_sources(tmp_path)


def test_ticket_template_from_settings() -> None:
    jira = JiraSettings(
        project_key="OPS",
        issue_type="Task",
        summary="$message",
        labels=("a", "b"),
        description_field="customfield_1",
        labels_field="customfield_2",
        custom_fields={"customfield_3": "$os"},
        description_attributes=("os",),
        missing_attribute="keep",
        api_version=3,
        user_map={"a@example.com": "acc"},
    )
    assert ticket_template(jira) == TicketTemplate(
        project_key="OPS",
        issue_type="Task",
        summary="$message",
        labels=("a", "b"),
        description_field="customfield_1",
        labels_field="customfield_2",
        custom_fields={"customfield_3": "$os"},
        description_attributes=("os",),
        missing_attribute="keep",
        api_version=3,
        user_map={"a@example.com": "acc"},
    )
    assert ticket_template(JiraSettings()) == TicketTemplate(project_key="CRASH")


def test_the_shipped_configuration_builds_valid_tickets() -> None:
    repo = Path(__file__).resolve().parent.parent.parent
    settings = load_settings(repo / "config" / "syncengine.toml")
    renderer = description_renderer(settings)
    for project in settings.projects.values():
        template = ticket_template(project.jira)
        built = build_fields(template, group(), renderer=renderer, cloud=True)
        assert built.problems == ()
        assert built.fields["summary"] == "SIGSEGV: invalid read of size 8 at 0x0000000000000010"
        adf = build_fields(
            ticket_template(project.jira.model_copy(update={"api_version": 3})),
            group(),
            renderer=renderer,
            cloud=True,
        ).fields["description"]
        assert adf_problems(adf) == []
