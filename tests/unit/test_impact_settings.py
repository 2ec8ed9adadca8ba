"""The [impact] section: statistics are named from one list, bounds are checked, and the
project's values reach the refresh as one ImpactConfig."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from syncengine.bootstrap.values import impact_configs
from syncengine.domain.impact import Stat
from syncengine.settings import ProjectSettings, Settings


def test_an_unknown_statistic_or_an_empty_field_is_refused() -> None:
    with pytest.raises(ValidationError, match="occurences"):
        ProjectSettings(impact={"fields": {"occurences": "Occurrences"}})
    with pytest.raises(ValidationError, match="give a Jira field id or name for last_seen"):
        ProjectSettings(impact={"fields": {"last_seen": " "}})
    with pytest.raises(ValidationError, match="budget_share"):
        ProjectSettings(impact={"budget_share": 1.5})


def test_the_refresh_gets_the_projects_values() -> None:
    settings = Settings(
        projects={
            "shop": {
                "jira": {"requests_per_second": 4},
                "impact": {
                    "fields": {"occurrences": "Occurrences"},
                    "interval_minutes": 30,
                    "budget_share": 0.5,
                },
            },
            "quiet": {},
        }
    )
    configs = impact_configs(settings)
    shop = configs["shop"]
    assert shop.policy.fields == {Stat.OCCURRENCES: "Occurrences"}
    assert shop.policy.interval == timedelta(minutes=30)
    assert (shop.requests_per_second, shop.policy.budget_share, shop.notify) == (4, 0.5, False)
    assert not configs["quiet"].policy.enabled
