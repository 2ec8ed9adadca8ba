"""A project's sync configuration as the domain's values (built once by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass, field

from syncengine.domain.fixversions import FixVersionConfig
from syncengine.domain.merge import ConflictPolicy, SyncMode
from syncengine.domain.regression import RegressionConfig
from syncengine.domain.statuses import StatusMapping
from syncengine.domain.versions import VersionScheme

__all__ = ["ProjectSync"]


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
