"""Recorded Jira webhook bodies, re-stamped to a given time and otherwise byte for byte.

The receiver refuses deliveries signed long ago (replays), and the recordings are
from 2019: a test delivering one "now" changes only the digits of its timestamp.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.paths import WEBHOOK_PAYLOADS

_STAMP = re.compile(rb'("timestamp"\s*:\s*)\d+')


def restamped(body: bytes, when: datetime | None = None) -> bytes:
    """``body`` with its top-level ``timestamp`` set to ``when`` (default: now)."""
    moment = when or datetime.now(UTC)
    millis = str(int(moment.timestamp() * 1000)).encode()
    changed, count = _STAMP.subn(lambda m: m.group(1) + millis, body, count=1)
    assert count == 1, "the body has no timestamp to re-stamp"
    return changed


def recorded(name: str, when: datetime | None = None) -> bytes:
    """The recorded payload ``name``, re-stamped to ``when`` (default: now)."""
    return restamped((WEBHOOK_PAYLOADS / name).read_bytes(), when)
