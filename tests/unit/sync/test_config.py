"""A project's sync settings → the domain's config values; bad state names are config errors."""

from __future__ import annotations

import pytest

from syncengine.bootstrap.values import project_sync
from syncengine.domain.groups import GroupState
from syncengine.domain.merge import ConflictPolicy, SyncMode
from syncengine.errors import ConfigError
from syncengine.settings import ProjectSettings


def test_settings_become_domain_values() -> None:
    project = ProjectSettings.model_validate(
        {
            "version_attribute": "app.version",
            "jira": {"project_key": "APP", "user_map": {"a@x.io": "acc-1"}},
            "sync": {
                "mode": "one_way",
                "conflict_policy": "newest_wins",
                "state_statuses": {"muted": ["Won't Fix"]},
                "state_transitions": {"open": "Reopen"},
                "resolve_rule": "version_gt",
                "regression_action": "new_issue",
                "new_issue_after_days": 30,
            },
        }
    )
    cfg = project_sync("app", project)
    assert (cfg.mode, cfg.policy, cfg.project_key) == (
        SyncMode.ONE_WAY,
        ConflictPolicy.NEWEST_WINS,
        "APP",
    )
    assert cfg.mapping.state_statuses == {GroupState.MUTED: ("Won't Fix",)}
    assert cfg.mapping.state_transitions == {GroupState.OPEN: "Reopen"}
    assert cfg.fix_versions.resolve_rule == "version_gt"
    # rules compare the canonical version attribute, whatever the project reads it from
    assert cfg.fix_versions.version_attribute == "version"
    assert cfg.regression.regression_action == "new_issue"
    assert cfg.regression.new_issue_after_days == 30
    assert cfg.user_map == {"a@x.io": "acc-1"}


def test_unknown_state_names_say_what_to_use() -> None:
    project = ProjectSettings.model_validate(
        {"sync": {"state_statuses": {"closed": ["Done"]}, "state_transitions": {"fixed": "x"}}}
    )
    with pytest.raises(ConfigError) as caught:
        project_sync("app", project)
    assert len(caught.value.problems) == 2
    assert "projects.app.sync.state_statuses.closed: not an engine state" in str(caught.value)
    assert "open, in_progress, resolved, muted" in str(caught.value)


def test_a_status_listed_for_two_states_is_refused() -> None:
    project = ProjectSettings.model_validate(
        {"sync": {"state_statuses": {"open": ["Done"], "resolved": ["done"]}}}
    )
    with pytest.raises(ConfigError, match="listed for both"):
        project_sync("app", project)
