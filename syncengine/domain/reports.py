"""The crash report every wire format is turned into."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["CrashReport", "Frame"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Frame:
    """One stack frame, innermost first in :attr:`CrashReport.frames`."""

    function: str = ""
    module: str = ""
    filename: str = ""
    line: int | None = None
    in_app: bool | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class CrashReport:
    """One crash report, whatever format it arrived in.

    ``frames`` run innermost (faulting) frame first. ``attributes`` hold strings
    only: the wire parsers turn numbers and booleans into strings and reject
    objects. ``fingerprint`` is the client's own, when it sent one; otherwise the
    ingest path derives one (``syncengine.domain.fingerprint``).
    """

    project: str
    timestamp: datetime
    fingerprint: str | None = None
    classifier: str = ""
    message: str = ""
    frames: tuple[Frame, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    version: str | None = None
    raw: dict[str, Any] | None = None
