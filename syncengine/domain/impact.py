"""Crash impact in Jira: a group's statistics as issue fields, and when to write them again.

A project maps statistics (:class:`Stat`) to Jira fields. :func:`impact_fields` turns a
group's :class:`ImpactFacts` into the ``fields`` of an edit request through the same
typed coercion as custom fields (number fields stay numbers, so JQL ``>`` works);
:func:`refresh_due` says whether the values changed enough, and long enough after the
last write, to be worth a Jira call; :func:`person_edited` finds the fields somebody
changed in Jira after our last write (left alone unless configured otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from syncengine.domain.coercion import CoercionError, coerce
from syncengine.domain.createmeta import FieldMeta
from syncengine.domain.richtext import Document, Paragraph, Span
from syncengine.domain.versions import UnparseableVersion, VersionScheme, parse_version

__all__ = [
    "ImpactFacts",
    "ImpactPolicy",
    "ImpactProblem",
    "Refresh",
    "RequestShare",
    "Stat",
    "Wait",
    "backlink_comment",
    "check_mapping",
    "group_page",
    "impact_fields",
    "order_versions",
    "person_edited",
    "refresh_due",
    "remote_link_id",
    "stat_values",
]

MAX_VERSIONS = 50
"""Versions affected: at most this many (the newest) go into the field."""


def group_page(public_url: str, group_id: int) -> str:
    """The address of a group's dashboard page, for links in Jira."""
    return f"{public_url.rstrip('/')}/admin/groups/{group_id}"


def remote_link_id(group_url: str) -> str:
    """The remote link's global id for a group page: one link per group and issue."""
    return f"syncengine:{group_url}"[:255]


def order_versions(texts: Iterable[str]) -> tuple[str, ...]:
    """``texts`` oldest first (loose version order; what does not parse sorts first)."""

    def key(text: str) -> tuple[int, tuple[Any, ...], str]:
        try:
            return (1, parse_version(text, VersionScheme.LOOSE).key, text)
        except UnparseableVersion:
            return (0, (), text)

    return tuple(sorted(set(texts), key=key))


class Stat(StrEnum):
    """A group statistic a project can map to a Jira field (the settings' keys)."""

    OCCURRENCES = "occurrences"
    AFFECTED_USERS = "affected_users"
    LAST_SEEN = "last_seen"
    FIRST_VERSION = "first_version"
    LAST_VERSION = "last_version"
    VERSIONS_AFFECTED = "versions_affected"
    REGRESSIONS = "regressions"
    GROUP_LINK = "group_link"


