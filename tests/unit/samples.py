"""Sample groups and the recorded Jira createmeta responses the template tests share."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syncengine.domain.groups import AttributeValue, GroupSnapshot, GroupState
from syncengine.domain.reports import Frame

# Copies of the recorded responses in shared/jira/fixtures (tests/fixtures/jira/README.md).
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "jira"
MATTERMOST = FIXTURES / "mattermost-plugin-jira" / "createmeta"
JIRA_CLI = FIXTURES / "jira-cli"
PAGINATED_EXAMPLE = FIXTURES / "openapi" / "createmeta-issuetype-fields-example.json"

T0 = datetime(2026, 11, 20, 8, 30, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 23, 11, 29, 24, tzinfo=UTC)


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def value(text: str, count: int, seen: datetime = T1) -> AttributeValue:
    return AttributeValue(value=text, count=count, last_seen=seen)


def group(**changes: Any) -> GroupSnapshot:
    """A realistic group; keyword arguments replace its fields."""
    fields: dict[str, Any] = {
        "id": 42,
        "project": "demo",
        "fingerprint": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "state": GroupState.OPEN,
        "count": 20,
        "first_seen": T0,
        "last_seen": T1,
        "classifier": "SIGSEGV",
        "message": "invalid read of size 8 at 0x0000000000000010",
        "first_version": "2.3.0",
        "last_version": "2.4.1",
        "attributes": {
            "version": (value("2.4.1", 12), value("2.3.0", 8, T0)),
            "hostname": (value("build-07", 15), value("build-12", 5)),
            "os": (value("Linux", 20),),
        },
        "frames": (
            Frame(function="memcpy", module="libc.so.6"),
            Frame(function="Buffer::append", filename="src/buffer.cc", line=88, in_app=True),
            Frame(function="main", filename="src/main.cc", line=12, in_app=True),
        ),
        "url": "https://crash.example.com/projects/demo/groups/42",
    }
    fields.update(changes)
    return GroupSnapshot(**fields)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)
