"""The last step of every parser: a checked, fingerprinted :class:`CrashReport`.

Every report with a version also gets it as the canonical ``version`` attribute
(:data:`VERSION`), whatever the client called it (Sentry's ``release``,
Backtrace's ``application.version``), so ``$version``, ticket rules and
regressions all read the one value, counted like any attribute.

Also the values a parser returns: the good reports of a request with their index,
and the problems of the bad ones.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from syncengine.domain.fingerprint import fingerprint_of
from syncengine.domain.reports import CrashReport, Frame
from syncengine.ingest.limits import (
    CLASSIFIER_LIMIT,
    VERSION_LIMIT,
    ReportContext,
    Truncations,
)
from syncengine.ingest.problems import FieldError, ItemProblem, ReportInvalid

__all__ = [
    "MAX_FRAMES",
    "VERSION",
    "Parsed",
    "ParsedReport",
    "assemble",
    "check_report_size",
    "pick_version",
    "unreadable",
]

log = logging.getLogger(__name__)

VERSION = "version"  # the canonical attribute every report's version is counted under

MAX_FRAMES = 256  # innermost frames kept; grouping reads only the top few


@dataclass(frozen=True, kw_only=True, slots=True)
class ParsedReport:
    """One good report of a request: its index, the report, and how many cuts it took."""

    index: int
    report: CrashReport
    truncated: int = 0
    event_id: str | None = None


@dataclass(kw_only=True)
class Parsed:
    """Everything a request held: the good reports and the bad items, by index."""

    reports: list[ParsedReport] = field(default_factory=list)
    problems: list[ItemProblem] = field(default_factory=list)

    def add(self, index: int, outcome: ParsedReport | ReportInvalid) -> None:
        """Record item ``index`` as a good report or a problem."""
        if isinstance(outcome, ReportInvalid):
            self.problems.append(outcome.at(index))
        else:
            self.reports.append(
                outcome if outcome.index == index else replace(outcome, index=index)
            )

    @property
    def truncated(self) -> int:
        """Names and values cut across all good reports."""
        return sum(r.truncated for r in self.reports)


def unreadable(index: int, exc: Exception) -> ReportInvalid:
    """An unexpected error while reading item ``index``, as that item's problem alone.

    Whatever one report holds fails that report, never its request or the reports
    sent with it; the error is logged with its traceback, as a defect to fix.
    """
    if isinstance(exc, RecursionError):
        return ReportInvalid.one(
            "", "objects and arrays nest too deeply: flatten the report", kind="nested-too-deeply"
        )
    log.error("item %d of a submission could not be read", index, exc_info=exc)
    return ReportInvalid.one(
        "",
        "the report could not be read (the server logged why): check it against the format",
        kind="unreadable-report",
    )


def check_report_size(item: Any, ctx: ReportContext, size: int | None = None) -> None:
    """Raise :class:`ReportInvalid` (413) when one report is over ``max_report_bytes``.

    ``size`` is the report's size on the wire when known; else the compact JSON is measured.
    """
    limit = ctx.limits.max_report_bytes
    if size is None:
        size = len(json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode())
    if size > limit:
        problem = (
            f"the report is {size} bytes; at most {limit} are accepted per report "
            "(ingest.max_report_bytes): drop large attributes or source code"
        )
        raise ReportInvalid(
            [FieldError(field="", problem=problem)], kind="report-too-large", status=413
        )


def pick_version(
    explicit: str | None, attributes: dict[str, str], ctx: ReportContext
) -> str | None:
    """The report's version, through the project's extractor.

    The project's ``version_attribute`` when it names one of its own, else the
    client's version field (``explicit``: the native ``version``, Sentry's
    ``release``), else the ``version`` attribute, else Backtrace's
    ``application.version``. With a ``version_pattern``, its group's match is the
    version; a text it does not match is kept whole (the regression check then
    says it cannot order it), never dropped.
    """
    configured = ctx.version_attribute
    candidates = (
        attributes.get(configured) if configured != VERSION else None,
        explicit,
        attributes.get(VERSION),
        attributes.get("application.version"),
    )
    found = next((c.strip() for c in candidates if c is not None and c.strip()), None)
    if found is None or ctx.version_pattern is None:
        return found
    match = re.search(ctx.version_pattern, found)
    extracted = match.group(1) if match is not None and match.re.groups else None
    return extracted.strip() if extracted and extracted.strip() else found


def assemble(
    ctx: ReportContext,
    cuts: Truncations,
    *,
    timestamp: datetime,
    classifier: str = "",
    message: str = "",
    frames: Sequence[Frame] = (),
    attributes: dict[str, str] | None = None,
    version: str | None = None,
    fingerprint: Sequence[str] | None = None,
    raw: dict[str, Any] | None = None,
) -> CrashReport:
    """A fingerprinted report of ``ctx.project``, cut to the store's column sizes."""
    if len(frames) > MAX_FRAMES:
        cuts.count += 1
        frames = frames[:MAX_FRAMES]
    attributes = attributes or {}
    if version is not None:
        version = cuts.cut(version, VERSION_LIMIT)
        attributes[VERSION] = version
    classifier = cuts.cut(classifier.strip(), CLASSIFIER_LIMIT)
    frames = tuple(frames)
    entries = [e for e in fingerprint or () if e]
    return CrashReport(
        project=ctx.project,
        timestamp=timestamp,
        fingerprint=fingerprint_of(
            entries or None, classifier=classifier, frames=frames, message=message
        ),
        classifier=classifier,
        message=message,
        frames=frames,
        attributes=attributes,
        version=version,
        raw=raw,
    )
