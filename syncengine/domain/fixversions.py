"""Fix-version sync: a Jira issue reaching done becomes a "resolved until" rule.

When an issue reaches done with fix versions, its group is resolved until the
HIGHEST of them (compared under the configured scheme; ``fix_version_pattern``
extracts the version from names such as ``"checkout 2.3.0"``, its first group).
The rule is ``version_ge`` by default, so a crash IN the fix version is a
regression; ``resolve_rule = "version_gt"`` makes only later versions regress.

Done without a fix version, with fix-version sync turned off, or with fix
versions none of which holds a parseable version, resolves *without a version
bound* (:func:`~syncengine.domain.resolve.unbounded_rule`: any report after the
resolution reopens the group). Every fix-version name that holds no parseable
version is listed in ``ResolvedUntil.problems``, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from syncengine.domain.resolve import ResolveRule, VersionBound, unbounded_rule
from syncengine.domain.versions import UnparseableVersion, Version, VersionScheme, extract_version

__all__ = ["FixVersionConfig", "ResolveRuleType", "ResolvedUntil", "rule_for_done"]

ResolveRuleType = Literal["version_ge", "version_gt"]
"""Whether the fix version itself regresses (``version_ge``) or only later ones."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FixVersionConfig:
    """Fix-version sync options, one-to-one with ``SyncSettings`` (+ the version attribute)."""

    fix_versions: bool = True
    fix_version_pattern: str = r"(\d+(?:\.\d+)*(?:[-+.]?[0-9A-Za-z.]+)?)"
    version_scheme: VersionScheme = VersionScheme.LOOSE
    resolve_rule: ResolveRuleType = "version_ge"
    version_attribute: str = "version"


@dataclass(frozen=True, kw_only=True, slots=True)
class ResolvedUntil:
    """The rule a group gets when its issue reaches done.

    ``version``/``fix_version`` are the chosen bound and the name it came from
    (None when resolved without a bound); ``problems`` names every fix version
    that held no parseable version, so the caller can show them on the group.
    """

    rule: ResolveRule
    version: Version | None
    fix_version: str | None
    problems: tuple[str, ...] = ()


def rule_for_done(
    fix_versions: Iterable[str], *, resolved_at: datetime, config: FixVersionConfig
) -> ResolvedUntil:
    """The resolve rule for an issue that reached done with ``fix_versions`` (names)."""
    names = [name for name in fix_versions if name.strip()]
    if not config.fix_versions or not names:
        return ResolvedUntil(rule=unbounded_rule(resolved_at), version=None, fix_version=None)
    pattern = re.compile(config.fix_version_pattern)
    parsed: list[tuple[Version, str]] = []
    problems: list[str] = []
    for name in names:
        try:
            parsed.append((extract_version(name, pattern, config.version_scheme), name))
        except UnparseableVersion as exc:
            problems.append(f"fix version {exc}")
    if not parsed:
        problems.append("resolved without a version bound: any new report reopens the group")
        return ResolvedUntil(
            rule=unbounded_rule(resolved_at),
            version=None,
            fix_version=None,
            problems=tuple(problems),
        )
    highest, name = max(parsed, key=lambda pair: pair[0])
    bound = VersionBound(
        field=config.version_attribute,
        version=highest.text,
        inclusive=config.resolve_rule == "version_ge",
        scheme=config.version_scheme,
    )
    return ResolvedUntil(
        rule=ResolveRule(any_of=(bound,)),
        version=highest,
        fix_version=name,
        problems=tuple(problems),
    )