@dataclass(frozen=True, kw_only=True, slots=True)
class ImpactFacts:
    """What a group's impact is now (``versions`` oldest first, as the store orders them)."""

    count: int
    affected_users: int
    last_seen: datetime
    first_version: str | None
    last_version: str | None
    versions: tuple[str, ...]
    regression_count: int
    state: str
    url: str

    def as_json(self) -> dict[str, Any]:
        """The facts as the store keeps them (what the last write was based on)."""
        return {
            "count": self.count,
            "affected_users": self.affected_users,
            "last_seen": self.last_seen.isoformat(),
            "first_version": self.first_version,
            "last_version": self.last_version,
            "versions": list(self.versions),
            "regression_count": self.regression_count,
            "state": self.state,
            "url": self.url,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImpactFacts:
        """The facts :meth:`as_json` wrote; raises KeyError/ValueError on another shape."""
        return cls(
            count=int(data["count"]),
            affected_users=int(data["affected_users"]),
            last_seen=datetime.fromisoformat(str(data["last_seen"])),
            first_version=data.get("first_version"),
            last_version=data.get("last_version"),
            versions=tuple(str(v) for v in data.get("versions") or ()),
            regression_count=int(data.get("regression_count") or 0),
            state=str(data.get("state") or ""),
            url=str(data.get("url") or ""),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class ImpactPolicy:
    """A project's impact fields and how often they may be written (from ``[impact]``).

    ``fields`` maps each statistic to a Jira field (id or name); a refresh is due when
    the count grew by ``min_change_percent`` % or ``min_change_occurrences``, or any
    other mapped value (state, users, versions, regressions) changed; never twice
    within ``interval``. ``budget_share`` is the part of the project's Jira request
    rate impact writes may use; ``overwrite_edits`` lets them replace a value a
    person changed in Jira after the last write.
    """

    fields: Mapping[Stat, str] = field(default_factory=dict)
    min_change_percent: float = 10.0
    min_change_occurrences: int = 100
    interval: timedelta = timedelta(minutes=15)
    budget_share: float = 0.2
    overwrite_edits: bool = False

    @property
    def enabled(self) -> bool:
        """True when any statistic is mapped."""
        return bool(self.fields)


@dataclass(frozen=True, kw_only=True, slots=True)
class Refresh:
    """Write the impact fields now; ``reason`` says what changed."""

    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Wait:
    """Do not write now; ``reason`` says why, ``until`` when the interval allows it again."""

    reason: str
    until: datetime | None = None


def _grew_enough(before: int, now: int, policy: ImpactPolicy) -> bool:
    grown = now - before
    if grown <= 0:
        return False
    if grown >= policy.min_change_occurrences:
        return True
    return before == 0 or grown * 100 >= policy.min_change_percent * before


def refresh_due(
    *,
    written: ImpactFacts | None,
    written_at: datetime | None,
    facts: ImpactFacts,
    policy: ImpactPolicy,
    now: datetime,
) -> Refresh | Wait:
    """Whether to write ``facts`` to a linked issue last written at ``written_at``.

    ``written`` is what that write was based on (None: never written). ``now`` is aware UTC.
    """
    if written is None or written_at is None:
        return Refresh(reason="never written")
    allowed = written_at + policy.interval
    if now < allowed:
        return Wait(reason=f"written less than {policy.interval} ago", until=allowed)
    mapped = set(policy.fields)
    if written.state != facts.state:
        return Refresh(reason=f"state {written.state} → {facts.state}")
    if _grew_enough(written.count, facts.count, policy):
        return Refresh(reason=f"occurrences {written.count} → {facts.count}")
    others = {
        Stat.AFFECTED_USERS: (written.affected_users, facts.affected_users),
        Stat.REGRESSIONS: (written.regression_count, facts.regression_count),
        Stat.FIRST_VERSION: (written.first_version, facts.first_version),
        Stat.LAST_VERSION: (written.last_version, facts.last_version),
        Stat.VERSIONS_AFFECTED: (written.versions, facts.versions),
        Stat.GROUP_LINK: (written.url, facts.url),
    }
    for stat, (before, after) in others.items():
        if stat in mapped and before != after:
            return Refresh(reason=f"{stat.value} changed")
    return Wait(reason="no meaningful change since the last write")


def stat_values(facts: ImpactFacts) -> dict[Stat, str | list[str] | None]:
    """Each statistic as the text (or items) coercion takes; None when the group has none."""
    return {
        Stat.OCCURRENCES: str(facts.count),
        Stat.AFFECTED_USERS: str(facts.affected_users),
        Stat.LAST_SEEN: facts.last_seen.isoformat(),
        Stat.FIRST_VERSION: facts.first_version,
        Stat.LAST_VERSION: facts.last_version,
        Stat.VERSIONS_AFFECTED: list(facts.versions[-MAX_VERSIONS:]) or None,
        Stat.REGRESSIONS: str(facts.regression_count),
        Stat.GROUP_LINK: facts.url or None,
    }


@dataclass(frozen=True, kw_only=True, slots=True)
class ImpactProblem:
    """A mapped statistic that cannot be written, and what to do about it."""

    stat: Stat
    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"impact.{self.stat.value} → {self.field}: {self.message} — {self.fix}"


def check_mapping(
    policy: ImpactPolicy, editmeta: Mapping[str, FieldMeta]
) -> tuple[dict[Stat, FieldMeta], tuple[ImpactProblem, ...]]:
    """The edit-screen field of each mapped statistic, and the ones not on the screen.

    ``editmeta`` is an issue's edit screen by field id. A field is found by id, else by
    name (any case). A statistic whose values cannot fit its field's type (a text
    statistic in a number field) is a problem too.
    """
    found: dict[Stat, FieldMeta] = {}
    problems: list[ImpactProblem] = []
    for stat, key in policy.fields.items():
        meta = editmeta.get(key) or next(
            (m for m in editmeta.values() if m.name.casefold() == key.strip().casefold()), None
        )
        if meta is None:
            names = ", ".join(sorted(f"{m.name} ({m.id})" for m in editmeta.values())[:40])
            problems.append(
                ImpactProblem(
                    stat=stat,
                    field=key,
                    message="is not on the issue's edit screen",
                    fix=f"add it to the edit screen in Jira, or use one of: {names or 'none'}",
                )
            )
            continue
        wrong = _type_problem(stat, meta)
        if wrong is not None:
            problems.append(ImpactProblem(stat=stat, field=key, message=wrong[0], fix=wrong[1]))
            continue
        found[stat] = meta
    return found, tuple(problems)


_NUMERIC = {Stat.OCCURRENCES, Stat.AFFECTED_USERS, Stat.REGRESSIONS}
_TEXT_TYPES = {"string", "any"}


def _type_problem(stat: Stat, meta: FieldMeta) -> tuple[str, str] | None:
    kind = meta.kind
    if stat in _NUMERIC and kind not in {"number", *_TEXT_TYPES}:
        return (f"is a {kind} field; a count needs a number field", "map it to a number field")
    if stat is Stat.LAST_SEEN and kind not in {"datetime", "date", *_TEXT_TYPES}:
        return (f"is a {kind} field; last seen needs a date-time field", "map a date-time field")
    if stat is Stat.VERSIONS_AFFECTED and kind not in {"array:string", "array:version"}:
        return (f"is a {kind} field; versions need a labels field", "map a labels field")
    if stat in {Stat.FIRST_VERSION, Stat.LAST_VERSION, Stat.GROUP_LINK} and (
        kind not in _TEXT_TYPES
    ):
        return (f"is a {kind} field; this needs a text or URL field", "map a text field")
    if meta.is_rich_text:
        return ("is a rich-text field", "map a single-line text or number field")
    return None


def impact_fields(
    facts: ImpactFacts, metas: Mapping[Stat, FieldMeta], *, cloud: bool
) -> tuple[dict[str, Any], tuple[ImpactProblem, ...]]:
    """The edit request's ``fields`` for ``facts``, and the statistics that did not fit.

    A statistic the group has no value for (no version yet) clears its field. Never raises.
    """
    values = stat_values(facts)
    out: dict[str, Any] = {}
    problems: list[ImpactProblem] = []
    for stat, meta in metas.items():
        raw = values[stat]
        if raw is None:
            out[meta.id] = [] if meta.type == "array" else None
            continue
        try:
            out[meta.id] = coerce(meta, raw, cloud=cloud)
        except CoercionError as exc:
            problems.append(ImpactProblem(stat=stat, field=meta.id, message=str(exc), fix=exc.fix))
    return out, tuple(problems)


def _same(written: Any, current: Any) -> bool:
    if isinstance(written, int | float) and isinstance(current, int | float):
        return math.isclose(written, current)
    if isinstance(written, list) and isinstance(current, list):
        return sorted(map(str, written)) == sorted(map(_label, current))
    if isinstance(written, str) and isinstance(current, str) and "T" in written:
        return written[:19] == current[:19]  # Jira may answer another offset format
    return bool(written == current or (written in (None, []) and current in (None, [], "")))


def _label(value: Any) -> str:
    return str(value.get("name") or value.get("value")) if isinstance(value, dict) else str(value)


def person_edited(
    written: Mapping[str, Any],
    current: Mapping[str, Any],
    sending: Mapping[str, Any] | None = None,
) -> frozenset[str]:
    """The field ids whose value in Jira (``current``) is no longer the one we wrote, nor
    the one of a write whose answer was lost (``sending``: it may have landed)."""
    sending = sending or {}
    return frozenset(
        fid
        for fid, value in written.items()
        if fid in current
        and not _same(value, current[fid])
        and not (fid in sending and _same(sending[fid], current[fid]))
    )


class RequestShare:
    """A token bucket: ``share`` of ``per_second`` requests, at most ``burst`` saved up
    (and that much at the start).

    The refresh scheduler asks it before each Jira call, so impact writes never use
    more than their share of the project's request rate (creates and state sync have
    the rest). ``now`` is passed in, so simulated time works.
    """

    def __init__(self, *, per_second: float, share: float, burst: float, now: datetime) -> None:
        self.rate = per_second * share
        self.burst = max(1.0, burst)
        self.tokens = self.burst
        self._at = now

    def refill(self, now: datetime) -> float:
        """Add what accrued since the last call; returns the whole calls available."""
        elapsed = max(0.0, (now - self._at).total_seconds())
        self._at = now
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        return math.floor(self.tokens)

    def take(self, calls: int = 1) -> bool:
        """Spend ``calls`` if that many are available."""
        if self.tokens < calls:
            return False
        self.tokens -= calls
        return True


def backlink_comment(facts: ImpactFacts, *, title: str, project: str, group_id: int) -> Document:
    """The comment on an issue a group was linked to: which group, its counts, its page.

    A rich-text document: the caller renders it as wiki markup (v2) or ADF (v3); the
    group page's address is in it as a link (a retry finds the comment by it).
    """
    versions = ""
    if facts.first_version or facts.last_version:
        versions = f", versions {facts.first_version or '?'} to {facts.last_version or '?'}"
    users = f", {facts.affected_users} affected users" if facts.affected_users else ""
    counts = (
        f"{facts.count} occurrences{users}{versions}; "
        f"last seen {facts.last_seen.strftime('%Y-%m-%d %H:%M UTC')}; "
        f"{facts.regression_count} regressions."
    )
    return Document(
        blocks=(
            Paragraph(
                content=(
                    Span(text=f"Linked to crash group #{group_id} in {project}: "),
                    Span(text=title, strong=True),
                )
            ),
            Paragraph(content=(Span(text=counts),)),
            Paragraph(content=(Span(text="Crash group: "), Span(text=facts.url, href=facts.url))),
        )
    )
