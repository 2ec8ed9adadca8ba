"""A project's sync settings as the domain's config values (built once per project)."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncengine.domain.fixversions import FixVersionConfig
from syncengine.domain.groups import GroupState
from syncengine.domain.merge import ConflictPolicy, SyncMode
from syncengine.domain.regression import RegressionConfig
from syncengine.domain.statuses import StatusMapping, validate_mapping
from syncengine.domain.versions import VersionScheme
from syncengine.errors import ConfigError
from syncengine.settings import ProjectSettings

__all__ = ["ProjectSync", "project_sync"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ProjectSync:
    """Everything the sync decisions of one project are configured with."""

    slug: str
    project_key: str
    mode: SyncMode
    policy: ConflictPolicy
    mapping: StatusMapping
    fix_versions: FixVersionConfig
    regression: RegressionConfig
    scheme: VersionScheme
    user_map: dict[str, str]
    transition_fields: dict[str, str] = field(default_factory=dict)
    """Values for the fields transition screens ask for (field id or name → text)."""


def project_sync(slug: str, project: ProjectSettings) -> ProjectSync:
    """The domain values of ``project``'s ``[sync]`` section.

    Raises:
        ConfigError: ``state_statuses``/``state_transitions`` name an unknown state, or
            the mapping is inconsistent (the problems say what to change).
    """
    sync = project.sync
    where = f"projects.{slug}.sync"
    problems = [
        f"{where}.{section}.{name}: not an engine state; use one of "
        + ", ".join(s.value for s in GroupState)
        for section, names in (
            ("state_statuses", sync.state_statuses),
            ("state_transitions", sync.state_transitions),
        )
        for name in names
        if name not in GroupState.__members__.values()
    ]
    if problems:
        raise ConfigError(problems)
    mapping = StatusMapping(
        state_statuses={GroupState(k): tuple(v) for k, v in sync.state_statuses.items()},
        state_transitions={GroupState(k): v for k, v in sync.state_transitions.items()},
        resolution_on_done=sync.resolution_on_done,
        muted_resolutions=tuple(sync.muted_resolutions),
    )
    invalid = validate_mapping(mapping)
    if invalid:
        raise ConfigError([f"{where}.{p}" for p in invalid])
    scheme = VersionScheme(sync.version_scheme)
    return ProjectSync(
        slug=slug,
        project_key=project.jira.project_key,
        mode=SyncMode(sync.mode),
        policy=ConflictPolicy(sync.conflict_policy),
        mapping=mapping,
        fix_versions=FixVersionConfig(
            fix_versions=sync.fix_versions,
            fix_version_pattern=sync.fix_version_pattern,
            version_scheme=scheme,
            resolve_rule=sync.resolve_rule,
            version_attribute=project.version_attribute,
        ),
        regression=RegressionConfig(
            regression_action=sync.regression_action,
            new_issue_after_days=sync.new_issue_after_days,
        ),
        scheme=scheme,
        user_map=dict(project.jira.user_map),
        transition_fields=dict(sync.transition_fields),
    )
